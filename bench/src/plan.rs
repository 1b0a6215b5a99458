//! How much to measure: the full plan (under 5 minutes on 2 cores, after builds) and the tiny
//! one the test suite runs (seconds, numbers meaningless, output well-formed).

/// One payload size of the latency measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SizePlan {
    /// Payload bytes.
    pub bytes: usize,
    /// Timed calls per round.
    pub calls: usize,
    /// Untimed calls first.
    pub warmup: usize,
    /// Timed round trips of the unix-socket floor at this size.
    pub floor_calls: usize,
}

/// The stream throughput: items of one size streamed each way, per measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPlan {
    /// Bytes of each item.
    pub size: usize,
    /// Timed items per measurement (and per measurement of the copy floor).
    pub items: usize,
    /// Untimed items first, in a stream of their own.
    pub warmup: usize,
}

/// The pairing under one go-plugin host (`go-bench-pair-host`): our plugin and go-plugin's,
/// alternately, in every one of the plan's rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoHostPlan {
    /// Start-ups per plugin, AutoMTLS setting and round.
    pub startups: usize,
    /// Timed `Get`s per plugin, AutoMTLS setting and round (one fresh plugin each).
    pub calls: usize,
    /// Untimed `Get`s first.
    pub warmup: usize,
    /// `Get`s in all (warm-up and timed ones included) before the plugin's memory is read.
    pub memory_calls: usize,
    /// Bytes of each `Get` reply.
    pub size: usize,
}

/// Everything a run measures, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The tiny plan (a smoke test, not a measurement).
    pub tiny: bool,
    /// Rounds: every latency and throughput cell is measured once per round, the rounds
    /// interleaving all implementations so that a noisy moment on a shared machine hits all of
    /// them alike. Reported numbers are medians over rounds.
    pub rounds: usize,
    /// Payload sizes of the per-call latency measurements.
    pub sizes: Vec<SizePlan>,
    /// The callback round trips (host → plugin → host → plugin → host): payload, timed calls
    /// per round, warm-up. `floor_calls` is unused: the chart and report compare with the
    /// unix-socket floor measured for `sizes`.
    pub callback: SizePlan,
    /// The stream throughput, each way, and its copy floor (measured once per round too).
    pub stream: StreamPlan,
    /// Spawns of `/bin/true` for the spawn floor.
    pub spawn_runs: usize,
    /// Concurrent callers of the throughput measurements.
    pub concurrency: Vec<usize>,
    /// Payload of the throughput measurements.
    pub throughput_size: usize,
    /// Calls per throughput cell and round.
    pub throughput_calls: usize,
    /// Untimed calls first.
    pub throughput_warmup: usize,
    /// Start-ups per configuration and round (the median is over `rounds` times this).
    pub startup_runs: usize,
    /// Calls before the plugin's resident memory is read.
    pub memory_calls: usize,
    /// Payload of those calls.
    pub memory_size: usize,
    /// Under one go-plugin host, our plugin against go-plugin's.
    pub go_host: GoHostPlan,
}

/// 64 B.
pub const SMALL: usize = 64;
/// 64 KiB.
pub const MEDIUM: usize = 64 * 1024;
/// 1 MiB.
pub const LARGE: usize = 1024 * 1024;

impl Plan {
    /// The full measurement.
    pub fn full() -> Plan {
        Plan {
            tiny: false,
            rounds: 3,
            sizes: vec![
                SizePlan {
                    bytes: SMALL,
                    calls: 3000,
                    warmup: 300,
                    floor_calls: 20_000,
                },
                SizePlan {
                    bytes: MEDIUM,
                    calls: 1000,
                    warmup: 100,
                    floor_calls: 5000,
                },
                SizePlan {
                    bytes: LARGE,
                    calls: 150,
                    warmup: 15,
                    floor_calls: 500,
                },
            ],
            callback: SizePlan {
                bytes: SMALL,
                calls: 3000,
                warmup: 300,
                floor_calls: 0,
            },
            // 64 MiB per measurement.
            stream: StreamPlan {
                size: MEDIUM,
                items: 1024,
                warmup: 64,
            },
            spawn_runs: 200,
            concurrency: vec![1, 16, 64],
            throughput_size: SMALL,
            throughput_calls: 10_000,
            throughput_warmup: 300,
            startup_runs: 7,
            memory_calls: 10_000,
            memory_size: SMALL,
            go_host: GoHostPlan {
                startups: 7,
                calls: 3000,
                warmup: 300,
                memory_calls: 10_000,
                size: SMALL,
            },
        }
    }

    /// The smoke test: every code path, a handful of calls each.
    pub fn tiny() -> Plan {
        Plan {
            tiny: true,
            rounds: 1,
            sizes: vec![
                SizePlan {
                    bytes: SMALL,
                    calls: 20,
                    warmup: 2,
                    floor_calls: 50,
                },
                SizePlan {
                    bytes: MEDIUM,
                    calls: 10,
                    warmup: 1,
                    floor_calls: 20,
                },
                SizePlan {
                    bytes: LARGE,
                    calls: 4,
                    warmup: 1,
                    floor_calls: 4,
                },
            ],
            callback: SizePlan {
                bytes: SMALL,
                calls: 20,
                warmup: 2,
                floor_calls: 0,
            },
            stream: StreamPlan {
                size: MEDIUM,
                items: 16,
                warmup: 2,
            },
            spawn_runs: 5,
            concurrency: vec![1, 16, 64],
            throughput_size: SMALL,
            throughput_calls: 128,
            throughput_warmup: 2,
            startup_runs: 3,
            memory_calls: 100,
            memory_size: SMALL,
            go_host: GoHostPlan {
                startups: 2,
                calls: 20,
                warmup: 2,
                memory_calls: 100,
                size: SMALL,
            },
        }
    }

    /// Start-ups per configuration over the whole run.
    pub fn startup_total(&self) -> usize {
        self.rounds * self.startup_runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_plan_meets_the_brief() {
        let full = Plan::full();
        assert!(
            full.startup_total() >= 20,
            "start-up: median of at least 20"
        );
        assert_eq!(full.memory_calls, 10_000);
        assert!(
            full.rounds * full.go_host.startups >= 20,
            "start-up under a go-plugin host: median of at least 20"
        );
        assert_eq!(full.go_host.memory_calls, full.memory_calls);
        assert_eq!(full.go_host.size, SMALL);
        assert_eq!(full.concurrency, [1, 16, 64]);
        let sizes: Vec<usize> = full.sizes.iter().map(|s| s.bytes).collect();
        assert_eq!(sizes, [64, 64 * 1024, 1024 * 1024]);
        assert_eq!(
            full.stream.size * full.stream.items,
            64 << 20,
            "64 MiB per stream"
        );
    }
}
