//! Per-call round trips and throughput: every cell measured once per round, the rounds
//! interleaving all pairs; medians over rounds.

use std::collections::HashMap;

use super::{Bench, Cell, THROUGHPUT_PAIRS, describe, latency_pairs, on_off, progress};
use crate::results::{LatencyRow, Pair, ThroughputRow};
use crate::stats;

impl Bench {
    /// Every latency cell: pairs x AutoMTLS x sizes, one caller.
    pub(super) fn latency(&self) -> Vec<LatencyRow> {
        let pairs = latency_pairs();
        let mut cells: HashMap<(Pair, bool, usize), Cell> = HashMap::new();
        for round in 1..=self.plan.rounds {
            for size in &self.plan.sizes {
                for automtls in [false, true] {
                    for &pair in &pairs {
                        let cell = cells.entry((pair, automtls, size.bytes)).or_default();
                        if self.skip(pair).is_some() || cell.error.is_some() {
                            continue;
                        }
                        let result =
                            self.calls(pair, automtls, size.bytes, 1, size.calls, size.warmup);
                        progress(&format!(
                            "latency round {round}/{}: {} AutoMTLS {} {}: {}",
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
            for &pair in &pairs {
                for size in &self.plan.sizes {
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
