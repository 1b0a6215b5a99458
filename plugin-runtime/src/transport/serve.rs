//! Serving gRPC routes on a listener: the plugin's main server, and every brokered server on
//! either side.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Routes;

use super::authority::AnyAuthority;
use super::channel::{CONNECTION_WINDOW, MAX_FRAME, STREAM_WINDOW};
use super::io::{BoxedIo, forward_writes};
use super::listener::Listener;
use crate::tls::ServerTls;

/// Sees every connection first (after TLS): serves it itself and returns `None`, or hands it
/// back for gRPC. How another protocol shares the listener without this module knowing it.
pub(crate) type Sorter = std::sync::Arc<
    dyn Fn(BoxedIo) -> futures::future::BoxFuture<'static, Option<BoxedIo>> + Send + Sync,
>;

/// Serves `routes` on the connections `listener` accepts (TLS first when `tls` is set), every
/// connection going through `sorter` first when it is set, until `stop` completes and the open
/// calls end. The listener (and its socket file) goes when this future ends or is dropped.
pub(crate) async fn serve_routes_sorted(
    listener: Listener,
    tls: Option<ServerTls>,
    routes: Routes,
    sorter: Option<Sorter>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (conns, incoming) = mpsc::channel::<std::io::Result<BoxedIo>>(16);
    let server = tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .add_routes(routes)
        .serve_with_incoming_shutdown(served(incoming), stop);
    // One future with the server, not a task: dropping it drops the listener at once.
    let accept = accept_loop(listener, tls, conns, sorter);
    tokio::pin!(server, accept);
    tokio::select! {
        result = &mut server => result,
        () = &mut accept => server.await,
    }
}

/// Serves `routes` on the first connection `listener` accepts within `wait` (TLS first when
/// set), closing the listener right after; ends when that connection closes or `stop`
/// completes. A connection that fails its TLS handshake does not count.
pub(crate) async fn serve_one_connection(
    listener: Listener,
    tls: Option<ServerTls>,
    routes: Routes,
    stop: impl Future<Output = ()> + Send + 'static,
    wait: Duration,
) -> Result<(), tonic::transport::Error> {
    let mut stop = Box::pin(stop);
    let first = tokio::select! {
        io = tokio::time::timeout(wait, accept_first(&listener, tls.as_ref())) => io.ok(),
        () = &mut stop => None,
    };
    drop(listener);
    let Some(io) = first else {
        return Ok(());
    };
    let (gone, gone_rx) = tokio::sync::oneshot::channel::<()>();
    let (conns, incoming) = mpsc::channel::<std::io::Result<BoxedIo>>(1);
    // Holding `conns` open: an ended incoming stream would shut the connection down.
    let _ = conns
        .send(Ok(BoxedIo::new(Watched {
            io,
            gone: Some(gone),
        })))
        .await;
    let shutdown = async move {
        tokio::select! {
            _ = gone_rx => {}
            () = stop => {}
        }
    };
    let result = tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .add_routes(routes)
        .serve_with_incoming_shutdown(served(incoming), shutdown)
        .await;
    drop(conns);
    result
}

/// Where every connection a server accepts (main socket, TCP, brokered, multiplexed; after TLS)
/// reaches tonic: behind [`AnyAuthority`], so that hosts whose gRPC stack sends an odd
/// `:authority` are served.
fn served(
    incoming: mpsc::Receiver<std::io::Result<BoxedIo>>,
) -> impl tokio_stream::Stream<Item = std::io::Result<AnyAuthority<BoxedIo>>> {
    ReceiverStream::new(incoming).map(|conn| conn.map(AnyAuthority::new))
}

