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
use process::{HostWatch, check_cookie, install_panic_hook, spawn_signal_handlers, watch_host};

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
/// It starts a little sooner than [`serve`] in a runtime of your own: another thread builds
/// the multi-threaded tokio runtime while the plugin checks its environment and binds its
/// socket. Everything else happens in the same order as with [`serve`].
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
    let building = std::thread::Builder::new()
        .name("plugin-runtime-start".into())
        .spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        });
    let result = Prepared::new(config).and_then(|prepared| {
        let runtime = building
            .and_then(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("building it panicked")))
            })
            .map_err(|source| ServeError::Io {
                context: "starting the tokio runtime (out of threads or memory? check ulimit -u)",
                source,
            })?;
        let serving = {
            let _runtime = runtime.enter();
            prepared.announce()?
        };
        let result = runtime.block_on(serving.serve());
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
    Prepared::new(config)?.announce()?.serve().await
}

/// A plugin ready to announce itself: what needs no tokio runtime is done (so `serve_main`
/// does it while its runtime is being built).
struct Prepared {
    served: PluginSet,
    version: u32,
    protocol: Protocol,
    max_message_size: usize,
    bound: listener::Bound,
    address: Address,
    security: Security,
    broker: GrpcBroker,
    broker_service: BrokerService,
    mux: Option<Arc<MuxState>>,
    capture_stdio: bool,
    test: Option<ServeTestConfig>,
}

/// A plugin that has said where it listens (the handshake line, or the test's reattach
/// config), with what serving needs.
struct Serving {
    served: PluginSet,
    protocol: Protocol,
    listener: Listener,
    address: Address,
    server_tls: Option<ServerTls>,
    registry: Option<ServiceRegistry>,
    broker: GrpcBroker,
    broker_service: BrokerService,
    mux: Option<Arc<MuxState>>,
    capture: Option<Arc<stdio::StdioCapture>>,
    shutdown_tx: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
    announced: Announced,
    own_socket: Option<std::path::PathBuf>,
}

impl Prepared {
    /// The cookie, logging, TLS, the negotiated version and the bound socket: nothing here
    /// needs a runtime.
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
        if test.is_none() {
            check_cookie(&handshake);
        }
        set_up_logging(capture_stdio, install_logging, test.is_none())?;
        let security = Security::new(tls, broker_tls)?;
        // go-plugin: multiplexing when the host asks for it, never for a test-mode plugin.
        let multiplex = test.is_none()
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
            && test.is_none()
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
        let bound = listener::bind(listen)?;
        let address = bound.address().map_err(|source| ServeError::Io {
            context: "reading the listener's address",
            source,
        })?;
        Ok(Prepared {
            served,
            version,
            protocol,
            max_message_size,
            bound,
            address,
            security,
            broker,
            broker_service,
            mux,
            capture_stdio,
            test,
        })
    }

    /// Registers the plugins, prints the handshake line (signals handled first), then
    /// captures stdout and stderr. Runs in a tokio runtime's context: the plugins'
    /// registration may spawn tasks.
    fn announce(self) -> Result<Serving, ServeError> {
        let Prepared {
            served,
            version,
            protocol,
            max_message_size,
            bound,
            address,
            security,
            broker,
            broker_service,
            mux,
            capture_stdio,
            test,
        } = self;
        let listener = bound.register().map_err(|source| ServeError::Io {
            context: "listening on the plugin's socket",
            source,
        })?;
        let registry = match protocol {
            Protocol::Grpc | Protocol::RustNative => {
                Some(register(&served, max_message_size, &broker)?)
            }
            Protocol::NetRpc => None,
        };
        // Taken before stdout is captured: the handshake line must reach the real stdout.
        let announce = match test {
            None => Announce::Handshake(File::from(stdio::StdFd::Out.duplicate().map_err(
                |source| ServeError::Io {
                    context: "duplicating stdout",
                    source,
                },
            )?)),
            Some(test) => Announce::Test(test),
        };
        tracing::debug!(network = %address.network, address = %address.address, "plugin address");
        let own_socket = (address.network == plugin_core::Network::Unix)
            .then(|| std::path::PathBuf::from(&address.address));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let announced =
            announce.announce(version, protocol, &address, security.own_der, &shutdown_tx)?;
        // After the handshake, which goes out first: the host starts connecting while the pipes
        // and their threads are set up (its connection waits in the backlog until we serve).
        let capture = capture_stdio
            .then(|| {
                stdio::StdioCapture::start().map_err(|source| ServeError::Io {
                    context: "capturing stdout and stderr",
                    source,
                })
            })
            .transpose()?;
        Ok(Serving {
            served,
            protocol,
            listener,
            address,
            server_tls: security.server,
            registry,
            broker,
            broker_service,
            mux,
            capture,
            shutdown_tx,
            shutdown_rx,
            announced,
            own_socket,
        })
    }
}

