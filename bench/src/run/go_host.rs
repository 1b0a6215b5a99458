//! Under one go-plugin host: our plugin and go-plugin's, timed alternately by
//! `go-bench-pair-host` (start-up, `Get` round trips, resident memory).

use super::{Bench, median_ns, on_off, progress};
use crate::go::PairCell;
use crate::interface::{SEED_ENV, STARTUP_KEY, STARTUP_VALUE};
use crate::results::{GoHostRow, Pair, RowStatus, Side};
use crate::stats;

/// The plugins of the pairing, in report order.
pub const GO_HOST_PLUGINS: [Side; 2] = [Side::Rust, Side::Go];

impl Bench {
    /// Both plugins x AutoMTLS, from one run of the Go host.
    pub(super) fn go_host(&self) -> Vec<GoHostRow> {
        let plan = self.plan.go_host;
        let cells: Result<Vec<PairCell>, RowStatus> = match self.skip(Pair::GO) {
            Some(why) => Err(why),
            None => {
                progress(&format!(
                    "under a go-plugin host: bench-kv-plugin and go-kv-plugin alternately, {} round(s)",
                    self.plan.rounds
                ));
                let rust = self
                    .rust_kv_plugin
                    .clone()
                    .env(SEED_ENV, &format!("{STARTUP_KEY}={STARTUP_VALUE}"));
                self.go()
                    .and_then(|go| go.pair_host(&rust, plan, self.plan.rounds))
                    .map_err(RowStatus::Failed)
            }
        };
        let mut rows = Vec::new();
        for automtls in [false, true] {
            for plugin in GO_HOST_PLUGINS {
                let cell = match &cells {
                    Err(status) => Err(status.clone()),
                    Ok(cells) => cells
                        .iter()
                        .find(|c| c.plugin == plugin && c.automtls == automtls)
                        .ok_or_else(|| {
                            RowStatus::Failed(format!(
                                "go-bench-pair-host reported nothing for the {} plugin, AutoMTLS {}",
                                plugin.name(),
                                on_off(automtls)
                            ))
                        }),
                };
                let row = row(plugin, automtls, plan.size, plan.memory_calls, cell);
                if cells.is_ok() {
                    progress(&format!(
                        "under a go-plugin host: {} plugin AutoMTLS {}: {}",
                        plugin.name(),
                        on_off(automtls),
                        match (&row.status, row.startup_p50_ns, row.p50_ns, row.vm_rss_kb) {
                            (RowStatus::Ok, Some(s), Some(p), Some(m)) => format!(
                                "start-up {}, p50 {}, VmRSS {m} KiB",
                                crate::units::duration(s),
                                crate::units::duration(p)
                            ),
                            (status, ..) => status.to_string(),
                        }
                    ));
                }
                rows.push(row);
            }
        }
        rows
    }
}

/// The row of one cell (or of why there is none).
fn row(
    plugin: Side,
    automtls: bool,
    size: usize,
    memory_calls: usize,
    cell: Result<&PairCell, RowStatus>,
) -> GoHostRow {
    let mut row = GoHostRow {
        pair: Pair::protobuf(Side::Go, plugin),
        automtls,
        status: RowStatus::Ok,
        size,
        startup_p50_ns: None,
        startup_min_ns: None,
        startup_all_ns: Vec::new(),
        p50_ns: None,
        p99_ns: None,
        rounds: Vec::new(),
        memory_calls,
        vm_rss_kb: None,
        vm_hwm_kb: None,
        memory_rounds: Vec::new(),
    };
    let cell = match cell {
        Ok(cell) => cell,
        Err(status) => {
            row.status = status;
            return row;
        }
    };
    row.startup_all_ns = cell.startup_ns.clone();
    row.rounds = cell.calls.clone();
    row.memory_rounds = cell.memory.clone();
    row.status = match &cell.error {
        Some(e) => RowStatus::Failed(e.clone()),
        None if cell.startup_ns.is_empty() || cell.calls.is_empty() || cell.memory.is_empty() => {
            RowStatus::Failed("go-bench-pair-host measured nothing".into())
        }
        None => RowStatus::Ok,
    };
    if row.status.is_ok() {
        let all = &cell.startup_ns;
        row.startup_p50_ns = Some(median_ns(all));
        row.startup_min_ns = all.iter().copied().min();
        row.p50_ns = Some(stats::median_of(&cell.calls, |s| s.p50_ns as f64) as u64);
        row.p99_ns = Some(stats::median_of(&cell.calls, |s| s.p99_ns as f64) as u64);
        let kb = |f: fn(&crate::rust::Resident) -> u64| {
            stats::median(&cell.memory.iter().map(|m| f(m) as f64).collect::<Vec<_>>()) as u64
        };
        row.vm_rss_kb = Some(kb(|m| m.vm_rss_kb));
        row.vm_hwm_kb = Some(kb(|m| m.vm_hwm_kb));
    }
    row
}
