//! Start-up: spawn to first successful call, batches interleaved over rounds.

use std::collections::HashMap;

use super::{Bench, Cell, STARTUP_PAIRS, describe, median_ns, on_off, progress};
use crate::results::{Pair, Side, StartupRow};
use crate::rust::{self, StartupRun};

impl Bench {
    /// One batch of start-ups of `pair`: every total, and the phases when the host is Rust.
    pub(super) fn startup_batch(
        &self,
        pair: Pair,
        automtls: bool,
    ) -> Result<(Vec<u64>, Vec<StartupRun>), String> {
        let plugin = self.startup_plugin(pair)?;
        let runs = self.plan.startup_runs;
        match pair.host {
            Side::Rust => {
                let all = self.rt.block_on(rust::startup(&plugin, automtls, runs))?;
                Ok((all.iter().map(|r| r.total_ns).collect(), all))
            }
            Side::Go => Ok((self.go()?.startup(&plugin, automtls, runs)?, Vec::new())),
        }
    }

    /// Every start-up configuration: pairs x AutoMTLS, in batches interleaved over rounds.
    pub(super) fn startup(&self) -> Vec<StartupRow> {
        let plan = &self.plan;
        type Runs = (Vec<u64>, Vec<StartupRun>, Option<String>);
        let mut cells: HashMap<(Pair, bool), Runs> = HashMap::new();
        if let Ok(plugin) = self.startup_plugin(Pair::GO) {
            // The Rust host reads the value from go-kv-plugin's file store: store it once.
            if let Err(e) = self.rt.block_on(rust::store_startup_value(&plugin, false)) {
                for automtls in [false, true] {
                    let cell = (Vec::new(), Vec::new(), Some(e.clone()));
                    cells.insert((Pair::protobuf(Side::Rust, Side::Go), automtls), cell);
                }
            }
        }
        for round in 1..=plan.rounds {
            for automtls in [false, true] {
                for pair in STARTUP_PAIRS {
                    let (totals, phases, error) = cells.entry((pair, automtls)).or_default();
                    if self.skip(pair).is_some() || error.is_some() {
                        continue;
                    }
                    let result = self.startup_batch(pair, automtls);
                    progress(&format!(
                        "start-up round {round}/{}: {} AutoMTLS {}: {}",
                        plan.rounds,
                        pair.label(),
                        on_off(automtls),
                        describe(&result, |(v, _)| format!(
                            "median {}",
                            crate::units::duration(median_ns(v))
                        ))
                    ));
                    match result {
                        Ok((t, p)) => {
                            totals.extend(t);
                            phases.extend(p);
                        }
                        Err(e) => *error = Some(e),
                    }
                }
            }
        }
        let mut rows = Vec::new();
        for automtls in [false, true] {
            for pair in STARTUP_PAIRS {
                let (all, phases, error) = cells.remove(&(pair, automtls)).unwrap_or_default();
                let cell = Cell {
                    rounds: Vec::new(),
                    error,
                };
                let status = self.status(pair, &cell);
                let ok = status.is_ok() && !all.is_empty();
                rows.push(StartupRow {
                    pair,
                    automtls,
                    p50_ns: ok.then(|| median_ns(&all)),
                    min_ns: ok.then(|| all.iter().copied().min().unwrap_or(0)),
                    phases: (ok && !phases.is_empty()).then(|| median_phases(&phases)),
                    status,
                    all_ns: all,
                });
            }
        }
        rows
    }
}

/// The median of each start-up phase.
fn median_phases(runs: &[StartupRun]) -> StartupRun {
    let m = |f: fn(&StartupRun) -> u64| median_ns(&runs.iter().map(f).collect::<Vec<_>>());
    StartupRun {
        total_ns: m(|r| r.total_ns),
        start_ns: m(|r| r.start_ns),
        dispense_ns: m(|r| r.dispense_ns),
        first_call_ns: m(|r| r.first_call_ns),
    }
}
