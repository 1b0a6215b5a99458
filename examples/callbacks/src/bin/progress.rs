//! The progress host: `progress [--steps N]` starts a job of N steps (default 20) in the
//! plugin, passing it a progress sink, prints each step as the plugin reports it (`step 3/20`,
//! in the order they arrive), and exits once the job has finished.
//!
//! Launches `sh -c "$PROGRESS_PLUGIN_COMMAND"` (default: the `progress-plugin` next to this
//! binary), and always kills the plugin before exiting. Exits 1 with the error when the job
//! fails, 2 on a usage error.

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use callbacks_example::{Event, JobError, Jobs, JobsPlugin, Progress, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet};
use tokio::sync::watch;

#[path = "../../../host.rs"]
mod host;

const USAGE: &str = "usage: progress [--steps N]";

/// How long a job may run before the host gives up on it.
const JOB_TIMEOUT: Duration = Duration::from_secs(60);

fn parse_args(args: &[String]) -> Result<u32, String> {
    let mut steps = 20;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--steps" => {
                let value = args.next().ok_or("--steps needs a value")?;
                steps = value
                    .parse()
                    .map_err(|_| format!("--steps takes a number, not {value:?}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(steps)
}

/// The host's sink: prints each step, counts them, and tells `finished` when the job is done.
struct Printer {
    steps: AtomicU32,
    finished: watch::Sender<Option<u32>>,
}

#[plugin_runtime::async_trait]
impl Progress for Printer {
    async fn event(&self, event: Event) -> Result<(), JobError> {
        match event {
            Event::Step { step, of, .. } => {
                self.steps.fetch_add(1, Ordering::SeqCst);
                println!("step {step}/{of}");
            }
            Event::Finished { reported, .. } => {
                self.finished.send_replace(Some(reported));
            }
        }
        Ok(())
    }
}

/// Starts the plugin, runs the job, and always kills the plugin.
async fn run(steps: u32) -> Result<String, Box<dyn Error>> {
    let config = ClientConfig::new(handshake())
        .command(host::plugin_command(
            "PROGRESS_PLUGIN_COMMAND",
            "progress-plugin",
        )?)
        .plugins(PluginSet::new().with("jobs", JobsPlugin::host()));
    let client = Client::new(config)?;
    let done = job(&client, steps).await;
    client.kill().await;
    done
}

async fn job(client: &Client, steps: u32) -> Result<String, Box<dyn Error>> {
    let jobs = client.dispense::<dyn Jobs>("jobs").await?;
    let (finished, mut heard) = watch::channel(None);
    let printer = Arc::new(Printer {
        steps: AtomicU32::new(0),
        finished,
    });
    // The plugin keeps the sink after `start_job` returns and reports in the background.
    let id = jobs.start_job(steps, printer.clone()).await?;
    let reported = tokio::time::timeout(JOB_TIMEOUT, heard.wait_for(Option::is_some))
        .await
        .map_err(|_| format!("job {id} did not finish within {JOB_TIMEOUT:?}"))?
        .map_err(|_| format!("job {id}: the sink is gone"))?
        .unwrap_or(0);
    let printed = printer.steps.load(Ordering::SeqCst);
    Ok(format!(
        "job {id} finished: {reported} of {steps} steps reported, {printed} printed"
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    host::init_logging();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let steps = match parse_args(&argv) {
        Ok(steps) => steps,
        Err(e) => {
            eprintln!("progress: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(steps).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("progress: {}", host::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
