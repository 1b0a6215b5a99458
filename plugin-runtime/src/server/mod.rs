//! The plugin side: [`serve`] turns a binary into a go-plugin-compatible plugin.

mod cleanup;
mod config;
mod controller;
mod netrpc;
mod process;
mod stdio;

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use plugin_core::{
    GRPC_HEALTH_SERVICE, HandshakeLine, Negotiation, Protocol, ReattachAddr, ReattachConfig,
    VersionList, env,
};
use tokio::sync::watch;

pub use crate::transport::listener::Listen;
pub use config::{ServeConfig, ServeTestConfig};
pub use process::serve_mux;
use process::{
    EarlySignals, HostWatch, WatchedHost, check_cookie, install_panic_hook, spawn_signal_handlers,
    spawn_watcher,
};

use crate::broker::{BrokerService, BrokerSetup, GrpcBroker, MuxState};
use crate::error::ServeError;
use crate::exit::Ending;
use crate::internal;
use crate::logging;
use crate::plugin::{PluginSet, ServiceRegistry, VersionedPlugins};
use crate::tls::{Certificate, ClientTls, ServerTls};
use crate::transport::codec::MessageLimits;
use crate::transport::io::Address;
use crate::transport::listener::{self, Listener, SocketPlace};
use crate::transport::mux::{Mode as MuxMode, Mux};
use crate::transport::serve::{accept, serve_routes_sorted};

/// How long in-flight calls may take to finish after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// A plugin binary's whole `main`, as go-plugin's `plugin.Serve`: serves as [`serve`] does
/// until the host stops the plugin, and reports an error on stderr (the host shows it in its
/// log) with exit status 1. Use [`serve`] inside your own runtime when you need more.
///
/// It starts sooner than [`serve`] in a runtime of your own: the plugin checks its
/// environment, registers its services, binds its socket and prints the handshake line before
/// it builds its multi-threaded tokio runtime, so the host reads the line and connects while
/// the runtime comes up (the connection waits in the socket's backlog). Everything else
/// happens in the same order as with [`serve`]. As [`Plugin::grpc_server`](crate::Plugin::grpc_server)
/// runs before the runtime exists, a registration that spawns a task fails with
/// [`ServeError::Register`].
///
/// ```no_run
/// use plugin_runtime::{HandshakeConfig, PluginSet, ServeConfig};
/// # fn plugins() -> PluginSet { PluginSet::new() }
/// fn main() -> std::process::ExitCode {
///     plugin_runtime::serve_main(
///         ServeConfig::new(HandshakeConfig::new(1, "BASIC_PLUGIN", "hello")).plugins(plugins()),
///     )
/// }
/// ```
pub fn serve_main(config: ServeConfig) -> std::process::ExitCode {
    let result = Prepared::new(config).and_then(|prepared| {
        let announced = prepared.announce()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|source| ServeError::Io {
                context: "starting the tokio runtime (out of threads or memory? check ulimit -u)",
                source,
            })?;
        let serving = {
            let _runtime = runtime.enter();
            announced.start()?
        };
        // Served from a worker: the connections the server spawns start on that worker, with
        // no thread to wake (from `block_on`'s thread, each would be handed over to one).
        let result = runtime.block_on(async move {
            tokio::spawn(serving.serve())
                .await
                .unwrap_or_else(|joined| match joined.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(cancelled) => Err(ServeError::Io {
                        context: "serving (its task was cancelled)",
                        source: std::io::Error::other(cancelled),
                    }),
                })
        });
        // Tasks still running (a client's stream, a stdio copy) must not hold the exit back.
        runtime.shutdown_timeout(Duration::from_secs(1));
        result
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugin: {}", crate::error::chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Serves the plugins until the host asks the plugin to stop.
///
/// Outside test mode this takes over the process as go-plugin's `Serve` does: without the
/// magic cookie it explains on stderr that the binary is a plugin and exits with status 1;
/// it prints the handshake line as the first bytes on stdout, then captures stdout and stderr
/// for the host, ignores SIGINT, and returns after `Shutdown`, SIGTERM, or the host's death.
///
/// ```no_run
/// use plugin_runtime::{HandshakeConfig, PluginSet, ServeConfig};
/// # fn plugins() -> PluginSet { PluginSet::new() }
/// #[tokio::main]
/// async fn main() -> Result<(), plugin_runtime::ServeError> {
///     let handshake = HandshakeConfig::new(1, "BASIC_PLUGIN", "hello");
///     plugin_runtime::serve(ServeConfig::new(handshake).plugins(plugins())).await
/// }
/// ```
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    Prepared::new(config)?.announce()?.start()?.serve().await
}

