//! The plugin's process: spawned in its own process group, its stdout's first line handed to
//! the handshake, its stderr forwarded to logs, its exit watched, and always reaped.

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::logs::{Lines, LogForwarder, MAX_LINE, Tail};
use crate::error::Error;
use crate::exit::{Ending, PluginExit};

/// A writer the host gives for the plugin's output.
pub(crate) type PluginOutput = Box<dyn io::Write + Send + 'static>;

/// The running child.
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) ending: Arc<Ending>,
    pub(crate) first_line: Option<oneshot::Receiver<Option<String>>>,
    pub(crate) tail: Arc<Mutex<Tail>>,
    readers: Vec<JoinHandle<()>>,
}

impl Process {
    pub(crate) fn spawn(
        mut command: tokio::process::Command,
        program: PathBuf,
        name: &str,
        stderr_out: Option<PluginOutput>,
    ) -> Result<Process, Error> {
        command
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own group: a force-kill also takes `sh -c` wrappers and the plugin's children.
            .process_group(0);
        let mut child = command
            .spawn()
            .map_err(|source| Error::Spawn { program, source })?;
        let pid = child.id().unwrap_or_default();
        let (first_tx, first_rx) = oneshot::channel();
        let tail = Arc::new(Mutex::new(Tail::default()));
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(tokio::spawn(read_stdout(
                stdout,
                name.to_string(),
                first_tx,
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(tokio::spawn(read_stderr(
                stderr,
                name.to_string(),
                tail.clone(),
                stderr_out,
            )));
        }
        let plugin = name.to_string();
        let ending = Ending::new();
        let reaper = ending.clone();
        // The waiter owns the child: dropped with the runtime, kill_on_drop still kills it.
        tokio::spawn(async move {
            match child.wait().await {
                Ok(status) => {
                    if status.success() || reaper.is_killing() {
                        tracing::debug!(plugin = %plugin, pid, "plugin process exited");
                    } else {
                        let exit = PluginExit::Exited(status);
                        tracing::warn!(plugin = %plugin, pid, "plugin process {exit}");
                    }
                    reaper.exited(status);
                }
                Err(e) => {
                    tracing::warn!(plugin = %plugin, pid, error = %e, "waiting for the plugin failed");
                    reaper.publish(PluginExit::Vanished { pid });
                }
            }
        });
        Ok(Process {
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

    /// SIGKILL to the plugin's whole process group.
    pub(crate) fn kill_group(&self) {
        self.ending.start_killing();
        kill_group(self.pid);
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
}

/// A pid as the kernel takes it; 0 and out-of-range values are never signalled (0 would mean
/// our own process group).
fn pid_of(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw)
}

/// SIGKILL to the process group `pid` leads (one we created); already gone is fine.
pub(crate) fn kill_group(pid: u32) {
    if let Some(pgid) = pid_of(pid) {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
}

/// SIGKILL to one process; already gone is fine.
pub(crate) fn kill_process(pid: u32) {
    if let Some(pid) = pid_of(pid) {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

/// Whether a process with this pid exists (signal 0), or why not.
pub(crate) fn probe_pid(pid: u32) -> io::Result<()> {
    let Some(pid) = pid_of(pid) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    match kill(pid, None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => Ok(()),
        Err(errno) => Err(io::Error::from(errno)),
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
