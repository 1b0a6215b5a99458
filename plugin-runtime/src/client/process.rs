//! The started plugin, whatever its runner: its stdout's first line handed to the handshake,
//! its stderr forwarded to logs, its end watched through the runner.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::logs::{Lines, LogForwarder, MAX_LINE, Tail};
use crate::exit::{Ending, PluginExit};
use crate::runner::{AttachedRunner, Runner, RunnerError};

/// A writer the host gives for the plugin's output.
pub(crate) type PluginOutput = Box<dyn io::Write + Send + 'static>;

/// Why a runner did not start the plugin.
pub(crate) enum StartFailure {
    Failed(RunnerError),
    TimedOut,
}

/// The running plugin, driven through its runner.
pub(crate) struct Process {
    pub(crate) runner: Arc<dyn Runner>,
    /// The default runner's child (it leads its process group); `None` with a custom runner.
    pub(crate) pid: Option<u32>,
    pub(crate) ending: Arc<Ending>,
    pub(crate) first_line: Option<oneshot::Receiver<Option<String>>>,
    pub(crate) tail: Arc<Mutex<Tail>>,
    readers: Vec<JoinHandle<()>>,
}

impl Process {
    /// Starts the plugin with `runner` (within `timeout`), reads its output and watches its end.
    /// A runner that fails or times out is killed.
    pub(crate) async fn start(
        mut runner: Box<dyn Runner>,
        pid_of: impl FnOnce(&dyn Runner) -> Option<u32>,
        name: &str,
        stderr_out: Option<PluginOutput>,
        timeout: Duration,
    ) -> Result<Process, StartFailure> {
        let output = match tokio::time::timeout(timeout, runner.start()).await {
            Ok(Ok(output)) => output,
            failed => {
                let _ = runner.kill().await;
                return Err(match failed {
                    Ok(Err(e)) => StartFailure::Failed(e),
                    _ => StartFailure::TimedOut,
                });
            }
        };
        let pid = pid_of(&*runner);
        let runner: Arc<dyn Runner> = Arc::from(runner);
        let (first_tx, first_rx) = oneshot::channel();
        let tail = Arc::new(Mutex::new(Tail::default()));
        let readers = vec![
            tokio::spawn(read_stdout(output.stdout, name.to_string(), first_tx)),
            tokio::spawn(read_stderr(
                output.stderr,
                name.to_string(),
                tail.clone(),
                stderr_out,
            )),
        ];
        let ending = Ending::new();
        let watched: Arc<dyn AttachedRunner> = runner.clone();
        tokio::spawn(watch_end(watched, pid, name.to_string(), ending.clone()));
        Ok(Process {
            runner,
            pid,
            ending,
            first_line: Some(first_rx),
            tail,
            readers,
        })
    }

    pub(crate) fn exited(&self) -> Option<PluginExit> {
        self.ending.watch().get()
    }

    /// Waits up to `limit` for the exit.
    pub(crate) async fn wait_exit(&self, limit: Duration) -> Option<PluginExit> {
        let mut exit = self.ending.watch();
        tokio::time::timeout(limit, exit.wait())
            .await
            .ok()
            .flatten()
    }

    /// The runner's kill (the default runner's: SIGKILL to the plugin's whole process group).
    pub(crate) async fn kill(&self) {
        self.ending.start_killing();
        if let Err(e) = self.runner.kill().await {
            tracing::debug!(id = %self.runner.id(), error = %crate::error::chain(&*e), "error killing plugin");
        }
    }

    /// Waits (bounded) for stdout and stderr to reach EOF, so every line has been handled.
    pub(crate) async fn drain(&mut self, limit: Duration) {
        for reader in self.readers.drain(..) {
            let abort = reader.abort_handle();
            if tokio::time::timeout(limit, reader).await.is_err() {
                abort.abort();
            }
        }
    }

    pub(crate) fn stderr_tail(&self) -> String {
        self.tail.lock().map(|t| t.text()).unwrap_or_default()
    }

