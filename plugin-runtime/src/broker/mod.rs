//! go-plugin's `GRPCBroker`: either side serves extra gRPC servers, each known by a `u32` id,
//! and the other side dials them by that id. The ids travel inside the application's own
//! messages; the connection details travel on one control stream,
//! `plugin.GRPCBroker/StartStream`, that the host opens on the main connection.
//!
//! Each brokered server listens on a unix socket of its own (go-plugin's non-multiplexed mode),
//! made like the plugin's main socket, with the same TLS as the main connection in both
//! directions: with AutoMTLS each side presents its one-time certificate and accepts only the
//! other's.

mod control;
mod mux;
mod pending;
mod session;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use plugin_core::Network;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::service::Routes;

pub(crate) use control::BrokerService;
use mux::Knocked;
pub(crate) use mux::MuxState;
use pending::Pending;

use crate::exit::ExitWatch;
use crate::native::{NativeClient, Services};
use crate::proto::ConnInfo;
use crate::proto::conn_info::Knock;
use crate::runner::AddrTranslator;
use crate::tls::{ClientTls, ServerTls};
use crate::transport::channel::GrpcChannel;
use crate::transport::codec::MessageLimits;
use crate::transport::io::{Address, channel_over, connect_channel, dial_secured, within};
use crate::transport::listener::{ListenError, Listener, SocketPlace, listen_unix};
use crate::transport::serve::{Sorter, serve_one_connection, serve_routes_sorted};

/// How long a dial waits for the peer's connection info, and how long an unclaimed one is kept
/// (go-plugin's 5 s, both).
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// How long a stopped brokered server waits for its open calls before it lets go of them.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Peer sockets remembered for cleaning up after a crash.
const MAX_PEER_SOCKETS: usize = 1024;

/// Brokers extra connections between a host and its plugin (go-plugin's `GRPCBroker`). Cheap to
/// clone; every clone is the same broker.
///
/// One side serves an implementation under a fresh id ([`GrpcBroker::next_id`],
/// [`GrpcBroker::accept_and_serve`]) and sends the id to the other side in one of its own
/// messages; the other side dials it ([`GrpcBroker::dial`]). A host gets its broker from
/// [`Client::broker`](crate::Client::broker); code serving a call (in a plugin, or in a
/// brokered server on the host) gets the broker of that connection from
/// [`GrpcBroker::current`].
///
/// ```no_run
/// # use plugin_runtime::{GrpcBroker, Plugin};
/// # async fn host(broker: GrpcBroker, helper: impl Plugin) -> Result<(), plugin_runtime::BrokerError> {
/// // Host: serve a helper the plugin can call back, for as long as `server` lives.
/// let id = broker.next_id();
/// let server = broker.accept_and_serve(id, helper).await?;
/// // ... send `id` to the plugin in a request; the plugin calls `dial(id)` ...
/// drop(server);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GrpcBroker {
    shared: Arc<Shared>,
}

struct Shared {
    /// The last id handed out; ids start at 1, as go-plugin's.
    next_id: AtomicU32,
    /// Connection info for the peer, to the control stream.
    out: mpsc::Sender<ConnInfo>,
    /// Connection info from the peer, by id, waiting to be dialled.
    pending: Arc<Pending>,
    closed: watch::Sender<bool>,
    setup: BrokerSetup,
    /// The control stream's own task (host side), ended with the broker.
    stream: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// The unix sockets the peer announced: a host removes those a killed plugin could not.
    peer_sockets: std::sync::Mutex<Vec<std::path::PathBuf>>,
    /// Callbacks' session with a peer of this SDK, once open.
    native_session: session::NativeSession,
    /// The host's: its runner's view of addresses (set once, before any use).
    translator: std::sync::OnceLock<Arc<dyn AddrTranslator>>,
}

