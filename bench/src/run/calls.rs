//! Per-call round trips, callback round trips and throughput: every cell measured once per
//! round, the rounds interleaving all pairs; medians over rounds.

use std::collections::HashMap;

use super::{
    Bench, CALLBACK_PAIRS, Cell, THROUGHPUT_PAIRS, Workload, describe, latency_pairs, on_off,
    progress,
};
use crate::plan::SizePlan;
use crate::results::{LatencyRow, Pair, ThroughputRow};
use crate::stats;

impl Bench {
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
        let mut cells: HashMap<(Pair, bool, usize), Cell> = HashMap::new();
        for round in 1..=self.plan.rounds {
            for size in sizes {
                for automtls in [false, true] {
                    for &pair in pairs {
                        let cell = cells.entry((pair, automtls, size.bytes)).or_default();
                        if self.skip(pair).is_some() || cell.error.is_some() {
                            continue;
                        }
                        let result = self.calls(
                            workload,
                            pair,
                            automtls,
                            size.bytes,
                            1,
                            size.calls,
                            size.warmup,
                        );
                        progress(&format!(
                            "{} round {round}/{}: {} AutoMTLS {} {}: {}",
                            workload.name(),
                            self.plan.rounds,
                            pair.label(),
                            on_off(automtls),
                            crate::units::size_label(size.bytes),
                            describe(&result, |s| format!(
                                "p50 {} p99 {}",
                                crate::units::duration(s.p50_ns),
                                crate::units::duration(s.p99_ns)
                            ))
                        ));
                        cell.record(result);
                    }
                }
            }
        }
        let mut rows = Vec::new();
        for automtls in [false, true] {
            for &pair in pairs {
                for size in sizes {
                    let cell = cells
                        .remove(&(pair, automtls, size.bytes))
                        .unwrap_or_default();
                    let status = self.status(pair, &cell);
                    let ok = status.is_ok();
                    rows.push(LatencyRow {
                        pair,
                        automtls,
                        size: size.bytes,
                        p50_ns: ok
                            .then(|| stats::median_of(&cell.rounds, |s| s.p50_ns as f64) as u64),
                        p99_ns: ok
                            .then(|| stats::median_of(&cell.rounds, |s| s.p99_ns as f64) as u64),
                        status,
                        rounds: cell.rounds,
                    });
                }
            }
        }
        rows
    }

    /// Every throughput cell: pairs x AutoMTLS x concurrent callers.
    pub(super) fn throughput(&self) -> Vec<ThroughputRow> {
        let plan = &self.plan;
        let mut cells: HashMap<(Pair, bool, usize), Cell> = HashMap::new();
        for round in 1..=plan.rounds {
            for &concurrency in &plan.concurrency {
                for automtls in [false, true] {
                    for pair in THROUGHPUT_PAIRS {
                        let cell = cells.entry((pair, automtls, concurrency)).or_default();
                        if self.skip(pair).is_some() || cell.error.is_some() {
                            continue;
                        }
                        let result = self.calls(
                            Workload::Get,
                            pair,
                            automtls,
                            plan.throughput_size,
                            concurrency,
                            plan.throughput_calls,
                            plan.throughput_warmup,
                        );
                        progress(&format!(
                            "throughput round {round}/{}: {} AutoMTLS {} x{concurrency}: {}",
                            plan.rounds,
                            pair.label(),
                            on_off(automtls),
                            describe(&result, |s| crate::units::rate(s.calls_per_sec))
                        ));
                        cell.record(result);
                    }
                }
            }
        }
        let mut rows = Vec::new();
        for automtls in [false, true] {
            for pair in THROUGHPUT_PAIRS {
                for &concurrency in &plan.concurrency {
                    let cell = cells
                        .remove(&(pair, automtls, concurrency))
                        .unwrap_or_default();
                    let status = self.status(pair, &cell);
                    rows.push(ThroughputRow {
                        pair,
                        automtls,
                        size: plan.throughput_size,
                        concurrency,
                        calls_per_sec: status
                            .is_ok()
                            .then(|| stats::median_of(&cell.rounds, |s| s.calls_per_sec)),
                        status,
                        rounds: cell.rounds,
                    });
                }
            }
        }
        rows
    }
}
