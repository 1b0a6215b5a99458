//! Per-call round trips, callback round trips, throughput and stream throughput: every cell
//! measured once per round, the rounds interleaving all pairs; medians over rounds.

use std::collections::HashMap;
use std::hash::Hash;

use super::{
    Bench, CALLBACK_PAIRS, Cell, STREAM_PAIRS, THROUGHPUT_PAIRS, Workload, describe, latency_pairs,
    median_mib_per_s, on_off, progress,
};
use crate::plan::SizePlan;
use crate::results::{Direction, LatencyRow, Pair, RowStatus, StreamRow, ThroughputRow};
use crate::stats::{self, Summary};

/// The cells of one comparison, measured: keyed by pair, AutoMTLS and `K` (a size, a number of
/// callers, a direction).
struct Cells<K>(HashMap<(Pair, bool, K), Cell>);

impl<K: Copy + Eq + Hash> Cells<K> {
    /// The status and rounds of one cell (taken out).
    fn take(
        &mut self,
        bench: &Bench,
        pair: Pair,
        automtls: bool,
        key: K,
    ) -> (RowStatus, Vec<Summary>) {
        let cell = self.0.remove(&(pair, automtls, key)).unwrap_or_default();
        (bench.status(pair, &cell), cell.rounds)
    }
}

impl Bench {
    /// Measures every cell of `pairs` x AutoMTLS x `keys` once per round with `measure`, the
    /// rounds interleaving them all; a cell that failed is not measured again. Progress lines
    /// read `{what} round r/R: {pair} AutoMTLS {on|off} {label(key)}: {summary(result)}`.
    fn measure_rounds<K: Copy + Eq + Hash>(
        &self,
        what: &str,
        pairs: &[Pair],
        keys: &[K],
        label: impl Fn(K) -> String,
        summary: impl Fn(&Summary) -> String,
        measure: impl Fn(Pair, bool, K) -> Result<Summary, String>,
    ) -> Cells<K> {
        let mut cells: HashMap<(Pair, bool, K), Cell> = HashMap::new();
        for round in 1..=self.plan.rounds {
            for &key in keys {
                for automtls in [false, true] {
                    for &pair in pairs {
                        let cell = cells.entry((pair, automtls, key)).or_default();
                        if self.skip(pair).is_some() || cell.error.is_some() {
                            continue;
                        }
                        let result = measure(pair, automtls, key);
                        progress(&format!(
                            "{what} round {round}/{}: {} AutoMTLS {} {}: {}",
                            self.plan.rounds,
                            pair.label(),
                            on_off(automtls),
                            label(key),
                            describe(&result, &summary)
                        ));
                        cell.record(result);
                    }
                }
            }
        }
        Cells(cells)
    }

    /// Every latency cell: pairs x AutoMTLS x sizes, one caller.
    pub(super) fn latency(&self) -> Vec<LatencyRow> {
        self.round_trips(Workload::Get, &latency_pairs(), &self.plan.sizes)
    }

    /// Every callback cell: pairs x AutoMTLS, one caller, the plan's callback payload.
    pub(super) fn callback(&self) -> Vec<LatencyRow> {
        self.round_trips(Workload::Callback, &CALLBACK_PAIRS, &[self.plan.callback])
    }

    /// Round trips of `workload`, one caller: pairs x AutoMTLS x sizes.
    fn round_trips(
        &self,
        workload: Workload,
        pairs: &[Pair],
        sizes: &[SizePlan],
    ) -> Vec<LatencyRow> {
        let mut cells = self.measure_rounds(
            workload.name(),
            pairs,
            sizes,
            |size| crate::units::size_label(size.bytes),
            |s| {
                format!(
                    "p50 {} p99 {}",
                    crate::units::duration(s.p50_ns),
                    crate::units::duration(s.p99_ns)
                )
            },
            |pair, automtls, size| {
                self.calls(
                    workload,
                    pair,
                    automtls,
                    size.bytes,
                    1,
                    size.calls,
                    size.warmup,
                )
            },
        );
        let mut rows = Vec::new();
        for automtls in [false, true] {
            for &pair in pairs {
                for &size in sizes {
                    let (status, rounds) = cells.take(self, pair, automtls, size);
                    let ok = status.is_ok();
                    rows.push(LatencyRow {
                        pair,
                        automtls,
                        size: size.bytes,
                        p50_ns: ok.then(|| stats::median_of(&rounds, |s| s.p50_ns as f64) as u64),
                        p99_ns: ok.then(|| stats::median_of(&rounds, |s| s.p99_ns as f64) as u64),
                        status,
                        rounds,
                    });
                }
            }
        }
        rows
    }

    /// Every throughput cell: pairs x AutoMTLS x concurrent callers.
    pub(super) fn throughput(&self) -> Vec<ThroughputRow> {
        let plan = &self.plan;
        let mut cells = self.measure_rounds(
            "throughput",
            &THROUGHPUT_PAIRS,
            &plan.concurrency,
            |concurrency| format!("x{concurrency}"),
            |s| crate::units::rate(s.calls_per_sec),
            |pair, automtls, concurrency| {
                self.calls(
                    Workload::Get,
                    pair,
                    automtls,
                    plan.throughput_size,
                    concurrency,
                    plan.throughput_calls,
                    plan.throughput_warmup,
                )
            },
        );
        let mut rows = Vec::new();
        for automtls in [false, true] {
            for pair in THROUGHPUT_PAIRS {
                for &concurrency in &plan.concurrency {
                    let (status, rounds) = cells.take(self, pair, automtls, concurrency);
                    rows.push(ThroughputRow {
                        pair,
                        automtls,
                        size: plan.throughput_size,
                        concurrency,
                        calls_per_sec: status
                            .is_ok()
                            .then(|| stats::median_of(&rounds, |s| s.calls_per_sec)),
                        status,
                        rounds,
                    });
                }
            }
        }
        rows
    }

    /// Every stream-throughput cell: pairs x AutoMTLS x directions.
    pub(super) fn stream(&self) -> Vec<StreamRow> {
        let plan = self.plan.stream;
        let mut cells = self.measure_rounds(
            "stream",
            &STREAM_PAIRS,
            &Direction::ALL,
            |direction| direction.name().to_string(),
            |s| crate::units::mib_per_s(crate::results::mib_per_s(s.calls_per_sec, plan.size)),
            |pair, automtls, direction| self.transfer(pair, automtls, direction),
        );
        let mut rows = Vec::new();
        for automtls in [false, true] {
            for pair in STREAM_PAIRS {
                for direction in Direction::ALL {
                    let (status, rounds) = cells.take(self, pair, automtls, direction);
                    rows.push(StreamRow {
                        pair,
                        automtls,
                        direction,
                        size: plan.size,
                        items: plan.items,
                        mib_per_s: status.is_ok().then(|| median_mib_per_s(&rounds, plan.size)),
                        status,
                        rounds,
                    });
                }
            }
        }
        rows
    }
}