/// A plugin ready to announce itself: what needs no tokio runtime is done (`serve_main` does
/// it, and the announcing, before it builds its runtime).
struct Prepared {
    served: PluginSet,
    version: u32,
    protocol: Protocol,
    bound: listener::Bound,
    address: Address,
    security: Security,
    registry: Option<ServiceRegistry>,
    broker: GrpcBroker,
    broker_service: BrokerService,
    mux: Option<Arc<MuxState>>,
    capture_stdio: bool,
    /// How the host will learn where we listen.
    announce: Announce,
}

/// What serving needs, from announcing on, besides the socket and the host's side.
struct ServerParts {
    served: PluginSet,
    protocol: Protocol,
    address: Address,
    server_tls: Option<ServerTls>,
    registry: Option<ServiceRegistry>,
    broker: GrpcBroker,
    broker_service: BrokerService,
    mux: Option<Arc<MuxState>>,
    capture: Option<Arc<stdio::StdioCapture>>,
    shutdown_tx: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
    own_socket: Option<std::path::PathBuf>,
}

/// A plugin that has said where it listens (the handshake line, or the test's reattach
/// config) and captured its output, still without a runtime.
struct Announced {
    parts: ServerParts,
    bound: listener::Bound,
    host: HostSide,
}

/// An announced plugin in its runtime, with what serving needs.
struct Serving {
    parts: ServerParts,
    listener: Listener,
    host: Host,
}

impl Prepared {
    /// The cookie, logging, TLS, signals caught, the negotiated version, the registered
    /// services and the bound socket: nothing here needs a runtime.
    fn new(config: ServeConfig) -> Result<Prepared, ServeError> {
        let ServeConfig {
            handshake,
            plugins,
            listen,
            tls,
            test,
            logging: install_logging,
            max_message_size,
            broker_tls,
            native_transport,
        } = config;
        let capture_stdio = test.as_ref().is_none_or(|t| t.sync_stdio);
        let process = test.is_none();
        if process {
            check_cookie(&handshake);
        }
        set_up_logging(capture_stdio, install_logging, process)?;
        let security = Security::new(tls, broker_tls)?;
        let announce = match test {
            // stdout copied before it is captured: the handshake line must reach the real one.
            // Signals caught before the socket exists: a SIGTERM from here on still removes it.
            None => Announce::Handshake(
                File::from(
                    stdio::StdFd::Out
                        .duplicate()
                        .map_err(|source| ServeError::Io {
                            context: "duplicating stdout",
                            source,
                        })?,
                ),
                EarlySignals::install(),
            ),
            Some(test) => Announce::Test(test),
        };
        // go-plugin: multiplexing when the host asks for it, never for a test-mode plugin.
        let multiplex = process
            && std::env::var(env::MULTIPLEX_GRPC)
                .ok()
                .and_then(|v| plugin_core::parse_go_bool(&v))
                .unwrap_or(false);
        let (version, served) = negotiate(&plugins)?;
        let protocol = served.served_protocol();
        // Multiplexing is a gRPC mode: a net/rpc session is multiplexed by nature.
        let multiplex = multiplex && protocol == Protocol::Grpc;
        // The native lane: only for a host of this SDK that asked, never beside multiplexing.
        let protocol = if protocol == Protocol::Grpc
            && native_transport
            && served.offers_native()
            && !multiplex
            && process
            && host_asks_native()
        {
            Protocol::RustNative
        } else {
            protocol
        };
        let mux = multiplex.then(|| Arc::new(MuxState::default()));
        let (broker, broker_service) = GrpcBroker::plugin(BrokerSetup {
            place: SocketPlace::from_env(),
            server_tls: security.server.clone(),
            client_tls: security.client.clone(),
            tls_required: security.server.is_some(),
            peer: "host".into(),
            limits: MessageLimits::both(max_message_size),
            exit: Ending::new().watch(),
            mux: mux.clone(),
            native: protocol == Protocol::RustNative,
            main: None,
        });
        let served = served.clone();
        let registry = match protocol {
            Protocol::Grpc | Protocol::RustNative => {
                Some(register(&served, max_message_size, &broker)?)
            }
            Protocol::NetRpc => None,
        };
        let bound = listener::bind(listen)?;
        let address = bound.address().map_err(|source| ServeError::Io {
            context: "reading the listener's address",
            source,
        })?;
        Ok(Prepared {
            served,
            version,
            protocol,
            bound,
            address,
            security,
            registry,
            broker,
            broker_service,
            mux,
            capture_stdio,
            announce,
        })
    }

