//! Callbacks between two processes of this SDK as extra streams of one connection: go-plugin's
//! `MuxBroker` (the dialler writes the id first, the acceptor acknowledges it) over a yamux
//! session that the host opens to the plugin's socket once, beside the native connection, on
//! the first callback either side serves or dials. Each stream then carries a native session of
//! its own (preface, frames), so a callback costs a stream, not a socket and a TLS handshake.

use std::sync::Mutex;

use tokio::io::AsyncWriteExt as _;
use tokio::sync::Notify;

use super::{BrokerError, GrpcBroker, WAIT};
use crate::native::{MUX_PREFACE, NativeClient, Services};
use crate::netrpc::{MuxBroker, NetRpcError};
use crate::transport::io::{BoxedIo, dial_secured, within};
use crate::transport::mux::{Mode, Mux};
use crate::transport::serve::Sorter;

/// The session of one host and plugin, once it is up.
#[derive(Default)]
pub(crate) struct NativeSession {
    broker: Mutex<Option<MuxBroker>>,
    /// Told when the session arrives (the plugin waits for the host to open it).
    arrived: Notify,
    /// One opening at a time (host).
    opening: tokio::sync::Mutex<()>,
}

impl NativeSession {
    fn get(&self) -> Option<MuxBroker> {
        self.broker.lock().ok().and_then(|b| b.clone())
    }

    fn set(&self, broker: MuxBroker) {
        if let Ok(mut slot) = self.broker.lock() {
            *slot = Some(broker);
        }
        self.arrived.notify_waiters();
    }

    /// Ends the session (the broker closed).
    pub(crate) fn close(&self) {
        if let Ok(mut slot) = self.broker.lock() {
            slot.take();
        }
    }
}

impl GrpcBroker {
    /// Plugin side: the session the host opened (its preface already read). The host opens
    /// one; another (a stranger on a plaintext socket) is refused rather than let take over
    /// the callbacks.
    pub(crate) fn adopt_native_session(&self, io: BoxedIo) {
        if self.is_closed() {
            return;
        }
        if self.shared.native_session.get().is_some() {
            tracing::warn!("refused a second callbacks' session: the host opened one already");
            drop(io);
            return;
        }
        let (session, inbound) = Mux::start(io, Mode::Server);
        let broker = MuxBroker::start(session, inbound, &self.shared.setup.peer);
        self.shared.native_session.set(broker);
        tracing::debug!("the host opened the callbacks' session");
    }

    /// The session: opened now on the host if it is not up yet; waited for (5 s) on the plugin.
    async fn native_session(&self, id: u32) -> Result<MuxBroker, BrokerError> {
        self.check_open()?;
        let session = &self.shared.native_session;
        let Some(main) = self.shared.setup.main.clone() else {
            // The plugin: the host opens it.
            let waited = within(WAIT, async {
                loop {
                    let arrived = session.arrived.notified();
                    if let Some(broker) = session.get() {
                        return Ok(broker);
                    }
                    arrived.await;
                }
            });
            return waited
                .await
                .map_err(|source| self.session_error(id, source));
        };
        let _one = session.opening.lock().await;
        if let Some(broker) = session.get() {
            return Ok(broker);
        }
        let tls = self.shared.setup.client_tls.clone();
        let open = async {
            let mut io = dial_secured(&main, tls.as_deref()).await?;
            io.write_all(MUX_PREFACE).await?;
            io.flush().await?;
            Ok(io)
        };
        let io = within(WAIT, open)
            .await
            .map_err(|source| self.session_error(id, source))?;
        let (mux, inbound) = Mux::start(io, Mode::Client);
        let broker = MuxBroker::start(mux, inbound, &self.shared.setup.peer);
        session.set(broker.clone());
        Ok(broker)
    }

    fn session_error(&self, id: u32, source: std::io::Error) -> BrokerError {
        BrokerError::Connect {
            id,
            address: "the callbacks' session".into(),
            source,
        }
    }

    fn stream_error(&self, id: u32, error: NetRpcError) -> BrokerError {
        self.session_error(id, std::io::Error::other(error.to_string()))
    }

    /// Serves a callback as stream `id` of the session, for the peer's one dial (waited for
    /// twice the dial's wait); served until the peer drops what it dialled.
    pub(crate) fn serve_on_session(&self, id: u32, sorter: Sorter) {
        let broker = self.clone();
        let mut closed = self.shared.closed.subscribe();
        tokio::spawn(async move {
            let served = async {
                let session = broker.native_session(id).await?;
                // MuxBroker waits 5 s for a stream; a stream early waits 5 s for us.
                let stream = match session.accept(id).await {
                    Ok(stream) => stream,
                    Err(_) => session
                        .accept(id)
                        .await
                        .map_err(|e| broker.stream_error(id, e))?,
                };
                sorter(stream.0).await;
                Ok::<(), BrokerError>(())
            };
            tokio::select! {
                result = served => {
                    if let Err(e) = result {
                        tracing::debug!(id, error = %e, "a callback was not dialled");
                    }
                }
                _ = closed.wait_for(|closed| *closed) => {}
            }
        });
    }

    /// The native connection to the callback the peer serves as stream `id` of the session.
    pub(crate) async fn dial_on_session(&self, id: u32) -> Result<NativeClient, BrokerError> {
        self.check_dial(id)?;
        let session = self.native_session(id).await?;
        // Neither the acknowledgement nor the (empty) list of gRPC-only services is waited
        // for: the first call goes out with the id and the preface.
        let stream = session
            .dial_pipelined(id)
            .await
            .map_err(|e| self.stream_error(id, e))?;
        within(
            WAIT,
            NativeClient::start(stream.0, self.shared.setup.limits, Services::None),
        )
        .await
        .map_err(|source| self.session_error(id, source))
    }
}
