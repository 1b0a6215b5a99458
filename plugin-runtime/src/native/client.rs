//! The host's end: one connection, many calls and streams at once, matched to their replies
//! by id.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio_util::codec::FramedRead;
use tonic::Status;

use super::flow::{Credit, Inbound};
use super::frame::{self, Frame, FrameCodec, Incoming};
use super::writer::write_frames;
use crate::connection::Outgoings;
use crate::transport::codec::{MessageLimits, Outgoing};
use crate::transport::io::BoxedIo;

type Reply = Result<Bytes, Status>;

/// What a call in flight waits with.
enum Waiter {
    Unary(oneshot::Sender<Reply>),
    Stream(StreamWaiter),
}

/// A streaming call in flight: its opening, its responses, the credit of its requests, and
/// the task sending them.
struct StreamWaiter {
    opened: Option<oneshot::Sender<Result<(), Status>>>,
    messages: mpsc::UnboundedSender<Reply>,
    credit: Arc<Credit>,
    sending: Option<AbortHandle>,
}

impl Drop for StreamWaiter {
    fn drop(&mut self) {
        if let Some(sending) = self.sending.take() {
            sending.abort();
        }
    }
}

impl Waiter {
    /// Ends the call with `result`: a unary caller gets it; a stream ends with it (an error
    /// item, or simply its end), and stops sending.
    fn end(self, result: Result<(), Status>) {
        match self {
            Waiter::Unary(waiter) => {
                // A unary call ends with its reply (`answer`); an end without one is an error.
                let status = result.err().unwrap_or_else(|| {
                    Status::internal("the plugin ended a unary call as a stream")
                });
                let _ = waiter.send(Err(status));
            }
            Waiter::Stream(mut stream) => match (stream.opened.take(), result) {
                (Some(opened), result) => {
                    let _ = opened.send(result);
                }
                (None, Err(status)) => {
                    let _ = stream.messages.send(Err(status));
                }
                (None, Ok(())) => {}
            },
        }
    }
}

/// The pending calls, or why the connection is gone.
type Pending = Result<HashMap<u32, Waiter>, String>;

/// Whether [`NativeClient::start`] waits for the plugin's list of gRPC-only services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Services {
    /// The plugin may serve some over gRPC only: calls wait for the list.
    Wait,
    /// A callback: it serves none, calls need not wait.
    None,
}

/// The gRPC-only services listed by the plugin's first frame, `next`; an error saying what came
/// instead.
fn services_frame(next: Option<std::io::Result<Incoming>>) -> std::io::Result<HashSet<String>> {
    match next {
        Some(Ok(Incoming::Frame(first))) if first.kind == frame::SERVICES => {
            Ok(frame::parse_services(&first.body).collect())
        }
        Some(Err(e)) => Err(e),
        None => Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the plugin closed the native connection at once (a plugin of another SDK \
             version refuses this wire version: build both with the same version, or \
             force gRPC with `native_transport(false)`)",
        )),
        Some(Ok(_)) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the plugin's first native frame is not its list of services",
        )),
    }
}

/// The host's native connection to one plugin; cheap to clone. Closed (its tasks stopped)
/// when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct NativeClient {
    shared: Arc<Shared>,
}

struct Shared {
    frames: mpsc::UnboundedSender<Bytes>,
    /// The services the plugin serves over gRPC only (hand-written tonic services).
    grpc_only: HashSet<String>,
    /// Calls awaiting their reply; `Err` once the connection is lost, with why.
    pending: Mutex<Pending>,
    next_id: AtomicU32,
    limits: MessageLimits,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl NativeClient {
    /// Starts the native protocol on `io` (already through TLS): the preface, then a writer
    /// task and a reader task that hands every reply to its caller. With
    /// [`Services::Wait`] it first waits for the plugin's list of gRPC-only services (one
    /// round trip); with [`Services::None`] (a callback, which serves none) calls go out at
    /// once and the reader checks the list when it comes.
    pub(crate) async fn start(
        mut io: BoxedIo,
        limits: MessageLimits,
        services: Services,
    ) -> std::io::Result<Self> {
        io.write_all(frame::PREFACE).await?;
        io.flush().await?;
        let (read, write) = tokio::io::split(io);
        let mut frames = FramedRead::new(read, FrameCodec::new(limits.max_decode));
        // The plugin's first frame says which services to call over gRPC instead.
        let grpc_only = match services {
            Services::Wait => services_frame(frames.next().await)?,
            Services::None => HashSet::new(),
        };
        let (queue, queued) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_frames(write, queued));
        let shared = Arc::new_cyclic(|weak: &std::sync::Weak<Shared>| {
            let weak = weak.clone();
            let reader = tokio::spawn(async move {
                // Not waited for: checked here, once, before the replies.
                let unchecked = match services {
                    Services::Wait => Ok(()),
                    Services::None => match services_frame(frames.next().await) {
                        Ok(grpc_only) if grpc_only.is_empty() => Ok(()),
                        Ok(_) => Err("the peer serves a callback's service over gRPC only, \
                                      which the callbacks' session cannot carry"
                            .to_string()),
                        Err(e) => Err(e.to_string()),
                    },
                };
                let why = match unchecked {
                    Err(why) => why,
                    Ok(()) => loop {
                        let next = match frames.next().await {
                            None => break "the plugin closed the native connection".to_string(),
                            Some(Err(e)) => break format!("reading from the plugin failed: {e}"),
                            Some(Ok(next)) => next,
                        };
                        let Some(shared) = weak.upgrade() else { return };
                        match next {
                            Incoming::Frame(frame) => shared.answer(frame),
                            Incoming::TooLarge { id, size, max } => {
                                shared.fail(id, frame::too_large("reply", size, max));
                            }
                        }
                    },
                };
                if let Some(shared) = weak.upgrade() {
                    shared.lost(why);
                }
            });
            Shared {
                frames: queue,
                grpc_only,
                pending: Mutex::new(Ok(HashMap::new())),
                next_id: AtomicU32::new(1),
                limits,
                tasks: vec![writer.abort_handle(), reader.abort_handle()],
            }
        });
        Ok(NativeClient { shared })
    }

