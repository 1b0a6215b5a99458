//! go-plugin's `MuxBroker`: extra streams on the net/rpc session, found by id. The dialler
//! opens a stream and writes the id (4 bytes, little-endian); the acceptor answers with the
//! same 4 bytes. Each side waits 5 s: an accept for its stream, a parked stream for its accept.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::sync::{mpsc, oneshot};

use super::{NetRpcError, RpcClient, RpcServer};
use crate::transport::io::BoxedIo;
use crate::transport::mux::Mux;

/// How long an accept waits for its stream, and a stream for its accept (go-plugin's 5 s).
const WAIT: Duration = Duration::from_secs(5);

/// A stream brokered over the net/rpc session: raw bytes both ways.
pub struct MuxStream(pub(crate) BoxedIo);

impl std::fmt::Debug for MuxStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MuxStream")
    }
}

impl AsyncRead for MuxStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for MuxStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A stream the peer dialled, or an accept waiting for one.
enum Slot {
    Parked { stream: BoxedIo, token: u64 },
    Waiting(oneshot::Sender<BoxedIo>),
}

#[derive(Default)]
struct Slots {
    by_id: Mutex<HashMap<u32, Slot>>,
    tokens: AtomicU64,
}

impl Slots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Slot>> {
        self.by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A stream the peer dialled for `id`: to its waiting accept, or parked for 5 s.
    fn arrive(self: &Arc<Self>, id: u32, stream: BoxedIo) {
        let mut slots = self.lock();
        let stream = match slots.remove(&id) {
            Some(Slot::Waiting(accept)) => match accept.send(stream) {
                Ok(()) => return,
                // The accept gave up in the meantime: park it for a later one.
                Err(stream) => stream,
            },
            Some(parked @ Slot::Parked { .. }) => {
                // One stream per id, as go-plugin's one-slot channel: extra ones are dropped.
                slots.insert(id, parked);
                return;
            }
            None => stream,
        };
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        slots.insert(id, Slot::Parked { stream, token });
        let slots = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(WAIT).await;
            if let Some(slots) = slots.upgrade() {
                let mut by_id = slots.lock();
                if matches!(by_id.get(&id), Some(Slot::Parked { token: t, .. }) if *t == token) {
                    tracing::debug!(id, "closed a brokered stream nobody accepted within 5 s");
                    by_id.remove(&id);
                }
            }
        });
    }
}

/// go-plugin's `MuxBroker` for net/rpc plugins: reserve an id with [`MuxBroker::next_id`],
/// hand it to the peer in a call, and [`accept`](MuxBroker::accept) (or
/// [`accept_and_serve`](MuxBroker::accept_and_serve)) while the peer
/// [`dial`](MuxBroker::dial)s it. Cheap to clone.
#[derive(Clone)]
pub struct MuxBroker {
    inner: Arc<Inner>,
}

struct Inner {
    next_id: AtomicU32,
    session: Mux,
    slots: Arc<Slots>,
    peer: String,
    run: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.run.abort();
    }
}

impl std::fmt::Debug for MuxBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MuxBroker")
            .field("peer", &self.inner.peer)
            .finish_non_exhaustive()
    }
}

impl MuxBroker {
    /// A broker on `session`, taking the streams the peer opens from `inbound` (go-plugin's
    /// `Run`).
    pub(crate) fn start(session: Mux, inbound: mpsc::Receiver<BoxedIo>, peer: &str) -> Self {
        let slots = Arc::new(Slots::default());
        let run = tokio::spawn(run(inbound, Arc::downgrade(&slots)));
        MuxBroker {
            inner: Arc::new(Inner {
                next_id: AtomicU32::new(0),
                session,
                slots,
                peer: peer.to_string(),
                run,
            }),
        }
    }

    /// A new id for a stream this side will accept (the first is 1).
    pub fn next_id(&self) -> u32 {
        self.inner
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
    }

    /// The stream the peer dials as `id`, waiting up to 5 s for it; acknowledges it.
    pub async fn accept(&self, id: u32) -> Result<MuxStream, NetRpcError> {
        let parked = {
            let mut slots = self.inner.slots.lock();
            match slots.remove(&id) {
                Some(Slot::Parked { stream, .. }) => Ok(stream),
                _ => {
                    let (tx, rx) = oneshot::channel();
                    slots.insert(id, Slot::Waiting(tx));
                    Err(rx)
                }
            }
        };
        let mut stream = match parked {
            Ok(stream) => stream,
            Err(rx) => match tokio::time::timeout(WAIT, rx).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(_)) => return Err(self.ended()),
                Err(_) => {
                    let mut slots = self.inner.slots.lock();
                    if matches!(slots.get(&id), Some(Slot::Waiting(_))) {
                        slots.remove(&id);
                    }
                    return Err(NetRpcError::AcceptTimeout { id });
                }
            },
        };
        stream
            .write_all(&id.to_le_bytes())
            .await
            .map_err(|e| NetRpcError::io(format!("acknowledging MuxBroker id {id}"), e))?;
        Ok(MuxStream(stream))
    }

    /// Opens a stream to what the peer accepts as `id` (go-plugin's `Dial`).
    pub async fn dial(&self, id: u32) -> Result<MuxStream, NetRpcError> {
        let mut stream = self.inner.session.open().await.map_err(|_| self.ended())?;
        let context = || format!("dialling MuxBroker id {id}");
        stream
            .write_all(&id.to_le_bytes())
            .await
            .map_err(|e| NetRpcError::io(context(), e))?;
        let mut ack = [0u8; 4];
        stream
            .read_exact(&mut ack)
            .await
            .map_err(|e| NetRpcError::io(format!("{}: no acknowledgement", context()), e))?;
        let got = u32::from_le_bytes(ack);
        if got != id {
            return Err(NetRpcError::BadAck { got, expected: id });
        }
        Ok(MuxStream(stream))
    }

    /// Accepts `id` and serves `server` on it until the peer closes it (go-plugin's
    /// `AcceptAndServe`, whose service name is `Plugin`).
    pub async fn accept_and_serve(&self, id: u32, server: RpcServer) -> Result<(), NetRpcError> {
        let stream = self.accept(id).await?;
        server.serve(stream.0).await;
        Ok(())
    }

    /// A net/rpc client on the stream the peer serves as `id`.
    pub async fn dial_client(&self, id: u32) -> Result<RpcClient, NetRpcError> {
        let stream = self.dial(id).await?;
        Ok(RpcClient::new(stream.0, &self.inner.peer, None))
    }

    fn ended(&self) -> NetRpcError {
        NetRpcError::SessionEnded {
            peer: self.inner.peer.clone(),
        }
    }
}

/// Reads the id of every stream the peer opens and parks it (go-plugin's `Run`).
async fn run(mut inbound: mpsc::Receiver<BoxedIo>, slots: std::sync::Weak<Slots>) {
    while let Some(mut stream) = inbound.recv().await {
        let slots = slots.clone();
        // Each id read on its own: a peer that stalls one stream holds up no other.
        tokio::spawn(async move {
            let mut id = [0u8; 4];
            match tokio::time::timeout(WAIT, stream.read_exact(&mut id)).await {
                Ok(Ok(_)) => {
                    if let Some(slots) = slots.upgrade() {
                        slots.arrive(u32::from_le_bytes(id), stream);
                    }
                }
                _ => tracing::debug!("dropped a brokered stream that sent no id"),
            }
        });
    }
}
