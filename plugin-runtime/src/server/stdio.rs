//! What the plugin writes to stdout and stderr after its handshake, sent to the host through
//! `plugin.GRPCStdio/StreamStdio`.
//!
//! Capture is at the file-descriptor level: fds 1 and 2 are replaced by pipes, read by the
//! plugin's watcher thread (`process::spawn_watcher`), so `println!`, C libraries and the
//! plugin's own child processes are all included (go-plugin only swaps Go's `os.Stdout`).
//! Until the host subscribes, output is buffered up to a bound and then dropped, so a host that
//! never asks cannot make the plugin block; once it subscribes, delivery is lossless with
//! backpressure.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tonic::Status;

use crate::__private::{prost_body, unknown_method};
use crate::dispatch::{Dispatch, Requests, Responses, Shape};
use crate::internal::STREAM_STDIO;
use crate::proto::{StdioData, stdio_data::Channel};

/// Chunks buffered before the host subscribes (or while it reads slower than we write).
const QUEUE: usize = 256;
/// Bytes read from a pipe at once.
const CHUNK: usize = 32 * 1024;

/// One of the two standard streams the plugin captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StdFd {
    Out,
    Err,
}

impl StdFd {
    /// A close-on-exec copy of the stream's descriptor (above the standard three).
    pub(crate) fn duplicate(self) -> io::Result<OwnedFd> {
        match self {
            StdFd::Out => std::io::stdout().as_fd().try_clone_to_owned(),
            StdFd::Err => std::io::stderr().as_fd().try_clone_to_owned(),
        }
    }

    /// Makes the stream's descriptor a copy of `from`.
    fn replace_with(self, from: impl AsFd) -> io::Result<()> {
        match self {
            StdFd::Out => nix::unistd::dup2_stdout(from)?,
            StdFd::Err => nix::unistd::dup2_stderr(from)?,
        }
        Ok(())
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}

/// The capture of fds 1 and 2.
pub(crate) struct StdioCapture {
    /// The original fds 1 and 2, put back when capture ends.
    originals: [OwnedFd; 2],
    receiver: std::sync::Mutex<Option<mpsc::Receiver<StdioData>>>,
    subscribed: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    finished: AtomicBool,
}

impl Drop for StdioCapture {
    fn drop(&mut self) {
        self.finish();
    }
}

impl StdioCapture {
    /// Redirects fds 1 and 2 into pipes, whose read ends are returned to be pumped.
    pub(crate) fn start() -> io::Result<(Arc<StdioCapture>, Pumps)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let subscribed = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let originals = [StdFd::Out.duplicate()?, StdFd::Err.duplicate()?];
        // Every descriptor first, and the capture made before fds 1 and 2 change: a failure
        // drops it, which puts them back.
        let (out, err) = (pipe()?, pipe()?);
        let capture = Arc::new(StdioCapture {
            originals,
            receiver: std::sync::Mutex::new(Some(rx)),
            subscribed: subscribed.clone(),
            dropped: dropped.clone(),
            finished: AtomicBool::new(false),
        });
        flush_std();
        StdFd::Out.replace_with(&out.1)?;
        StdFd::Err.replace_with(&err.1)?;
        let pumps = Pumps {
            pipes: vec![
                (File::from(out.0), Channel::Stdout),
                (File::from(err.0), Channel::Stderr),
            ],
            tx,
            subscribed,
            dropped,
            buf: Vec::new(),
        };
        Ok((capture, pumps))
    }

    /// Flushes Rust's buffers and puts the original fds 1 and 2 back, so the pipes reach EOF
    /// once no child process holds them: everything written so far is delivered, the stream
    /// ends, and whatever the plugin prints after serving still reaches the host's pipes.
    /// Once only; dropping the capture does it too (a plugin failing to serve still reports
    /// on its real stderr).
    pub(crate) fn finish(&self) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        flush_std();
        let _ = StdFd::Out.replace_with(&self.originals[0]);
        let _ = StdFd::Err.replace_with(&self.originals[1]);
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                chunks = dropped,
                "plugin output was dropped because the host never subscribed to it"
            );
        }
    }

    pub(crate) fn take(&self) -> Option<mpsc::Receiver<StdioData>> {
        let rx = self.receiver.lock().ok()?.take()?;
        self.subscribed.store(true, Ordering::Release);
        Some(rx)
    }
}

fn flush_std() {
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
}

/// The read ends of the captured pipes, pumped by the plugin's watcher thread: until the host
/// subscribes, chunks past the queue's bound are dropped; after, the pump waits for room.
pub(crate) struct Pumps {
    pipes: Vec<(File, Channel)>,
    tx: mpsc::Sender<StdioData>,
    subscribed: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    /// Allocated at the first output: a plugin that prints nothing never touches its pages.
    buf: Vec<u8>,
}

impl Pumps {
    /// The pipes still open, in order.
    pub(crate) fn fds(&self) -> impl Iterator<Item = std::os::fd::BorrowedFd<'_>> {
        self.pipes.iter().map(|(pipe, _)| pipe.as_fd())
    }

    /// Whether every pipe has reached its end.
    pub(crate) fn done(&self) -> bool {
        self.pipes.is_empty()
    }

    /// Passes on what the `index`th open pipe has (it was seen ready); a pipe at its end, or
    /// failing, is closed and the later ones move down.
    pub(crate) fn pump(&mut self, index: usize) {
        let Some((pipe, channel)) = self.pipes.get_mut(index) else {
            return;
        };
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK];
        }
        let n = match pipe.read(&mut self.buf) {
            Ok(0) => 0,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return,
            Err(_) => 0,
        };
        if n == 0 {
            self.pipes.remove(index);
            return;
        }
        let data = StdioData {
            channel: *channel as i32,
            data: self.buf[..n].to_vec(),
        };
        let delivered = if self.subscribed.load(Ordering::Acquire) {
            self.tx.blocking_send(data).is_ok()
        } else {
            self.tx.try_send(data).is_ok()
        };
        if !delivered {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `plugin.GRPCStdio`: hands the captured output to the first (and only) caller.
pub(crate) struct StdioService {
    pub(crate) capture: Option<Arc<StdioCapture>>,
}

impl Dispatch for StdioService {
    const SERVICE: &'static str = STREAM_STDIO.service;
    const METHODS: &'static [&'static str] = &[STREAM_STDIO.name];
    const SHAPES: &'static [Shape] = &[Shape::ServerStreaming];

    fn call_streaming(
        self: Arc<Self>,
        method: usize,
        _requests: Requests,
    ) -> BoxFuture<'static, Result<Responses, Status>> {
        let answer = match (method, &self.capture) {
            (0, None) => {
                // Test mode without stdio sync: nothing is captured, the stream ends at once.
                Ok(Box::pin(futures::stream::empty()) as Responses)
            }
            (0, Some(capture)) => match capture.take() {
                Some(rx) => {
                    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
                    Ok(Box::pin(stream.map(|chunk| Ok(prost_body(chunk)))) as Responses)
                }
                None => Err(Status::failed_precondition(
                    "StreamStdio was already called: the plugin's output goes to the first caller only",
                )),
            },
            (other, _) => Err(unknown_method(Self::SERVICE, other)),
        };
        Box::pin(std::future::ready(answer))
    }
}