    /// Prints the handshake line (signals are caught already) or hands the test its reattach
    /// config, then captures stdout and stderr and watches the host. Needs no runtime.
    fn announce(self) -> Result<Announced, ServeError> {
        let address = self.address;
        tracing::debug!(network = %address.network, address = %address.address, "plugin address");
        let own_socket = (address.network == plugin_core::Network::Unix)
            .then(|| std::path::PathBuf::from(&address.address));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let host =
            self.announce
                .announce(self.version, self.protocol, &address, self.security.own_der)?;
        // After the handshake, which goes out first: the host starts connecting while the pipes
        // and their thread are set up (its connection waits in the backlog until we serve).
        let (capture, pumps) = match self.capture_stdio {
            true => stdio::StdioCapture::start()
                .map(|(capture, pumps)| (Some(capture), Some(pumps)))
                .map_err(|source| ServeError::Io {
                    context: "capturing stdout and stderr",
                    source,
                })?,
            false => (None, None),
        };
        // Watched from right after the line (a host already gone still reads as gone): the
        // write end of the handshake's pipe tells when its reader is gone.
        let watched = match &host {
            HostSide::Handshake(out, gone, _) => Some(WatchedHost {
                handshake_out: out.try_clone().ok().map(std::os::fd::OwnedFd::from),
                parent: std::os::unix::process::parent_id(),
                gone: gone.clone(),
            }),
            HostSide::Test(_) => None,
        };
        // Without it the captured output would fill its pipes and block the plugin: fail instead
        // (the capture is undone when dropped, so the error reaches the real stderr).
        spawn_watcher(shutdown_tx.clone(), watched, pumps).map_err(|source| ServeError::Io {
            context: "starting the thread that watches the host and pumps the output (out of \
                      threads? check ulimit -u)",
            source,
        })?;
        let parts = ServerParts {
            served: self.served,
            protocol: self.protocol,
            address,
            server_tls: self.security.server,
            registry: self.registry,
            broker: self.broker,
            broker_service: self.broker_service,
            mux: self.mux,
            capture,
            shutdown_tx,
            shutdown_rx,
            own_socket,
        };
        Ok(Announced {
            parts,
            bound: self.bound,
            host,
        })
    }
}

impl Announced {
    /// Registers the socket with the runtime and hands the signals (and a test's stop) over
    /// to it. Runs in a tokio runtime's context.
    fn start(self) -> Result<Serving, ServeError> {
        let Announced { parts, bound, host } = self;
        let listener = bound.register().map_err(|source| ServeError::Io {
            context: "listening on the plugin's socket",
            source,
        })?;
        let host = host.start(&parts.shutdown_tx);
        Ok(Serving {
            parts,
            listener,
            host,
        })
    }
}