    /// Whether the plugin serves `path` (`/package.Service/Method`) on this connection: not a
    /// method of a service it serves over gRPC only.
    pub(crate) fn serves(&self, path: &str) -> bool {
        // The usual case, asked on every call: nothing to look up.
        if self.shared.grpc_only.is_empty() {
            return true;
        }
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        !self.shared.grpc_only.contains(service)
    }

    /// Makes one unary call of `path`. Dropping the future cancels the call on the plugin too.
    pub(crate) async fn unary(&self, path: &str, request: &dyn Outgoing) -> Reply {
        let shared = &self.shared;
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let call = frame::call(id, path, request, shared.limits.max_encode)?;
        let (tx, rx) = oneshot::channel();
        shared.wait(id, Waiter::Unary(tx))?;
        let mut guard = CancelOnDrop {
            shared,
            id,
            armed: true,
        };
        shared.send(call)?;
        let reply = rx.await;
        guard.armed = false;
        reply.unwrap_or_else(|_| Err(lost()))
    }

    /// Opens a streaming call of `path` (any of gRPC's three shapes) sending `requests`; once
    /// the plugin's implementation took it, its responses. Dropping the future or the stream
    /// before the end cancels the call on the plugin too.
    pub(crate) async fn stream(
        &self,
        path: &str,
        mut requests: Outgoings,
    ) -> Result<NativeStream, Status> {
        let shared = &self.shared;
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let open = frame::open(id, path)?;
        let (opened_tx, opened) = oneshot::channel();
        let (messages_tx, messages) = mpsc::unbounded_channel();
        let credit = Arc::new(Credit::default());
        shared.wait(
            id,
            Waiter::Stream(StreamWaiter {
                opened: Some(opened_tx),
                messages: messages_tx,
                credit: credit.clone(),
                sending: None,
            }),
        )?;
        let mut guard = CancelOnDrop {
            shared,
            id,
            armed: true,
        };
        shared.send(open)?;
        // The requests go out as the caller produces them and the plugin takes them.
        let weak = Arc::downgrade(shared);
        let max = shared.limits.max_encode;
        let sending = tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                let Some(shared) = weak.upgrade() else { return };
                match frame::message(id, "request", &*request, max) {
                    Ok((message, size)) => {
                        drop(shared);
                        credit.spend(size).await;
                        let Some(shared) = weak.upgrade() else { return };
                        let _ = shared.frames.send(message);
                    }
                    Err(status) => {
                        shared.fail(id, status);
                        return;
                    }
                }
            }
            if let Some(shared) = weak.upgrade() {
                let _ = shared.frames.send(frame::bare(frame::END, id));
            }
        });
        shared.sending(id, sending.abort_handle());
        match opened.await {
            Ok(Ok(())) => {}
            Ok(Err(status)) => {
                guard.armed = false;
                return Err(status);
            }
            Err(_) => return Err(lost()),
        }
        guard.armed = false;
        Ok(NativeStream {
            inbound: Inbound::new(id, messages, shared.frames.clone()),
            shared: shared.clone(),
        })
    }
}

/// The responses of a native streaming call. Dropped before its end, it cancels the call.
pub(crate) struct NativeStream {
    inbound: Inbound,
    shared: Arc<Shared>,
}

impl Stream for NativeStream {
    type Item = Reply;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Reply>> {
        Pin::new(&mut self.inbound).poll_next(cx)
    }
}