/// What brokered connections are made with: the main connection's TLS in both roles, and the
/// socket directory.
#[derive(Clone)]
pub(crate) struct BrokerSetup {
    pub(crate) place: SocketPlace,
    /// For the servers this side brokers.
    pub(crate) server_tls: Option<ServerTls>,
    /// For dialling the peer's brokered servers.
    pub(crate) client_tls: Option<Arc<ClientTls>>,
    /// Without TLS for serving, whether TLS is on at all: then serving is refused rather than
    /// offered in plaintext.
    pub(crate) tls_required: bool,
    /// The peer's name, for errors.
    pub(crate) peer: Arc<str>,
    /// Message sizes on brokered connections, as on the main one.
    pub(crate) limits: MessageLimits,
    /// How the peer ended, for the errors of calls on dialled connections.
    pub(crate) exit: ExitWatch,
    /// Multiplexed mode: brokered connections are streams of the main connection's session.
    pub(crate) mux: Option<Arc<MuxState>>,
    /// Whether the peer is of this SDK and speaks the native transport (the main connection
    /// does): then callbacks travel on it too.
    pub(crate) native: bool,
    /// The host's: the plugin's main address, where it opens the callbacks' session.
    pub(crate) main: Option<Address>,
}

impl std::fmt::Debug for GrpcBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcBroker")
            .field("peer", &self.shared.setup.peer)
            .field("next_id", &self.shared.next_id.load(Ordering::Relaxed))
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// What can go wrong while brokering a connection.
///
/// ```no_run
/// # async fn run(broker: plugin_runtime::GrpcBroker) {
/// use plugin_runtime::BrokerError;
/// match broker.dial(42).await {
///     Err(BrokerError::Timeout { id, .. }) => eprintln!("nobody serves {id}"),
///     Err(e) => eprintln!("{e}"),
///     Ok(_conn) => {}
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The control stream is gone: the plugin exited, the host went away, or the client was
    /// killed.
    #[error("the broker is closed: the connection between host and plugin {peer} has ended")]
    Closed {
        /// The peer's name.
        peer: String,
    },
    /// No connection info for the id arrived within 5 s (go-plugin's wait).
    #[error(
        "timeout waiting for connection info for broker id {id} from {peer}: the other side \
         did not serve that id within 5 s (or served it more than 5 s before this dial)"
    )]
    Timeout {
        /// The id dialled.
        id: u32,
        /// The peer's name.
        peer: String,
    },
    /// The peer's connection info names a network that is neither `unix` nor `tcp`.
    #[error("broker id {id}: unknown address type {network:?} for address {address:?}")]
    UnknownNetwork {
        /// The id dialled.
        id: u32,
        /// The network given.
        network: String,
        /// The address given.
        address: String,
    },
    /// The socket for a brokered server could not be created.
    #[error("broker id {id}: no socket to serve on")]
    Listen {
        /// The id served.
        id: u32,
        /// Why.
        source: ListenError,
    },
    /// Connecting to the peer's brokered server failed.
    #[error("broker id {id}: failed to connect to {address}")]
    Connect {
        /// The id dialled.
        id: u32,
        /// The address from the peer.
        address: String,
        /// Why: the OS error, the TLS or HTTP/2 handshake's.
        source: std::io::Error,
    },
    /// The host's runner could not translate a brokered address between its view and the
    /// plugin's ([`AddrTranslator`]).
    #[error(
        "broker id {id}: the runner could not translate {address:?} ({direction}); make the \
         runner's AddrTranslator cover the sockets of brokered servers"
    )]
    Translate {
        /// The id served or dialled.
        id: u32,
        /// The address as given.
        address: String,
        /// Which way: `plugin_to_host` or `host_to_plugin`.
        direction: &'static str,
        /// The translator's error.
        source: crate::RunnerError,
    },
    /// Manual TLS is on and this side has no TLS configuration for serving (a host has a
    /// `rustls::ClientConfig` for its main connection, a plugin a `rustls::ServerConfig`).
    #[error(
        "broker id {id}: manual TLS is on, but there is no TLS configuration for this side to \
         serve with; give one with ClientConfig::broker_tls (host) so that brokered servers are \
         not offered in plaintext"
    )]
    NoServerTls {
        /// The id served.
        id: u32,
    },
    /// The peer's brokered server could not be dialled with TLS: manual TLS on this side has no
    /// configuration for dialling.
    #[error(
        "broker id {id}: manual TLS is on, but there is no TLS configuration for this side to \
         dial with; give one with ServeConfig::broker_tls (plugin)"
    )]
    NoClientTls {
        /// The id dialled.
        id: u32,
    },
    /// Multiplexed mode: the peer did not answer the knock for `id`, or refused it.
    #[error("failed to knock for broker id {id} on {peer}: {why}")]
    Knock {
        /// The id dialled.
        id: u32,
        /// The peer's name.
        peer: String,
        /// What the answer said, or that none came within 5 s.
        why: String,
    },
    /// Id 0 was dialled: ids start at 1, so the message that should carry one left it unset.
    #[error(
        "broker id 0 was dialled: ids start at 1, so the field that carries the id was left \
         unset (set it from GrpcBroker::next_id and serve that id)"
    )]
    ZeroId,
    /// The connection has no broker: a call served outside a plugin's or host's server, or a
    /// connection made by hand.
    #[error(
        "no broker on this connection: interfaces can be passed only on connections a Client or \
         serve made"
    )]
    Unavailable,
    /// The implementation to serve could not register its services.
    #[error("broker id {id}: the services could not be registered")]
    Register {
        /// The id served.
        id: u32,
        /// Why.
        source: crate::error::ServeError,
    },
    /// The served interface is not the one expected (its fingerprint differs).
    #[error(transparent)]
    Call(#[from] crate::error::CallError),
    /// The dialled id serves another interface than the one requested.
    #[error("broker id {id} serves {actual}, not {requested}")]
    WrongInterface {
        /// The id dialled.
        id: u32,
        /// The interface requested.
        requested: &'static str,
        /// The interface the registration dispenses.
        actual: &'static str,
    },
}