impl Serving {
    /// Serves until the host asks the plugin to stop.
    async fn serve(self) -> Result<(), ServeError> {
        let Serving {
            parts,
            listener,
            host,
        } = self;
        let native = parts.protocol == Protocol::RustNative;
        let (listener, session) = match parts.mux {
            Some(mux) => {
                let (streams, session) = multiplexed(listener, parts.address, mux);
                (streams, Some(session))
            }
            None => (listener, None),
        };
        let (tls, capture, stop) = (parts.server_tls, parts.capture, parts.shutdown_tx);
        let result = match parts.registry {
            Some(registry) => {
                let services = (registry, native);
                let broker = parts.broker_service;
                serve_until_shutdown(
                    listener,
                    tls,
                    services,
                    broker,
                    capture,
                    stop,
                    parts.shutdown_rx,
                )
                .await
            }
            None => {
                netrpc::serve_until_shutdown(
                    listener,
                    tls,
                    parts.served,
                    capture,
                    stop,
                    parts.shutdown_rx,
                )
                .await;
                Ok(())
            }
        };
        parts.broker.close();
        if let Some(session) = session {
            session.abort();
        }
        let host_gone = host.host_gone();
        // The handshake's stdout stayed open until now: the host drains it until the process ends.
        drop(host);
        if host_gone {
            cleanup::after_host(parts.own_socket.as_deref(), parts.broker.peer_sockets());
        }
        result
    }
}

/// Whether our parent is a host of this SDK asking for the native transport: the variable
/// holds its process id, so a copy inherited through another host (a go-plugin host passes its
/// environment on) does not count.
fn host_asks_native() -> bool {
    std::env::var(env::RUST_NATIVE)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::os::unix::process::parent_id())
}

/// Multiplexed mode: the host's one connection to `listener` carries a yamux session; streams
/// nobody knocked for go to the main server (the returned listener), the others to brokered
/// servers. The task holds the socket until it is aborted.
fn multiplexed(
    listener: Listener,
    address: Address,
    mux: Arc<MuxState>,
) -> (Listener, tokio::task::JoinHandle<()>) {
    let (default, streams) = tokio::sync::mpsc::channel(4);
    let main = Listener::Streams {
        streams: tokio::sync::Mutex::new(streams),
        address: address.clone(),
    };
    let session = tokio::spawn(async move {
        let io = accept(&listener).await;
        let (session, inbound) = Mux::start(io, MuxMode::Server);
        mux.attach(session, address, inbound, Some(default));
        // The socket stays until the plugin stops, as go-plugin's; no one else is accepted.
        std::future::pending::<()>().await;
        drop(listener);
    });
    (main, session)
}

/// Logs keep going to the real stderr once fd 2 is captured for the host; panics go there too.
fn set_up_logging(capture_stdio: bool, install: bool, process: bool) -> Result<(), ServeError> {
    if capture_stdio {
        let fd = stdio::StdFd::Err
            .duplicate()
            .map_err(|source| ServeError::Io {
                context: "duplicating stderr",
                source,
            })?;
        logging::set_log_file(File::from(fd));
    }
    if install {
        logging::try_init();
    }
    if process {
        install_panic_hook();
    }
    Ok(())
}

