//! The plugin's process: spawned in its own process group, its stdout's first line handed to
//! the handshake, its stderr forwarded to logs, its exit watched, and always reaped.

use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::logs::{LogForwarder, Tail};
use crate::error::Error;

/// Lines longer than this are handed on in pieces (go-plugin's default log buffer).
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// A writer the host gives for the plugin's output.
pub type Output = Box<dyn io::Write + Send + 'static>;

/// The running child.
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) exit: watch::Receiver<Option<String>>,
    pub(crate) first_line: Option<oneshot::Receiver<Option<String>>>,
    pub(crate) tail: Arc<Mutex<Tail>>,
    readers: Vec<JoinHandle<()>>,
    /// Set when we kill it: its death is then expected, not worth a warning.
    killing: Arc<AtomicBool>,
}

/// Describes how a process ended, for people.
pub(crate) fn describe_exit(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

impl Process {
    pub(crate) fn spawn(
        mut command: tokio::process::Command,
        program: PathBuf,
        name: &str,
        stderr_out: Option<Output>,
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
        let (exit_tx, exit_rx) = watch::channel(None);
        let plugin = name.to_string();
        let killing = Arc::new(AtomicBool::new(false));
        let expected = killing.clone();
        // The waiter owns the child: dropped with the runtime, kill_on_drop still kills it.
        tokio::spawn(async move {
            let how = match child.wait().await {
                Ok(status) => {
                    let how = describe_exit(&status);
                    if status.success() || expected.load(Ordering::SeqCst) {
                        tracing::debug!(plugin = %plugin, pid, "plugin process exited");
                    } else {
                        tracing::warn!(plugin = %plugin, pid, exit = %how, "plugin process exited");
                    }
                    how
                }
                Err(e) => format!("wait failed: {e}"),
            };
            let _ = exit_tx.send(Some(how));
        });
        Ok(Process {
            pid,
            exit: exit_rx,
            first_line: Some(first_rx),
            tail,
            readers,
            killing,
        })
    }

    pub(crate) fn exited(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// Waits up to `limit` for the exit.
    pub(crate) async fn wait_exit(&mut self, limit: Duration) -> Option<String> {
        let exit = &mut self.exit;
        tokio::time::timeout(limit, exit.wait_for(|e| e.is_some()))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|e| e.clone()))
    }

    /// SIGKILL to the plugin's whole process group.
    pub(crate) fn kill_group(&self) {
        self.killing.store(true, Ordering::SeqCst);
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

pub(crate) fn kill_group(pid: u32) {
    if pid == 0 {
        return;
    }
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: signalling a process group we created; ESRCH (already gone) is fine.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// Whether a process with this pid exists (signal 0).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Calls `each` with every line (without `\n`, `\r\n` trimmed); lines over [`MAX_LINE`] come in
/// pieces. Invalid UTF-8 is replaced.
async fn for_each_line(reader: impl AsyncRead + Unpin, mut each: impl FnMut(&str)) {
    let mut reader = BufReader::with_capacity(MAX_LINE, reader);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(buf) => buf,
        };
        let (taken, complete) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..taken]);
        reader.consume(taken);
        if complete || line.len() >= MAX_LINE {
            let text = String::from_utf8_lossy(&line);
            each(text.trim_end_matches(['\n', '\r']));
            line.clear();
        }
    }
    if !line.is_empty() {
        each(String::from_utf8_lossy(&line).trim_end_matches('\r'));
    }
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

async fn read_stderr(
    stderr: impl AsyncRead + Unpin,
    plugin: String,
    tail: Arc<Mutex<Tail>>,
    mut out: Option<Output>,
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
