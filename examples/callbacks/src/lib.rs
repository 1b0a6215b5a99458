//! The interfaces shared by the `progress` host and the `progress-plugin` plugin.
//!
//! The host starts a job in the plugin and passes it a progress sink, an `Arc<dyn Progress>` it
//! implements itself. `#[plugin_interface]` serves the sink through the gRPC broker and the
//! plugin receives a client of it: the plugin keeps it after `start_job` returned and reports
//! to it from a background task, many reports at once, until the job is done. The sink stays
//! served until the plugin drops it (or the plugin exits, or the host kills it).

use std::sync::Arc;

use plugin_runtime::{CallError, HandshakeConfig};
use serde::{Deserialize, Serialize};

/// The handshake: cookie `PROGRESS_PLUGIN=callbacks`, protocol version 1.
pub fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "PROGRESS_PLUGIN", "callbacks")
}

/// The most steps a job may have.
pub const MAX_STEPS: u32 = 10_000;

/// What a job reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Step `step` (1-based) of `of` is done; steps finish in any order.
    Step {
        /// The job.
        job: u64,
        /// The step done.
        step: u32,
        /// The job's number of steps.
        of: u32,
    },
    /// The job is done: the last event of a job.
    Finished {
        /// The job.
        job: u64,
        /// How many of its step reports the sink accepted.
        reported: u32,
    },
}

/// Why a job or a report failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum JobError {
    /// The job was refused.
    #[error("{0}")]
    Refused(String),
    /// The call itself failed (the other process died, the connection broke...).
    #[error("the call failed: {0}")]
    Call(String),
}

impl From<CallError> for JobError {
    fn from(e: CallError) -> Self {
        JobError::Call(e.to_string())
    }
}

/// Where a job reports: implemented by the host, called by the plugin.
#[plugin_runtime::plugin_interface]
pub trait Progress {
    /// One event of a job.
    async fn event(&self, event: Event) -> Result<(), JobError>;
}

/// The plugin's jobs, served as `plugin.Jobs`.
#[plugin_runtime::plugin_interface]
pub trait Jobs {
    /// Starts a job of `steps` steps that reports to `sink` in the background, after this
    /// returns; its id. `sink` hears of every step, then `Event::Finished`.
    async fn start_job(&self, steps: u32, sink: Arc<dyn Progress>) -> Result<u64, JobError>;
}
