//! The plugin's resident memory after many calls, both plugins behind the Rust host.

use super::{Bench, MEMORY_PAIRS, describe, progress};
use crate::results::{MemoryRow, RowStatus};
use crate::rust;

impl Bench {
    /// Each plugin's resident memory after the plan's calls.
    pub(super) fn memory(&self) -> Vec<MemoryRow> {
        let plan = &self.plan;
        MEMORY_PAIRS
            .iter()
            .map(|&pair| {
                let automtls = true;
                let (status, resident) = match self.skip(pair) {
                    Some(why) => (why, None),
                    None => {
                        let result = self.process_plugin(pair).and_then(|plugin| {
                            self.rt.block_on(rust::memory(
                                &plugin,
                                automtls,
                                plan.memory_size,
                                plan.memory_calls,
                            ))
                        });
                        progress(&format!(
                            "memory: {} plugin after {} calls: {}",
                            pair.label(),
                            plan.memory_calls,
                            describe(&result, |m| format!("VmRSS {} KiB", m.vm_rss_kb))
                        ));
                        match result {
                            Ok(m) => (RowStatus::Ok, Some(m)),
                            Err(e) => (RowStatus::Failed(e), None),
                        }
                    }
                };
                MemoryRow {
                    pair,
                    automtls,
                    size: plan.memory_size,
                    calls: plan.memory_calls,
                    status,
                    resident,
                }
            })
            .collect()
    }
}