/// The first connection that completes its TLS handshake (or any, without TLS). Handshakes
/// run side by side, so a stranger that stalls one does not hold the place of the real peer.
async fn accept_first(listener: &Listener, tls: Option<&ServerTls>) -> BoxedIo {
    let Some(tls) = tls else {
        return accept(listener).await;
    };
    // Dropped on return: the handshakes still running are abandoned.
    let mut handshakes = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            io = accept(listener) => {
                let tls = tls.clone();
                handshakes.spawn(async move { secured(io, Some(&tls)).await });
            }
            Some(done) = handshakes.join_next(), if !handshakes.is_empty() => {
                if let Ok(Some(io)) = done {
                    return io;
                }
            }
        }
    }
}

/// A connection that says when it is dropped (the peer closed it, or the server let it go).
struct Watched {
    io: BoxedIo,
    gone: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(gone) = self.gone.take() {
            let _ = gone.send(());
        }
    }
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

forward_writes!(Watched, io);

/// Accepts connections for gRPC, and for `sorter` first when it is set (those it keeps are
/// served there). A plaintext connection without a sorter goes to gRPC at once, bound to
/// speak in time ([`Spoken`]); the others are vetted in a task of their own, so a stalled
/// stranger blocks no one. The tasks stop with this future.
async fn accept_loop(
    listener: Listener,
    tls: Option<ServerTls>,
    conns: mpsc::Sender<std::io::Result<BoxedIo>>,
    sorter: Option<Sorter>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let io = accept(&listener).await;
        while connections.try_join_next().is_some() {}
        if tls.is_none() && sorter.is_none() {
            // No task between: h2 sends its SETTINGS as soon as the server takes it.
            let _ = conns.send(Ok(Spoken::boxed(io))).await;
            continue;
        }
        let (tls, conns, sorter) = (tls.clone(), conns.clone(), sorter.clone());
        connections.spawn(async move {
            let Some(io) = secured(io, tls.as_ref()).await else {
                return;
            };
            let io = match sorter {
                // The sorter reads the first bytes itself, under the same timeout.
                Some(sorter) => sorter(io).await,
                // Past the TLS handshake, the peer is the one the certificates let in.
                None => Some(io),
            };
            if let Some(io) = io {
                let _ = conns.send(Ok(io)).await;
            }
        });
    }
}

/// A plaintext connection that must send its first bytes within [`CONNECTION_TIMEOUT`]: until
/// it has, a read still waiting at the deadline fails, and the server lets the connection go.
/// h2 would otherwise wait for an HTTP/2 preface, and keep the descriptor, for ever.
struct Spoken {
    io: BoxedIo,
    /// Until the first bytes.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Spoken {
    fn boxed(io: BoxedIo) -> BoxedIo {
        BoxedIo::new(Spoken {
            io,
            deadline: Some(Box::pin(tokio::time::sleep(CONNECTION_TIMEOUT))),
        })
    }
}

impl tokio::io::AsyncRead for Spoken {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                self.deadline = None;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match self.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    tracing::warn!(
                        "refused a connection: nothing sent within {CONNECTION_TIMEOUT:?}"
                    );
                    Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the peer sent nothing in time",
                    )))
                }
                _ => Poll::Pending,
            },
            other => other,
        }
    }
}

forward_writes!(Spoken, io);

/// How long a connection may take over its TLS handshake, and then over the first bytes that
/// say its protocol (grpc-go's `ConnectionTimeout`): a stranger that starts one and stalls does
/// not keep its descriptor for ever.
pub(crate) const CONNECTION_TIMEOUT: Duration = Duration::from_secs(120);

/// `io` after its TLS handshake when `tls` is set (as it is, without); `None`, logged, when the
/// handshake fails or stalls past [`CONNECTION_TIMEOUT`].
pub(crate) async fn secured(io: BoxedIo, tls: Option<&ServerTls>) -> Option<BoxedIo> {
    let Some(tls) = tls else {
        return Some(io);
    };
    match tokio::time::timeout(CONNECTION_TIMEOUT, tls.accept(io)).await {
        Ok(Ok(stream)) => Some(BoxedIo::new(stream)),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "refused a connection: TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::warn!("refused a connection: no TLS handshake within {CONNECTION_TIMEOUT:?}");
            None
        }
    }
}

