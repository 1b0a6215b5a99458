//! A yamux session over one connection (go-plugin's multiplexed mode uses hashicorp/yamux,
//! whose framing the `yamux` crate speaks): a handle that opens streams, and the streams the
//! peer opens, delivered in order.

use std::collections::VecDeque;
use std::io;
use std::task::Poll;

use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{FuturesAsyncReadCompatExt as _, TokioAsyncReadCompatExt as _};

use super::io::BoxedIo;

/// Streams the peer opened and nobody took yet; more are refused (reset) until some are.
const INBOUND_QUEUE: usize = 32;

/// Which end of the session this side is (the host dials: client).
pub(crate) use yamux::Mode;

type OpenReply = oneshot::Sender<io::Result<BoxedIo>>;

/// Opens streams on a session; cheap to clone. The session ends when every handle and the
/// inbound receiver are dropped, or the connection fails.
#[derive(Clone, Debug)]
pub(crate) struct Mux {
    opens: mpsc::Sender<OpenReply>,
}

impl Mux {
    /// Starts a session over `io`; returns the handle and the streams the peer opens.
    pub(crate) fn start(io: BoxedIo, mode: Mode) -> (Mux, mpsc::Receiver<BoxedIo>) {
        let connection = yamux::Connection::new(io.compat(), yamux::Config::default(), mode);
        let (opens, open_requests) = mpsc::channel(INBOUND_QUEUE);
        let (inbound, streams) = mpsc::channel(INBOUND_QUEUE);
        tokio::spawn(drive(connection, open_requests, inbound));
        (Mux { opens }, streams)
    }

    /// A new stream to the peer.
    pub(crate) async fn open(&self) -> io::Result<BoxedIo> {
        let (reply, answer) = oneshot::channel();
        let gone = || io::Error::new(io::ErrorKind::NotConnected, "the yamux session has ended");
        self.opens.send(reply).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Polls the session: opens what is asked for, hands on what the peer opens, until it ends.
async fn drive(
    mut connection: yamux::Connection<tokio_util::compat::Compat<BoxedIo>>,
    mut open_requests: mpsc::Receiver<OpenReply>,
    inbound: mpsc::Sender<BoxedIo>,
) {
    let mut waiting: VecDeque<OpenReply> = VecDeque::new();
    let mut requests_open = true;
    let ended = std::future::poll_fn(|cx| {
        loop {
            let mut progressed = false;
            while requests_open {
                match open_requests.poll_recv(cx) {
                    Poll::Ready(Some(reply)) => waiting.push_back(reply),
                    Poll::Ready(None) => requests_open = false,
                    Poll::Pending => break,
                }
            }
            while !waiting.is_empty() {
                match connection.poll_new_outbound(cx) {
                    Poll::Ready(result) => {
                        if let Some(reply) = waiting.pop_front() {
                            let stream = result
                                .map(|s| BoxedIo::new(s.compat()))
                                .map_err(io::Error::other);
                            let _ = reply.send(stream);
                        }
                        progressed = true;
                    }
                    Poll::Pending => break,
                }
            }
            match connection.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(stream))) => {
                    if inbound.try_send(BoxedIo::new(stream.compat())).is_err() {
                        tracing::debug!("refused a stream from the peer: nobody takes them");
                    }
                    progressed = true;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(e)),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {}
            }
            if !requests_open && inbound.is_closed() {
                return Poll::Ready(None);
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    });
    if let Some(e) = ended.await {
        tracing::debug!(error = %e, "the yamux session ended");
    }
    for reply in waiting {
        let _ = reply.send(Err(io::Error::new(
            io::ErrorKind::NotConnected,
            "the yamux session has ended",
        )));
    }
}