tokio::task_local! {
    /// The broker of the connection whose call is being served.
    static CURRENT: GrpcBroker;
}

impl GrpcBroker {
    pub(crate) fn new(out: mpsc::Sender<ConnInfo>, setup: BrokerSetup) -> GrpcBroker {
        GrpcBroker {
            shared: Arc::new(Shared {
                next_id: AtomicU32::new(0),
                out,
                pending: Arc::default(),
                closed: watch::Sender::new(false),
                setup,
                stream: std::sync::Mutex::new(None),
                peer_sockets: std::sync::Mutex::new(Vec::new()),
                native_session: session::NativeSession::default(),
                translator: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The host's: translate brokered addresses with its runner's view.
    pub(crate) fn translate_with(&self, translator: Arc<dyn AddrTranslator>) {
        let _ = self.shared.translator.set(translator);
    }

    /// A fresh id for [`GrpcBroker::accept_and_serve`]: 1, 2, 3... per broker, as go-plugin's
    /// `NextId` (the two sides count independently).
    pub fn next_id(&self) -> u32 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The broker of the connection whose call is being served, inside a plugin method (or a
    /// method of a server brokered by the host); `None` elsewhere, including in tasks the
    /// method spawns and in the streams it returns (take a clone with you there).
    pub fn current() -> Option<GrpcBroker> {
        CURRENT.try_with(GrpcBroker::clone).ok()
    }

    /// Runs `call` with `self` as [`GrpcBroker::current`].
    pub(crate) fn scope<F: Future>(&self, call: F) -> impl Future<Output = F::Output> + use<F> {
        CURRENT.scope(self.clone(), call)
    }

    pub(crate) fn peer(&self) -> Arc<str> {
        self.shared.setup.peer.clone()
    }

    pub(crate) fn limits(&self) -> MessageLimits {
        self.shared.setup.limits
    }

    pub(crate) fn exit(&self) -> ExitWatch {
        self.shared.setup.exit.clone()
    }

    /// The unix sockets the peer announced so far.
    pub(crate) fn peer_sockets(&self) -> Vec<std::path::PathBuf> {
        self.shared
            .peer_sockets
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Whether the control stream has ended; nothing can be brokered any more.
    pub fn is_closed(&self) -> bool {
        *self.shared.closed.borrow()
    }

    /// Ends the broker: brokered servers stop, waiting dials fail, a multiplexed session ends.
    pub(crate) fn close(&self) {
        self.shared.closed.send_replace(true);
        self.shared.pending.close();
        if let Some(mux) = &self.shared.setup.mux {
            mux.close();
        }
        self.shared.native_session.close();
        if let Ok(mut stream) = self.shared.stream.lock()
            && let Some(task) = stream.take()
        {
            task.abort();
        }
    }

    fn closed_error(&self) -> BrokerError {
        BrokerError::Closed {
            peer: self.shared.setup.peer.to_string(),
        }
    }

    fn check_open(&self) -> Result<(), BrokerError> {
        if self.is_closed() {
            Err(self.closed_error())
        } else {
            Ok(())
        }
    }

    /// Serves `routes` under `id` on a new socket, and tells the peer where.
    pub(crate) async fn serve_routes(
        &self,
        id: u32,
        (routes, sorter): (Routes, Option<Sorter>),
    ) -> Result<BrokerServer, BrokerError> {
        let (listener, info) = self.listen(id)?;
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let mut closed = self.shared.closed.subscribe();
        let stop = async move {
            tokio::select! {
                _ = stop_rx.wait_for(|stop| *stop) => {}
                _ = closed.wait_for(|closed| *closed) => {}
            }
        };
        let (stopped_tx, mut stopped) = watch::channel(false);
        let tls = self.shared.setup.server_tls.clone();
        let broker = self.clone();
        let task = tokio::spawn(async move {
            let server = serve_routes_sorted(listener, tls, routes, sorter, stop);
            // A peer that keeps a call open does not hold the socket for ever.
            tokio::select! {
                result = server => {
                    if let Err(e) = result {
                        tracing::warn!(id, error = %e, "a brokered server failed");
                    }
                }
                _ = async {
                    let _ = stopped.wait_for(|s| *s).await;
                    tokio::time::sleep(STOP_GRACE).await;
                } => {}
            }
            broker.unlisten(id);
        });
        let server = BrokerServer {
            id,
            stop: stop_tx,
            stopped: stopped_tx,
            task: Some(task),
        };
        self.announce(info).await?;
        Ok(server)
    }

    /// Serves `routes` under `id` for one connection: the peer's dial. Serving ends when that
    /// connection closes (the peer dropped what it dialled), when nobody dials within twice the
    /// dial's wait, or when the broker closes; the socket goes as soon as the peer connected.
    pub(crate) async fn serve_routes_once(
        &self,
        id: u32,
        routes: Routes,
    ) -> Result<(), BrokerError> {
        let (listener, info) = self.listen(id)?;
        let mut closed = self.shared.closed.subscribe();
        let stop = async move {
            let _ = closed.wait_for(|closed| *closed).await;
        };
        let tls = self.shared.setup.server_tls.clone();
        let broker = self.clone();
        tokio::spawn(async move {
            let served = serve_one_connection(listener, tls, routes, stop, 2 * WAIT);
            if let Err(e) = served.await {
                tracing::warn!(id, error = %e, "a brokered callback's server failed");
            }
            broker.unlisten(id);
        });
        self.announce(info).await
    }

    /// Where the peer's connections for `id` will come from, and the connection info that
    /// announces it (none in multiplexed mode: the peer knocks instead).
    fn listen(&self, id: u32) -> Result<(Listener, Option<ConnInfo>), BrokerError> {
        self.check_open()?;
        let setup = &self.shared.setup;
        if setup.tls_required && setup.server_tls.is_none() {
            return Err(BrokerError::NoServerTls { id });
        }
        if let Some(mux) = &setup.mux {
            let (listener, knocked_early) = mux.listen(id);
            if knocked_early {
                self.answer_knock(id, String::new());
            }
            return Ok((listener, None));
        }
        let listener =
            listen_unix(&setup.place).map_err(|source| BrokerError::Listen { id, source })?;
        let address = listener.address().map_err(|e| BrokerError::Listen {
            id,
            source: ListenError::Socket {
                what: "reading the socket's address".into(),
                source: Some(e),
            },
        })?;
        let (network, address) = match self.shared.translator.get() {
            Some(t) => t
                .host_to_plugin(address.network, &address.address)
                .map_err(|source| BrokerError::Translate {
                    id,
                    address: address.address.clone(),
                    direction: "host_to_plugin",
                    source,
                })?,
            None => (address.network, address.address),
        };
        let info = ConnInfo {
            service_id: id,
            network: network.to_string(),
            address,
            knock: None,
        };
        Ok((listener, Some(info)))
    }

    /// Forgets a multiplexed listener once its server is done.
    fn unlisten(&self, id: u32) {
        if let Some(mux) = &self.shared.setup.mux {
            mux.unlisten(id);
        }
    }

    async fn announce(&self, info: Option<ConnInfo>) -> Result<(), BrokerError> {
        match info {
            Some(info) => self.send(info).await,
            None => Ok(()),
        }
    }

    /// Whether `id` may be dialled: an open broker, a real id, TLS when TLS is on.
    fn check_dial(&self, id: u32) -> Result<(), BrokerError> {
        self.check_open()?;
        if id == 0 {
            return Err(BrokerError::ZeroId);
        }
        let setup = &self.shared.setup;
        if setup.tls_required && setup.client_tls.is_none() {
            return Err(BrokerError::NoClientTls { id });
        }
        Ok(())
    }

    /// Waits for the connection info of `id` and connects to it.
    pub(crate) async fn dial_channel(&self, id: u32) -> Result<GrpcChannel, BrokerError> {
        self.check_dial(id)?;
        let setup = &self.shared.setup;
        if let Some(mux) = &setup.mux {
            return self.dial_multiplexed(mux, id).await;
        }
        let address = self.peer_address(id).await?;
        let shown = address.to_string();
        within(WAIT, connect_channel(address, setup.client_tls.clone()))
            .await
            .map_err(|source| BrokerError::Connect {
                id,
                address: shown,
                source,
            })
    }

    /// Whether callbacks travel on the native transport: the peer speaks it, and brokered
    /// connections are sockets of their own (not streams of a multiplexed session).
    pub(crate) fn native(&self) -> bool {
        self.shared.setup.native && self.shared.setup.mux.is_none()
    }

    /// Waits for the connection info of `id` and opens a native connection to it; its
    /// address too, for a gRPC connection beside it.
    pub(crate) async fn dial_native(
        &self,
        id: u32,
    ) -> Result<(NativeClient, Address), BrokerError> {
        self.check_dial(id)?;
        let setup = &self.shared.setup;
        let address = self.peer_address(id).await?;
        let shown = address.to_string();
        let connect = async {
            let io = dial_secured(&address, setup.client_tls.as_deref()).await?;
            NativeClient::start(io, setup.limits, Services::Wait).await
        };
        let native = within(WAIT, connect)
            .await
            .map_err(|source| BrokerError::Connect {
                id,
                address: shown,
                source,
            })?;
        Ok((native, address))
    }

    /// A gRPC channel to `address` (a brokered server also spoken to natively), connected on
    /// first use.
    pub(crate) fn lazy_channel(&self, address: Address) -> GrpcChannel {
        let tls = self.shared.setup.client_tls.clone();
        GrpcChannel::lazy(Box::new(move || {
            let (address, tls) = (address.clone(), tls.clone());
            Box::pin(within(WAIT, connect_channel(address, tls)))
        }))
    }

    /// Where to dial the peer's server `id`: its connection info, waited for (5 s at most).
    pub(crate) async fn peer_address(&self, id: u32) -> Result<Address, BrokerError> {
        let info = match tokio::time::timeout(WAIT, self.shared.pending.take(id)).await {
            Ok(Some(info)) => info,
            Ok(None) => return Err(self.closed_error()),
            Err(_) => {
                return Err(BrokerError::Timeout {
                    id,
                    peer: self.shared.setup.peer.to_string(),
                });
            }
        };
        let network: Network = info
            .network
            .parse()
            .map_err(|_| BrokerError::UnknownNetwork {
                id,
                network: info.network.clone(),
                address: info.address.clone(),
            })?;
        let (network, address) = match self.shared.translator.get() {
            Some(t) => t.plugin_to_host(network, &info.address).map_err(|source| {
                BrokerError::Translate {
                    id,
                    address: info.address.clone(),
                    direction: "plugin_to_host",
                    source,
                }
            })?,
            None => (network, info.address),
        };
        Ok(Address { network, address })
    }

    /// Multiplexed mode: knock for `id`, wait for the answer, then open the stream that the
    /// peer gives to that id's server.
    async fn dial_multiplexed(&self, mux: &MuxState, id: u32) -> Result<GrpcChannel, BrokerError> {
        let _one_at_a_time = mux.dialing.lock().await;
        // An answer left over from an earlier dial that gave up must not answer this one.
        self.shared.pending.clear(id);
        let knock = |knock: bool, ack: bool, error: String| ConnInfo {
            service_id: id,
            network: String::new(),
            address: String::new(),
            knock: Some(Knock { knock, ack, error }),
        };
        self.send(knock(true, false, String::new())).await?;
        let failed = |why: String| BrokerError::Knock {
            id,
            peer: self.shared.setup.peer.to_string(),
            why,
        };
        let answer = match tokio::time::timeout(WAIT, self.shared.pending.take(id)).await {
            Ok(Some(answer)) => answer,
            Ok(None) => return Err(self.closed_error()),
            Err(_) => {
                return Err(failed(
                    "timeout waiting for multiplexing knock handshake".into(),
                ));
            }
        };
        match answer.knock {
            Some(Knock {
                knock: true,
                ack: true,
                error,
            }) if error.is_empty() => {}
            Some(Knock {
                knock: true,
                ack: true,
                error,
            }) => return Err(failed(error)),
            other => return Err(failed(format!("expected knock and ack, got {other:?}"))),
        }
        let connect = async {
            let stream = mux.open().await?;
            channel_over(stream, self.shared.setup.client_tls.as_deref()).await
        };
        within(WAIT, connect)
            .await
            .map_err(|source| BrokerError::Connect {
                id,
                address: "a multiplexed stream".into(),
                source,
            })
    }

    async fn send(&self, info: ConnInfo) -> Result<(), BrokerError> {
        self.check_open()?;
        self.shared
            .out
            .send(info)
            .await
            .map_err(|_| self.closed_error())
    }

    /// Routes one message from the peer.
    pub(crate) fn received(&self, info: ConnInfo) {
        match &info.knock {
            Some(knock) if knock.knock && !knock.ack => {
                // A knock: the peer's next stream is for `id`, if this side serves it.
                let id = info.service_id;
                match &self.shared.setup.mux {
                    Some(mux) => match mux.knocked(id) {
                        Knocked::Expected => self.answer_knock(id, String::new()),
                        Knocked::Held => {}
                        Knocked::Refused(error) => self.answer_knock(id, error),
                    },
                    None => self.answer_knock(
                        id,
                        format!("no listener for id {id}: multiplexing is not enabled"),
                    ),
                }
            }
            _ => {
                self.remember_socket(&info);
                self.shared.pending.offer(info)
            }
        }
    }

    /// Answers a knock. Never waits: a peer that stops reading the control stream loses the
    /// answer (its dial times out) rather than piling up work here.
    fn answer_knock(&self, id: u32, error: String) {
        let reply = ConnInfo {
            service_id: id,
            network: String::new(),
            address: String::new(),
            knock: Some(Knock {
                knock: true,
                ack: true,
                error,
            }),
        };
        if self.shared.out.try_send(reply).is_err() {
            tracing::debug!(
                id,
                "could not answer a knock: the control stream is full or gone"
            );
        }
    }

    /// Keeps the unix sockets the peer announced, a bounded number of them, for a host to
    /// remove after a crash (it checks they are where the plugin's sockets go).
    fn remember_socket(&self, info: &ConnInfo) {
        if info.network != "unix" || info.address.is_empty() {
            return;
        }
        if let Ok(mut sockets) = self.shared.peer_sockets.lock() {
            let path = std::path::PathBuf::from(&info.address);
            if sockets.len() < MAX_PEER_SOCKETS && !sockets.contains(&path) {
                sockets.push(path);
            }
        }
    }
}

/// A server brokered by [`GrpcBroker::accept_and_serve`]: served until this handle is dropped
/// (or [`BrokerServer::stop`]ped), or the broker closes. Its socket is removed then; calls in
/// progress on connections already made are not cut off.
///
/// ```no_run
/// # async fn run(broker: plugin_runtime::GrpcBroker, helper: impl plugin_runtime::Plugin) -> Result<(), plugin_runtime::BrokerError> {
/// let id = broker.next_id();
/// let server = broker.accept_and_serve(id, helper).await?;
/// assert_eq!(server.id(), id);
/// server.stop().await; // or drop it
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "the server stops serving when this handle is dropped"]
pub struct BrokerServer {
    id: u32,
    stop: watch::Sender<bool>,
    stopped: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl BrokerServer {
    /// The id it is served under.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Stops accepting connections and removes the socket, waiting up to a second for the
    /// server to wind down.
    pub async fn stop(mut self) {
        self.signal_stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn signal_stop(&self) {
        self.stop.send_replace(true);
        self.stopped.send_replace(true);
    }
}

impl Drop for BrokerServer {
    fn drop(&mut self) {
        self.signal_stop();
    }
}