impl Drop for NativeStream {
    fn drop(&mut self) {
        if !self.inbound.ended() {
            self.shared.cancel(self.inbound.id());
        }
    }
}

/// The error of a call whose connection went away under it.
fn lost() -> Status {
    Status::unavailable("the native connection was lost")
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records call `id`'s waiter, unless the connection is already gone.
    fn wait(&self, id: u32, waiter: Waiter) -> Result<(), Status> {
        match &mut *self.lock() {
            Ok(pending) => {
                pending.insert(id, waiter);
                Ok(())
            }
            Err(why) => Err(Status::unavailable(why.clone())),
        }
    }

    /// Queues a frame for the writer.
    fn send(&self, frame: Bytes) -> Result<(), Status> {
        self.frames
            .send(frame)
            .map_err(|_| Status::unavailable("the native connection's writer stopped"))
    }

    /// Records the task sending stream `id`'s requests (aborted when the call ends).
    fn sending(&self, id: u32, task: AbortHandle) {
        let mut pending = self.lock();
        match pending.as_mut().ok().and_then(|p| p.get_mut(&id)) {
            Some(Waiter::Stream(stream)) => stream.sending = Some(task),
            // Already over.
            _ => task.abort(),
        }
    }

    fn remove(&self, id: u32) -> Option<Waiter> {
        self.lock().as_mut().ok().and_then(|p| p.remove(&id))
    }

    /// Hands a frame to its call (frames of gone callers, and so stray ids, are ignored).
    fn answer(&self, frame: Frame) {
        let max = self.limits.max_decode;
        let id = frame.id;
        match frame.kind {
            frame::REPLY if frame.body.len() > max => {
                self.fail(id, frame::too_large("reply", frame.body.len(), max));
            }
            frame::REPLY => match self.remove(id) {
                Some(Waiter::Unary(waiter)) => {
                    let _ = waiter.send(Ok(frame.body));
                }
                Some(other) => other.end(Err(unexpected(frame::REPLY))),
                None => {}
            },
            frame::ERROR => {
                if let Some(waiter) = self.remove(id) {
                    waiter.end(Err(frame::parse_error(frame.body)));
                }
            }
            frame::END => {
                if let Some(waiter) = self.remove(id) {
                    waiter.end(Ok(()));
                }
            }
            frame::MSG if frame.body.len() > max => {
                self.fail(id, frame::too_large("response", frame.body.len(), max));
            }
            frame::OPENED | frame::MSG | frame::WINDOW => self.stream_frame(frame),
            other => self.fail(id, unexpected(other)),
        }
    }

    /// A frame that only a stream takes.
    fn stream_frame(&self, frame: Frame) {
        let mut pending = self.lock();
        let Some(waiter) = pending.as_mut().ok().and_then(|p| p.get_mut(&frame.id)) else {
            return;
        };
        let Waiter::Stream(stream) = waiter else {
            drop(pending);
            return self.fail(frame.id, unexpected(frame.kind));
        };
        match frame.kind {
            frame::OPENED => {
                if let Some(opened) = stream.opened.take() {
                    let _ = opened.send(Ok(()));
                }
            }
            frame::MSG => {
                let _ = stream.messages.send(Ok(frame.body));
            }
            _ => stream.credit.grant(frame::parse_window(&frame.body)),
        }
    }

    /// Ends call `id` with `status` here, and tells the plugin to drop it.
    fn fail(&self, id: u32, status: Status) {
        if let Some(waiter) = self.remove(id) {
            waiter.end(Err(status));
            let _ = self.frames.send(frame::bare(frame::CANCEL, id));
        }
    }

    /// The caller gave up on call `id`.
    fn cancel(&self, id: u32) {
        if let Some(waiter) = self.remove(id) {
            waiter.end(Err(Status::cancelled("the call was cancelled")));
            let _ = self.frames.send(frame::bare(frame::CANCEL, id));
        }
    }

    /// The connection is gone: every call waiting fails, and every later one at once.
    fn lost(&self, why: String) {
        tracing::debug!(reason = %why, "native connection lost");
        let before = std::mem::replace(&mut *self.lock(), Err(why.clone()));
        if let Ok(pending) = before {
            for (_, waiter) in pending {
                waiter.end(Err(Status::unavailable(why.clone())));
            }
        }
    }
}

/// The status of a call that received a frame it cannot take.
fn unexpected(kind: u8) -> Status {
    Status::internal(format!(
        "the plugin sent a native frame of kind {kind}, which this call cannot take"
    ))
}

/// Tells the plugin to drop a call its caller gave up on.
struct CancelOnDrop<'a> {
    shared: &'a Shared,
    id: u32,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.cancel(self.id);
        }
    }
}
