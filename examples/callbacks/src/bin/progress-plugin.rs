//! The progress plugin: runs jobs in the background and reports each step to the sink the host
//! passed, eight steps at a time, then `Finished`. Dropping the sink at the end is what stops
//! the host's server for it.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use callbacks_example::{Event, JobError, Jobs, JobsPlugin, MAX_STEPS, Progress, handshake};
use futures::StreamExt as _;
use plugin_runtime::{PluginSet, ServeConfig};

/// How many reports of one job are in flight at once.
const CONCURRENT_REPORTS: usize = 8;

#[derive(Default)]
struct Runner {
    last_job: AtomicU64,
}

/// Reports every step of `job`, several at once, then `Finished`; the sink goes with it.
async fn run(job: u64, steps: u32, sink: Arc<dyn Progress>) {
    let reported = futures::stream::iter(1..=steps)
        .map(|step| {
            let sink = sink.clone();
            async move {
                let event = Event::Step {
                    job,
                    step,
                    of: steps,
                };
                sink.event(event).await.is_ok()
            }
        })
        .buffer_unordered(CONCURRENT_REPORTS)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let reported = u32::try_from(reported).unwrap_or(u32::MAX);
    if let Err(e) = sink.event(Event::Finished { job, reported }).await {
        eprintln!("job {job}: the host did not hear that it finished: {e}");
    }
}

#[plugin_runtime::async_trait]
impl Jobs for Runner {
    async fn start_job(&self, steps: u32, sink: Arc<dyn Progress>) -> Result<u64, JobError> {
        if steps == 0 || steps > MAX_STEPS {
            return Err(JobError::Refused(format!(
                "a job has 1 to {MAX_STEPS} steps, not {steps}"
            )));
        }
        let job = self.last_job.fetch_add(1, Ordering::Relaxed) + 1;
        tokio::spawn(run(job, steps, sink));
        Ok(job)
    }
}

fn main() -> ExitCode {
    let plugins = PluginSet::new().with("jobs", JobsPlugin::new(Runner::default()));
    plugin_runtime::serve_main(ServeConfig::new(handshake()).plugins(plugins))
}