impl Serving {
    /// Serves until the host asks the plugin to stop.
    async fn serve(self) -> Result<(), ServeError> {
        let Serving {
            served,
            protocol,
            listener,
            address,
            server_tls,
            registry,
            broker,
            broker_service,
            mux,
            capture,
            shutdown_tx,
            shutdown_rx,
            announced,
            own_socket,
        } = self;
        let native = protocol == Protocol::RustNative;
        let (listener, session) = match mux {
            Some(mux) => {
                let (streams, session) = multiplexed(listener, address, mux);
                (streams, Some(session))
            }
            None => (listener, None),
        };
        let result = match registry {
            Some(registry) => {
                serve_until_shutdown(
                    listener,
                    server_tls,
                    (registry, native),
                    broker_service,
                    capture,
                    shutdown_tx,
                    shutdown_rx,
                )
                .await
            }
            None => {
                netrpc::serve_until_shutdown(
                    listener,
                    server_tls,
                    served,
                    capture,
                    shutdown_tx,
                    shutdown_rx,
                )
                .await;
                Ok(())
            }
        };
        broker.close();
        if let Some(session) = session {
            session.abort();
        }
        let host_gone = announced.host_gone();
        // The handshake's stdout stayed open until now: the host drains it until the process ends.
        drop(announced);
        if host_gone {
            cleanup::after_host(own_socket.as_deref(), broker.peer_sockets());
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

/// The gRPC services of the negotiated plugin set.
fn register(
    set: &PluginSet,
    max_message_size: usize,
    broker: &GrpcBroker,
) -> Result<ServiceRegistry, ServeError> {
    let mut registry =
        ServiceRegistry::new(MessageLimits::both(max_message_size), Some(broker.clone()));
    for (_, plugin) in set.iter() {
        plugin.grpc_server(&mut registry)?;
    }
    Ok(registry)
}

/// How the host learns where we listen.
enum Announce {
    /// The handshake line on the real stdout (a go-plugin host reads it).
    Handshake(File),
    /// The reattach config handed to the test (go-plugin's test mode).
    Test(ServeTestConfig),
}

/// What must stay alive while serving: stdout held open, or the test's stop watcher.
enum Announced {
    Handshake(#[allow(dead_code)] File, HostWatch),
    Test(tokio::task::JoinHandle<()>),
}

impl Announced {
    /// Whether serving ended because the host died.
    fn host_gone(&self) -> bool {
        matches!(self, Announced::Handshake(_, watch) if watch.gone())
    }
}

impl Drop for Announced {
    fn drop(&mut self) {
        if let Announced::Test(stopper) = self {
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
        shutdown: &watch::Sender<bool>,
    ) -> Result<Announced, ServeError> {
        match self {
            Announce::Handshake(mut out) => {
                // Signals are handled before the line is out: a host may act on it at once.
                spawn_signal_handlers(shutdown.clone());
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
                // Watched from right after the line (a host already gone still reads as gone):
                // the thread's start is not on the host's clock. The write end of the
                // handshake's pipe tells when its reader is gone.
                let pipe = out.try_clone().ok().map(std::os::fd::OwnedFd::from);
                let host = watch_host(shutdown.clone(), pipe);
                Ok(Announced::Handshake(out, host))
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
                let trigger = shutdown.clone();
                Ok(Announced::Test(tokio::spawn(async move {
                    stop.await;
                    let _ = trigger.send(true);
                })))
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