/// The gRPC services of the negotiated plugin set, registered before the handshake line (so a
/// plugin that cannot serve fails first) and, under `serve_main`, before any runtime exists:
/// a registration that panics (as `tokio::spawn` does there) fails naming the plugin, and the
/// fix when no runtime was there to spawn on.
fn register(
    set: &PluginSet,
    max_message_size: usize,
    broker: &GrpcBroker,
) -> Result<ServiceRegistry, ServeError> {
    let mut registry =
        ServiceRegistry::new(MessageLimits::both(max_message_size), Some(broker.clone()));
    let runtime = tokio::runtime::Handle::try_current().is_ok();
    for (name, plugin) in set.iter() {
        let registered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            plugin.grpc_server(&mut registry)
        }));
        registered.unwrap_or_else(|payload| {
            let panic = crate::dispatch::panic_message(&*payload);
            let reason = match runtime {
                true => format!("its grpc_server panicked: {panic}"),
                false => format!(
                    "its grpc_server panicked: {panic}; under serve_main it runs before the \
                     plugin's tokio runtime starts, so it must not spawn tasks (start them from \
                     the service when it is first called, or serve from your own runtime with \
                     serve)"
                ),
            };
            Err(ServeError::Register {
                name: name.to_string(),
                reason,
            })
        })?;
    }
    Ok(registry)
}

/// How the host learns where we listen.
enum Announce {
    /// The handshake line on the real stdout (a go-plugin host reads it), with the signals
    /// caught so far.
    Handshake(File, EarlySignals),
    /// The reattach config handed to the test (go-plugin's test mode).
    Test(ServeTestConfig),
}