    /// The stderr tail, and what the runner adds about a plugin that did not shake hands.
    pub(crate) async fn failure_text(&self) -> String {
        let mut text = self.stderr_tail();
        let diagnosis = self.runner.diagnose().await;
        if !diagnosis.trim().is_empty() {
            if !text.trim().is_empty() {
                text.push('\n');
            }
            text.push_str(&format!(
                "(runner {}: {})",
                self.runner.name(),
                diagnosis.trim()
            ));
        }
        text
    }
}

/// Publishes the plugin's end once its runner's `wait` returns.
pub(crate) async fn watch_end(
    runner: Arc<dyn AttachedRunner>,
    pid: Option<u32>,
    plugin: String,
    ending: Arc<Ending>,
) {
    let id = runner.id();
    match runner.wait().await {
        Ok(Some(status)) => {
            if status.success() || ending.is_killing() {
                tracing::debug!(plugin = %plugin, %id, "plugin process exited");
            } else {
                let exit = PluginExit::Exited(status);
                tracing::warn!(plugin = %plugin, %id, "plugin process {exit}");
            }
            ending.exited(status);
        }
        Ok(None) => ending.publish(gone(&ending, pid, id)),
        Err(e) => {
            tracing::warn!(plugin = %plugin, %id, error = %crate::error::chain(&*e), "waiting for the plugin failed");
            ending.publish(gone(&ending, pid, id));
        }
    }
}

/// How a plugin ended whose exit status nobody has.
pub(crate) fn gone(ending: &Ending, pid: Option<u32>, id: String) -> PluginExit {
    match pid {
        _ if ending.is_killing() => PluginExit::Killed { status: None },
        Some(pid) => PluginExit::Vanished { pid },
        None => PluginExit::Stopped { id },
    }
}

/// Kills what `runner` runs without awaiting (for `Drop`): a kill that needs no waiting (the
/// default runners') happens now, any other on the current runtime if there is one.
pub(crate) fn kill_detached(runner: Arc<dyn AttachedRunner>) {
    use futures::FutureExt as _;
    let mut kill = Box::pin(async move { runner.kill().await });
    if (&mut kill).now_or_never().is_none()
        && let Ok(runtime) = tokio::runtime::Handle::try_current()
    {
        runtime.spawn(kill);
    }
}

/// Calls `each` with every line of `reader` (see [`Lines`]) until EOF or a read error.
async fn for_each_line(mut reader: impl AsyncRead + Unpin, mut each: impl FnMut(&str)) {
    let mut lines = Lines::default();
    let mut buf = vec![0u8; MAX_LINE];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => lines.push(&buf[..n], &mut each),
        }
    }
    lines.finish(&mut each);
}

/// The first line is the handshake; later lines (writes to fd 1 that the plugin did not
/// capture) are logged at debug, and stdout is drained until EOF so the pipe never blocks.
async fn read_stdout(
    stdout: impl AsyncRead + Unpin,
    plugin: String,
    first: oneshot::Sender<Option<String>>,
) {
    let mut first = Some(first);
    for_each_line(stdout, |line| match first.take() {
        Some(tx) => {
            let _ = tx.send(Some(line.to_string()));
        }
        None => tracing::debug!(target: "plugin", plugin = %plugin, stdout = %line, "plugin wrote to stdout"),
    })
    .await;
    if let Some(tx) = first {
        let _ = tx.send(None);
    }
}

/// Copies the plugin's stderr, line by line, to `out`, the tail and the log.
pub(crate) async fn read_stderr(
    stderr: impl AsyncRead + Unpin,
    plugin: String,
    tail: Arc<Mutex<Tail>>,
    mut out: Option<PluginOutput>,
) {
    let mut forward = LogForwarder::new(&plugin);
    for_each_line(stderr, |line| {
        if let Some(out) = out.as_mut() {
            let _ = out
                .write_all(line.as_bytes())
                .and_then(|()| out.write_all(b"\n"));
        }
        if let Ok(mut tail) = tail.lock() {
            tail.push(line);
        }
        forward.line(line);
    })
    .await;
    if let Some(out) = out.as_mut() {
        let _ = out.flush();
    }
}
