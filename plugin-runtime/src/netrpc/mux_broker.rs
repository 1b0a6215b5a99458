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

    /// Like [`MuxBroker::dial`], without waiting for the acknowledgement: the id goes out and
    /// the stream comes back at once, its first read checking the acknowledgement. For peers
    /// of this SDK (the callbacks' session), whose first bytes on the stream come only after
    /// it: a round trip saved on every callback dialled.
    pub(crate) async fn dial_pipelined(&self, id: u32) -> Result<MuxStream, NetRpcError> {
        let mut stream = self.inner.session.open().await.map_err(|_| self.ended())?;
        stream
            .write_all(&id.to_le_bytes())
            .await
            .map_err(|e| NetRpcError::io(format!("dialling MuxBroker id {id}"), e))?;
        Ok(MuxStream(BoxedIo::new(Acked {
            io: stream,
            id,
            ack: [0; 4],
            read: 0,
            refused: None,
        })))
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

/// A dialled stream whose acknowledgement is still to be read: its first bytes, checked
/// before anything else is read.
struct Acked {
    io: BoxedIo,
    id: u32,
    ack: [u8; 4],
    read: usize,
    /// Why the stream was refused: every later read says it again.
    refused: Option<String>,
}

impl AsyncRead for Acked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(why) = &this.refused {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                why.clone(),
            )));
        }
        while this.read < this.ack.len() {
            let mut rest = ReadBuf::new(&mut this.ack[this.read..]);
            std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut rest))?;
            let n = rest.filled().len();
            if n == 0 {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "the peer closed the stream of MuxBroker id {} without acknowledging it \
                         (nothing is served under that id)",
                        this.id
                    ),
                )));
            }
            this.read += n;
            if this.read == this.ack.len() && u32::from_le_bytes(this.ack) != this.id {
                let why = NetRpcError::BadAck {
                    got: u32::from_le_bytes(this.ack),
                    expected: this.id,
                }
                .to_string();
                this.refused = Some(why.clone());
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    why,
                )));
            }
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

crate::transport::io::forward_writes!(Acked, io);

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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::transport::mux::Mode;

    /// Both ends of a session over a socket pair.
    fn pair() -> (MuxBroker, MuxBroker) {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (client, client_in) = Mux::start(BoxedIo::new(a), Mode::Client);
        let (server, server_in) = Mux::start(BoxedIo::new(b), Mode::Server);
        (
            MuxBroker::start(client, client_in, "plugin"),
            MuxBroker::start(server, server_in, "host"),
        )
    }

    #[tokio::test]
    async fn a_pipelined_dial_carries_bytes_both_ways_after_the_acknowledgement() {
        let (dialler, acceptor) = pair();
        let mut dialled = dialler.dial_pipelined(7).await.unwrap();
        // Written before the acceptor even accepted: it reads them after the id.
        dialled.write_all(b"ping").await.unwrap();
        let mut accepted = acceptor.accept(7).await.unwrap();
        let mut got = [0u8; 4];
        accepted.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        accepted.write_all(b"pong").await.unwrap();
        dialled.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong", "the acknowledgement is not handed on");
    }

    #[tokio::test]
    async fn a_pipelined_dial_answered_with_another_id_is_refused_on_every_read() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (client, client_in) = Mux::start(BoxedIo::new(a), Mode::Client);
        let dialler = MuxBroker::start(client, client_in, "plugin");
        // A raw peer that acknowledges the wrong id.
        let (_server, mut server_in) = Mux::start(BoxedIo::new(b), Mode::Server);
        let mut dialled = dialler.dial_pipelined(5).await.unwrap();
        let mut peer = server_in.recv().await.unwrap();
        let mut id = [0u8; 4];
        peer.read_exact(&mut id).await.unwrap();
        assert_eq!(u32::from_le_bytes(id), 5);
        peer.write_all(&6u32.to_le_bytes()).await.unwrap();
        peer.write_all(b"data").await.unwrap();
        let mut byte = [0u8; 1];
        for _ in 0..2 {
            let err = dialled.read(&mut byte).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
            assert!(
                err.to_string().contains('6') && err.to_string().contains('5'),
                "{err}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pipelined_dial_of_an_id_nobody_accepts_fails_its_first_read_naming_the_id() {
        let (dialler, _acceptor) = pair();
        let mut dialled = dialler.dial_pipelined(9).await.unwrap();
        let mut byte = [0u8; 1];
        let err = dialled.read(&mut byte).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("MuxBroker id 9") && text.contains("nothing is served under that id"),
            "{text}"
        );
    }
}
