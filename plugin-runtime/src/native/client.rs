//! The host's end: one connection, many calls at once, matched to their replies by id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt as _;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;
use tonic::Status;

use super::frame::{self, Frame, FrameCodec, Incoming};
use super::writer::write_frames;
use crate::transport::codec::{MessageLimits, Outgoing};
use crate::transport::io::BoxedIo;

type Reply = Result<Bytes, Status>;

/// The host's native connection to one plugin; cheap to clone. Closed (its tasks stopped)
/// when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct NativeClient {
    shared: Arc<Shared>,
}

struct Shared {
    frames: mpsc::UnboundedSender<Bytes>,
    /// Calls awaiting their reply; `None` once the connection is lost, with why.
    pending: Mutex<Result<HashMap<u32, oneshot::Sender<Reply>>, String>>,
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
    /// task and a reader task that hands every reply to its caller.
    pub(crate) async fn start(mut io: BoxedIo, limits: MessageLimits) -> std::io::Result<Self> {
        io.write_all(frame::PREFACE).await?;
        io.flush().await?;
        let (read, write) = tokio::io::split(io);
        let (frames, queued) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_frames(write, queued));
        let shared = Arc::new_cyclic(|weak: &std::sync::Weak<Shared>| {
            let weak = weak.clone();
            let reader = tokio::spawn(async move {
                let mut frames = FramedRead::new(read, FrameCodec::new(limits.max_decode));
                let why = loop {
                    let next = match frames.next().await {
                        None => break "the plugin closed the native connection".to_string(),
                        Some(Err(e)) => break format!("reading from the plugin failed: {e}"),
                        Some(Ok(next)) => next,
                    };
                    let Some(shared) = weak.upgrade() else { return };
                    match next {
                        Incoming::Frame(frame) => shared.answer(frame),
                        Incoming::TooLarge { id, size, max } => {
                            shared.finish(id, Err(frame::too_large("reply", size, max)));
                        }
                    }
                };
                if let Some(shared) = weak.upgrade() {
                    shared.lost(why);
                }
            });
            Shared {
                frames,
                pending: Mutex::new(Ok(HashMap::new())),
                next_id: AtomicU32::new(1),
                limits,
                tasks: vec![writer.abort_handle(), reader.abort_handle()],
            }
        });
        Ok(NativeClient { shared })
    }

    /// Makes one unary call of `path`. Dropping the future cancels the call on the plugin too.
    pub(crate) async fn unary(&self, path: &str, request: &dyn Outgoing) -> Reply {
        let shared = &self.shared;
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let call = frame::call(id, path, request, shared.limits.max_encode)?;
        let (tx, rx) = oneshot::channel();
        match &mut *shared.lock() {
            Ok(pending) => {
                pending.insert(id, tx);
            }
            Err(why) => return Err(Status::unavailable(why.clone())),
        }
        let mut guard = CancelOnDrop {
            shared,
            id,
            armed: true,
        };
        if shared.frames.send(call).is_err() {
            return Err(Status::unavailable(
                "the native connection's writer stopped",
            ));
        }
        let reply = rx.await;
        guard.armed = false;
        reply.unwrap_or_else(|_| Err(Status::unavailable("the native connection was lost")))
    }
}

impl Shared {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, Result<HashMap<u32, oneshot::Sender<Reply>>, String>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands a reply to its caller.
    fn answer(&self, frame: Frame) {
        let max = self.limits.max_decode;
        let reply = match frame.kind {
            frame::REPLY if frame.body.len() > max => {
                Err(frame::too_large("reply", frame.body.len(), max))
            }
            frame::REPLY => Ok(frame.body),
            frame::ERROR => Err(frame::parse_error(frame.body)),
            other => Err(Status::internal(format!(
                "the plugin sent a native frame of unknown kind {other}"
            ))),
        };
        self.finish(frame.id, reply);
    }

    /// Ends call `id` (gone callers, and so stray ids, are ignored).
    fn finish(&self, id: u32, reply: Reply) {
        let waiter = match &mut *self.lock() {
            Ok(pending) => pending.remove(&id),
            Err(_) => None,
        };
        if let Some(waiter) = waiter {
            let _ = waiter.send(reply);
        }
    }

    /// The connection is gone: every call waiting fails, and every later one at once.
    fn lost(&self, why: String) {
        tracing::debug!(reason = %why, "native connection lost");
        let before = std::mem::replace(&mut *self.lock(), Err(why.clone()));
        if let Ok(pending) = before {
            for (_, waiter) in pending {
                let _ = waiter.send(Err(Status::unavailable(why.clone())));
            }
        }
    }
}

/// Tells the plugin to drop a call its caller gave up on.
struct CancelOnDrop<'a> {
    shared: &'a Shared,
    id: u32,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(pending) = &mut *self.shared.lock() {
            pending.remove(&self.id);
        }
        let _ = self.shared.frames.send(frame::cancel(self.id));
    }
}