/// The host's side once announced, before the runtime: the handshake's stdout (held open),
/// its watcher and the signals caught so far; or the test's stop, not watched yet.
enum HostSide {
    Handshake(File, HostWatch, EarlySignals),
    Test(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
}

impl HostSide {
    /// Hands the signals (or the test's stop) over to the runtime, in whose context it runs.
    fn start(self, shutdown: &watch::Sender<bool>) -> Host {
        match self {
            HostSide::Handshake(out, watch, signals) => {
                spawn_signal_handlers(signals, shutdown.clone());
                Host::Handshake(out, watch)
            }
            HostSide::Test(stop) => {
                let trigger = shutdown.clone();
                Host::Test(tokio::spawn(async move {
                    stop.await;
                    let _ = trigger.send(true);
                }))
            }
        }
    }
}

/// What must stay alive while serving: stdout held open, or the test's stop watcher.
enum Host {
    Handshake(#[allow(dead_code)] File, HostWatch),
    Test(tokio::task::JoinHandle<()>),
}

impl Host {
    /// Whether serving ended because the host died.
    fn host_gone(&self) -> bool {
        matches!(self, Host::Handshake(_, watch) if watch.gone())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Host::Test(stopper) = self {
            stopper.abort();
        }
    }
}

impl Announce {
    fn announce(
        self,
        version: u32,
        protocol: Protocol,
        address: &Address,
        server_cert: Option<Vec<u8>>,
    ) -> Result<HostSide, ServeError> {
        match self {
            Announce::Handshake(mut out, signals) => {
                let mut line =
                    HandshakeLine::new(version, address.network, address.address.clone(), protocol);
                if let Some(der) = server_cert {
                    line = line.with_server_cert(der);
                }
                if protocol == Protocol::Grpc
                    && std::env::var_os(env::MULTIPLEX_GRPC).is_some_and(|v| !v.is_empty())
                {
                    // Asked about (whatever the answer asked for), we say we support it.
                    line = line.with_multiplex(true);
                }
                out.write_all(format!("{line}\n").as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|source| ServeError::Io {
                        context: "printing the handshake line",
                        source,
                    })?;
                Ok(HostSide::Handshake(out, HostWatch::default(), signals))
            }
            Announce::Test(ServeTestConfig { reattach, stop, .. }) => {
                if let Some(tx) = reattach {
                    let _ = tx.send(ReattachConfig {
                        protocol,
                        protocol_version: version,
                        addr: ReattachAddr {
                            network: address.network,
                            address: address.address.clone(),
                        },
                        pid: std::process::id(),
                        test: true,
                    });
                }
                Ok(HostSide::Test(stop))
            }
        }
    }
}

fn negotiate(plugins: &VersionedPlugins) -> Result<(u32, &PluginSet), ServeError> {
    let host = std::env::var(env::PROTOCOL_VERSIONS).ok().map(|raw| {
        let (list, invalid) = VersionList::parse(&raw);
        for entry in invalid {
            logging::write_log_line(
                format!("server sent invalid plugin version {entry:?}\n").as_bytes(),
            );
        }
        list
    });
    let ours: VersionList = plugins.keys().copied().collect();
    let chosen = Negotiation::choose(host.as_ref(), &ours).ok_or(ServeError::NoPlugins)?;
    if !chosen.common && host.is_some() {
        tracing::warn!(
            plugin_versions = %ours,
            host_versions = %host.as_ref().map(ToString::to_string).unwrap_or_default(),
            "no protocol version in common with the host; offering the lowest, the host will refuse it"
        );
    }
    let set = plugins.get(&chosen.version).ok_or(ServeError::NoPlugins)?;
    if set.is_empty() {
        return Err(ServeError::NoPlugins);
    }
    Ok((chosen.version, set))
}

/// The plugin's TLS, in both roles: serving (its main server and brokered ones) and dialling
/// the host's brokered servers.
struct Security {
    server: Option<ServerTls>,
    client: Option<Arc<ClientTls>>,
    /// The AutoMTLS certificate for the handshake line.
    own_der: Option<Vec<u8>>,
}

impl Security {
    /// Manual TLS wins over AutoMTLS; AutoMTLS only when the host sent its certificate.
    fn new(
        manual: Option<rustls::ServerConfig>,
        broker_dial: Option<rustls::ClientConfig>,
    ) -> Result<Security, ServeError> {
        if let Some(config) = manual {
            return Ok(Security {
                server: Some(ServerTls::manual(config)),
                client: broker_dial.map(|c| Arc::new(ClientTls::manual(c))),
                own_der: None,
            });
        }
        let Some(pem) = std::env::var(env::CLIENT_CERT)
            .ok()
            .filter(|p| !p.is_empty())
        else {
            return Ok(Security {
                server: None,
                client: None,
                own_der: None,
            });
        };
        let host_cert = crate::tls::parse_pem_certificate(&pem)?;
        let own = Certificate::generate()?;
        Ok(Security {
            client: Some(Arc::new(ClientTls::auto(&own, host_cert.to_vec())?)),
            server: Some(ServerTls::auto(&own, host_cert)?),
            own_der: Some(own.der().to_vec()),
        })
    }
}

async fn serve_until_shutdown(
    listener: Listener,
    tls: Option<ServerTls>,
    (mut registry, native): (ServiceRegistry, bool),
    broker: BrokerService,
    capture: Option<Arc<stdio::StdioCapture>>,
    shutdown_tx: watch::Sender<bool>,
    mut shutdown_rx: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    // go-plugin's own services, on both transports (health on gRPC is tonic-health's).
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(GRPC_HEALTH_SERVICE, tonic_health::ServingStatus::Serving)
        .await;
    registry
        .add_service(health)
        .add_native_only(Arc::new(internal::Health))
        .add_dispatch(Arc::new(controller::Controller {
            shutdown: shutdown_tx,
        }))
        .add_dispatch(Arc::new(stdio::StdioService {
            capture: capture.clone(),
        }))
        .add_dispatch(Arc::new(broker));
    let (routes, native) = registry.into_routes(native, Some(shutdown_rx.clone()));
    let mut stop_rx = shutdown_rx.clone();
    let stop = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
        if let Some(capture) = &capture {
            capture.finish();
        }
    };
    let server = serve_routes_sorted(listener, tls, routes.routes(), native, stop);
    // Long-lived streams (the host's stdio and broker streams) may never end on their own.
    let result = tokio::select! {
        result = server => result.map_err(ServeError::Server),
        _ = async {
            let _ = shutdown_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => Ok(()),
    };
    tracing::debug!("plugin server stopped");
    result
}