/// The next connection; a failed accept (out of descriptors, say) is logged and retried.
pub(crate) async fn accept(listener: &Listener) -> BoxedIo {
    loop {
        match listener.accept().await {
            Ok(io) => return io,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::UnixStream;

    use super::*;
    use crate::transport::listener::{SocketPlace, listen_unix};

    /// A plaintext gRPC server with no routes, on a fresh socket in `dir`; its path.
    fn server(dir: &std::path::Path) -> std::path::PathBuf {
        let place = SocketPlace {
            dir: Some(dir.to_path_buf()),
            group: None,
        };
        let listener = listen_unix(&place).unwrap();
        let path = listener.address().unwrap().address.into();
        tokio::spawn(serve_routes_sorted(
            listener,
            None,
            Routes::default(),
            None,
            std::future::pending(),
        ));
        path
    }

    /// Such a server in a fresh directory (kept while the test runs), and a connection to it.
    async fn connected() -> (tempfile::TempDir, std::path::PathBuf, UnixStream) {
        let dir = tempfile::tempdir().unwrap();
        let path = server(dir.path());
        let peer = UnixStream::connect(&path).await.unwrap();
        (dir, path, peer)
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_stranger_is_let_go_and_a_speaking_peer_is_served() {
        let (_dir, path, mut silent) = connected().await;
        let started = tokio::time::Instant::now();
        // It gets h2's SETTINGS, sent at once, then its end.
        let mut got = Vec::new();
        let ended =
            tokio::time::timeout(2 * CONNECTION_TIMEOUT, silent.read_to_end(&mut got)).await;
        assert!(
            matches!(ended, Ok(Ok(_))),
            "the stranger was kept: {ended:?}, after reading {got:?}"
        );
        assert!(started.elapsed() >= CONNECTION_TIMEOUT);
        assert_eq!(got.get(3), Some(&0x4), "not a SETTINGS frame: {got:?}");

        // A peer that speaks is served: h2 answers the preface.
        let mut peer = UnixStream::connect(&path).await.unwrap();
        peer.write_all(PREFACE).await.unwrap();
        let mut head = [0u8; 9];
        peer.read_exact(&mut head).await.unwrap();
        assert_eq!(head[3], 0x4, "not a SETTINGS frame: {head:?}");
    }

    /// The client preface with an empty SETTINGS frame.
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

    /// Reads frames until h2's PING acknowledgement; `None` when the connection ends first.
    async fn ping_ack(peer: &mut UnixStream) -> Option<()> {
        loop {
            let mut head = [0u8; 9];
            peer.read_exact(&mut head).await.ok()?;
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let mut payload = vec![0u8; len];
            peer.read_exact(&mut payload).await.ok()?;
            if head[3] == 0x6 && head[4] & 0x1 == 0x1 {
                return Some(());
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_spoke_is_kept_past_the_deadline() {
        let (_dir, _, mut peer) = connected().await;
        peer.write_all(PREFACE).await.unwrap();
        // Idle past the deadline (paused time moves on when everything waits).
        tokio::time::sleep(2 * CONNECTION_TIMEOUT).await;
        peer.write_all(b"\0\0\x08\x06\0\0\0\0\0pingpong")
            .await
            .unwrap();
        assert_eq!(
            ping_ack(&mut peer).await,
            Some(()),
            "the connection was dropped at the deadline although the peer had spoken"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_closes_at_once_is_let_go_at_once() {
        let (_dir, _, mut peer) = connected().await;
        let started = tokio::time::Instant::now();
        peer.shutdown().await.unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        assert!(
            started.elapsed() < CONNECTION_TIMEOUT,
            "the server waited for the deadline: {:?}",
            started.elapsed()
        );
    }
}
