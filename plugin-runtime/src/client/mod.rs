//! The host side: [`Client`] launches a plugin (or reattaches to one), checks its handshake,
//! connects, dispenses typed interfaces and kills it.

mod cmd_runner;
mod config;
mod launch;
mod logs;
mod netrpc;
mod process;
mod sockets;
mod stdio;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use plugin_core::{
    GRPC_HEALTH_SERVICE, HandshakeError, HandshakeLine, Negotiation, Network, Protocol,
    ReattachAddr, ReattachConfig, VersionList,
};
use tokio::task::JoinHandle;

pub use config::ClientConfig;
// What the fuzz entry points in `__private` run on a peer's bytes.
pub(crate) use logs::Tail;
pub(crate) use process::read_stderr;
pub(crate) use stdio::StdioSinks;

use crate::__private::prost_body;
use crate::broker::{BrokerSetup, GrpcBroker, MuxState};
use crate::connection::GrpcConnection;
use crate::error::Error;
use crate::exit::{Ending, ExitWatch, PluginExit};
use crate::internal::{HEALTH_CHECK, SHUTDOWN};
use crate::native::{NativeClient, Services};
use crate::plugin::PluginSet;
use crate::proto::Empty;
use crate::runner::{AddrTranslator, AttachedRunner, Runner};
use crate::secure::resolve_program;
use crate::tls::{Certificate, ClientTls, ServerTls};
use crate::transport::channel::GrpcChannel;
use crate::transport::codec::MessageLimits;
use crate::transport::io::{
    Address, channel_over, connect_channel, dial_raw, dial_secured, within,
};
use crate::transport::listener::SocketPlace;
use crate::transport::mux::{Mode as MuxMode, Mux};
use cmd_runner::{CommandRunner, PidRunner, probe_pid};
use launch::{launch_command, validate, wait_handshake};
use plugin_core::ConfigError;
use process::{Process, StartFailure, kill_detached};
use sockets::{private_dir, remove_dir, remove_peer_sockets, remove_socket};

/// Manages one plugin: its process, its connection, the interfaces dispensed from it
/// (go-plugin's `Client`). Cheap to clone.
///
/// **Lifetime.** The plugin runs until [`Client::kill`], or until the last `Client` clone *and*
/// the last interface dispensed from it (and every [`GrpcConnection`] handed out) are dropped;
/// then it is SIGKILLed with its process group, without the graceful shutdown of `kill`. A
/// dispensed `Arc<dyn Trait>` therefore stays usable after its `Client` is gone. After `kill`,
/// or once the plugin has exited, every call fails with [`CallError::PluginExited`](crate::CallError::PluginExited), which says
/// how it ended ([`PluginExit`]).
///
/// ```no_run
/// # use plugin_runtime::{Client, ClientConfig, HandshakeConfig, PluginSet};
/// # trait Kv: Send + Sync {}
/// # async fn run(plugins: PluginSet) -> Result<(), plugin_runtime::Error> {
/// let client = Client::new(
///     ClientConfig::new(HandshakeConfig::new(1, "BASIC_PLUGIN", "hello"))
///         .command(std::process::Command::new("./kv-plugin"))
///         .plugins(plugins),
/// )?;
/// let kv = client.dispense::<dyn Kv>("kv").await?; // starts the plugin if needed
/// client.kill().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("name", &self.inner.name)
            .field("pid", &self.pid())
            .field("exit", &self.exit())
            .finish_non_exhaustive()
    }
}

struct Inner {
    name: String,
    config: Mutex<Option<ClientConfig>>,
    state: tokio::sync::Mutex<State>,
    summary: Mutex<Summary>,
}

/// What callers can ask without awaiting, and what `Drop` must clean up.
#[derive(Default, Clone)]
struct Summary {
    exit: Option<ExitWatch>,
    version: Option<u32>,
    protocol: Option<Protocol>,
    reattach: Option<ReattachConfig>,
    pid: Option<u32>,
    /// The runner's id of the plugin.
    id: Option<String>,
    /// The runner of a plugin we launched, while it may be alive: killed if the client is
    /// dropped without a kill.
    runner: Option<Arc<dyn AttachedRunner>>,
    socket_dir: Option<PathBuf>,
    /// The socket of a plugin we launched: removed once it is gone, in case it could not.
    socket: Option<PathBuf>,
    /// The broker of a plugin we launched: the sockets it announced go with it too.
    broker: Option<GrpcBroker>,
}

enum State {
    Idle,
    Running(Box<Running>),
    Killed,
    /// The start failed; the error as it was reported then.
    StartFailed(String),
}

/// What the client is attached to.
enum Attachment {
    /// A process we launched: ours to stop, reap and clean up after.
    Launched {
        process: Process,
        socket_dir: Option<PathBuf>,
        socket: Option<PathBuf>,
    },
    /// A plugin another host launched: asked to shut down, killed by its runner if it does not.
    Reattached {
        runner: Arc<dyn AttachedRunner>,
        liveness: Option<JoinHandle<()>>,
    },
    /// A plugin serving in test mode: never stopped by the host (go-plugin), only let go.
    TestMode { liveness: Option<JoinHandle<()>> },
}

struct Running {
    attachment: Attachment,
    ending: Arc<Ending>,
    plugins: PluginSet,
    link: Link,
    kill_grace: Duration,
}

/// The connection to the plugin, in its protocol.
enum Link {
    Grpc(Attached),
    NetRpc(Arc<netrpc::NetRpcLink>, Option<JoinHandle<()>>),
}

impl Link {
    fn grpc_broker(&self) -> Option<GrpcBroker> {
        match self {
            Link::Grpc(attached) => Some(attached.broker.clone()),
            Link::NetRpc(..) => None,
        }
    }

    fn stdio(&mut self) -> &mut Option<JoinHandle<()>> {
        match self {
            Link::Grpc(attached) => &mut attached.stdio,
            Link::NetRpc(_, stdio) => stdio,
        }
    }
}

/// What `running` hands out: a connection that keeps the plugin alive.
enum Handle {
    Grpc(GrpcConnection),
    NetRpc(Arc<netrpc::NetRpcLink>),
}

/// What the handshake led to: a gRPC channel (and the native connection beside it, when the
/// plugin speaks it), or a net/rpc session and its stdio copy.
enum Connected {
    Grpc(GrpcChannel, Option<(NativeClient, Address)>),
    NetRpc(netrpc::NetRpcLink, JoinHandle<()>),
}

/// What runs on the main connection once it is up.
struct Attached {
    /// What the stubs share (without an owner: the client holds it).
    conn: GrpcConnection,
    broker: GrpcBroker,
    stdio: Option<JoinHandle<()>>,
}

/// The broker on the main connection (brokered addresses seen through `translator`), the
/// connection the stubs share, and the stdio copy.
#[allow(clippy::too_many_arguments)]
fn attach(
    channel: GrpcChannel,
    native: Option<(NativeClient, Address)>,
    exit: ExitWatch,
    config: &mut ClientConfig,
    name: &str,
    tls: HostTls,
    place: SocketPlace,
    translator: Option<Arc<dyn AddrTranslator>>,
) -> Attached {
    let limits = MessageLimits::both(config.max_message_size);
    // go-plugin's own streams last as long as the plugin: no call deadline for them.
    let (native, main) = native.unzip();
    let base = GrpcConnection::new(channel, name.into(), limits, exit.clone()).with_native(native);
    let broker = GrpcBroker::host(
        base.clone(),
        BrokerSetup {
            place,
            server_tls: tls.serve,
            client_tls: tls.dial,
            tls_required: tls.on,
            peer: name.into(),
            limits,
            exit: exit.clone(),
            mux: tls.mux,
            native: base.is_native(),
            main,
        },
    );
    if let Some(translator) = translator {
        broker.translate_with(translator);
    }
    let conn = base
        .clone()
        .with_broker(broker.clone())
        .with_deadline(config.call_timeout);
    Attached {
        conn,
        broker,
        stdio: Some(stdio::forward(base, config, name)),
    }
}

/// A start in progress: holds the state's lock, and if the start's future is dropped before it
/// finishes, kills what was launched (its process group, its sockets) and says so.
struct Starting<'a> {
    client: &'a Client,
    state: tokio::sync::MutexGuard<'a, State>,
    done: bool,
}

impl Drop for Starting<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        *self.state = State::StartFailed("the start was cancelled (its future was dropped)".into());
        let launched = self
            .client
            .inner
            .summary
            .lock()
            .map(|mut s| (s.runner.take(), s.socket.take(), s.socket_dir.take()))
            .unwrap_or_default();
        let (runner, socket, socket_dir) = launched;
        if let Some(runner) = runner {
            kill_detached(runner);
            remove_socket(socket.as_deref());
        }
        remove_dir(socket_dir.as_deref());
    }
}

static MANAGED: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());
static KILLED: AtomicBool = AtomicBool::new(false);

/// Kills every client created with [`ClientConfig::managed`], in parallel (go-plugin's
/// `CleanupClients`). Call it before the host exits.
///
/// ```no_run
/// # async fn run(config: plugin_runtime::ClientConfig) -> Result<(), plugin_runtime::Error> {
/// let client = plugin_runtime::Client::new(config.managed(true))?;
/// client.start().await?;
/// // ... on the way out:
/// plugin_runtime::cleanup_clients().await;
/// assert!(plugin_runtime::cleanup_started());
/// # Ok(()) }
/// ```
pub async fn cleanup_clients() {
    KILLED.store(true, Ordering::SeqCst);
    let clients: Vec<Client> = MANAGED
        .lock()
        .map(|mut list| {
            let live = list
                .iter()
                .filter_map(Weak::upgrade)
                .map(|inner| Client { inner })
                .collect();
            list.clear();
            live
        })
        .unwrap_or_default();
    futures::future::join_all(clients.iter().map(Client::kill)).await;
}

/// Whether [`cleanup_clients`] has been called (go-plugin's `Killed`): plugin code may then
/// expect connection errors.
pub fn cleanup_started() -> bool {
    KILLED.load(Ordering::SeqCst)
}

impl Client {
    /// Checks the configuration; nothing is launched until [`Client::start`] (or the first
    /// [`Client::dispense`]).
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        validate(&config)?;
        let name =
            config
                .name
                .clone()
                .unwrap_or_else(|| match (&config.command, &config.reattach) {
                    (Some(cmd), _) => Path::new(cmd.get_program())
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "plugin".into()),
                    _ => "plugin".into(),
                });
        let managed = config.managed;
        let inner = Arc::new(Inner {
            name,
            config: Mutex::new(Some(config)),
            state: tokio::sync::Mutex::new(State::Idle),
            summary: Mutex::new(Summary::default()),
        });
        if let (true, Ok(mut list)) = (managed, MANAGED.lock()) {
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&inner));
        }
        Ok(Client { inner })
    }

    /// The plugin's name in logs and errors.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Launches (or reattaches to) the plugin, checks its handshake and connects. Does nothing
    /// when already started; fails with [`Error::Killed`] after a kill and with
    /// [`Error::StartFailed`] (saying why) after a failed start.
    pub async fn start(&self) -> Result<(), Error> {
        let mut state = self.inner.state.lock().await;
        if let Some(unusable) = self.unusable(&state) {
            return unusable;
        }
        let config = self.inner.config.lock().ok().and_then(|mut c| c.take());
        let Some(config) = config else {
            *state = State::Killed;
            return Err(self.killed());
        };
        // If this future is dropped half-way, the guard kills what was launched and records it.
        let mut starting = Starting {
            client: self,
            state,
            done: false,
        };
        let result = if config.reattach.is_some() {
            self.reattach(config).await
        } else {
            self.launch(config).await
        };
        starting.done = true;
        match result {
            Ok(running) => {
                *starting.state = State::Running(Box::new(running));
                Ok(())
            }
            Err(e) => {
                *starting.state = State::StartFailed(crate::error::chain(&e));
                self.summary(|s| s.runner = None);
                Err(e)
            }
        }
    }

    /// `Ok` when running, the error to report when the client can no longer be used, `None`
    /// when it has yet to start.
    fn unusable(&self, state: &State) -> Option<Result<(), Error>> {
        match state {
            State::Idle => None,
            State::Running(_) => Some(Ok(())),
            State::Killed => Some(Err(self.killed())),
            State::StartFailed(reason) => Some(Err(Error::StartFailed {
                plugin: self.inner.name.clone(),
                reason: reason.clone(),
            })),
        }
    }

    fn killed(&self) -> Error {
        Error::Killed {
            plugin: self.inner.name.clone(),
        }
    }

    /// The running plugin's set and connection; the connection keeps the plugin alive.
    async fn running(&self) -> Result<(PluginSet, Handle), Error> {
        self.start().await?;
        let state = self.inner.state.lock().await;
        match &*state {
            State::Running(running) => Ok((
                running.plugins.clone(),
                match &running.link {
                    Link::Grpc(attached) => {
                        Handle::Grpc(attached.conn.owned_by(self.inner.clone()))
                    }
                    Link::NetRpc(link, _) => Handle::NetRpc(link.clone()),
                },
            )),
            other => Err(self
                .unusable(other)
                .and_then(Result::err)
                .unwrap_or_else(|| self.killed())),
        }
    }

    /// The interface registered as `name` in the negotiated plugin set, as `Arc<T>` where `T` is
    /// the interface (`dyn Trait`). Starts the plugin if needed.
    pub async fn dispense<T: ?Sized + Send + Sync + 'static>(
        &self,
        name: &str,
    ) -> Result<Arc<T>, Error> {
        let (plugins, handle) = self.running().await?;
        let plugin = plugins.get(name).ok_or_else(|| Error::UnknownPlugin {
            name: name.to_string(),
            available: plugins.names(),
        })?;
        let dispensed = match handle {
            Handle::Grpc(conn) => plugin.grpc_client(conn).await?,
            Handle::NetRpc(link) => link.dispense(name, plugin, self.inner.clone()).await?,
        };
        dispensed
            .downcast::<T>()
            .map_err(|other| Error::WrongInterface {
                name: name.to_string(),
                requested: std::any::type_name::<T>(),
                actual: other.type_name(),
            })
    }

    /// The broker shared with the plugin (go-plugin's `GRPCBroker`): serve callbacks the plugin
    /// dials, or dial what the plugin serves. Starts the plugin if needed.
    pub async fn broker(&self) -> Result<GrpcBroker, Error> {
        let conn = self.connection().await?;
        conn.broker().cloned().ok_or_else(|| self.killed())
    }

    /// The MuxBroker of a net/rpc plugin's session (go-plugin's `RPCClient`'s broker): dial
    /// what the plugin serves by id, or serve what it dials. Starts the plugin if needed.
    pub async fn mux_broker(&self) -> Result<crate::netrpc::MuxBroker, Error> {
        match self.running().await?.1 {
            Handle::NetRpc(link) => Ok(link.broker.clone()),
            Handle::Grpc(_) => Err(self.wrong_protocol(Protocol::Grpc)),
        }
    }

    fn wrong_protocol(&self, protocol: Protocol) -> Error {
        Error::WrongProtocol {
            plugin: self.inner.name.clone(),
            protocol,
        }
    }

    /// The connection the interfaces use, for hand-written tonic clients. Like a dispensed
    /// interface, it keeps the plugin running while it lives.
    pub async fn connection(&self) -> Result<GrpcConnection, Error> {
        match self.running().await?.1 {
            Handle::Grpc(conn) => Ok(conn),
            Handle::NetRpc(_) => Err(self.wrong_protocol(Protocol::NetRpc)),
        }
    }

    /// Checks that the plugin answers (gRPC health check of service `plugin`; `Control.Ping`
    /// over net/rpc).
    pub async fn ping(&self) -> Result<(), Error> {
        let conn = match self.running().await?.1 {
            Handle::Grpc(conn) => conn,
            Handle::NetRpc(link) => return link.ping().await,
        };
        let request = tonic_health::pb::HealthCheckRequest {
            service: GRPC_HEALTH_SERVICE.to_string(),
        };
        conn.unary(HEALTH_CHECK.path, prost_body(request)).await?;
        Ok(())
    }

    /// Stops the plugin: asks it to shut down, waits the grace period (2 s by default), then
    /// SIGKILLs its process group; always reaps it and removes its socket directory.
    /// Idempotent. A plugin reattached in test mode is left running (it ends itself).
    pub async fn kill(&self) {
        let previous = {
            let mut state = self.inner.state.lock().await;
            match &*state {
                State::StartFailed(_) => return,
                _ => std::mem::replace(&mut *state, State::Killed),
            }
        };
        if let State::Running(running) = previous {
            running.stop(&self.inner.name).await;
        }
        self.summary(|s| {
            s.runner = None;
            s.socket_dir = None;
            s.socket = None;
            s.broker = None;
        });
    }

    /// Whether the plugin has ended (exited, crashed or was killed).
    pub fn exited(&self) -> bool {
        self.exit().is_some()
    }

    /// How the plugin ended, once it has.
    pub fn exit(&self) -> Option<PluginExit> {
        self.inner
            .summary
            .lock()
            .ok()
            .and_then(|s| s.exit.as_ref().and_then(ExitWatch::get))
    }

    /// The negotiated app protocol version, once started.
    pub fn negotiated_version(&self) -> Option<u32> {
        self.inner.summary.lock().ok().and_then(|s| s.version)
    }

    /// The plugin's protocol, once started.
    pub fn protocol(&self) -> Option<Protocol> {
        self.inner.summary.lock().ok().and_then(|s| s.protocol)
    }

    /// What another host needs to reattach to this plugin, once started.
    pub fn reattach_config(&self) -> Option<ReattachConfig> {
        self.inner
            .summary
            .lock()
            .ok()
            .and_then(|s| s.reattach.clone())
    }

    /// The plugin's process id, once started: the child's, or the reattach config's; `None`
    /// with a custom runner ([`ClientConfig::runner`], [`ClientConfig::reattach_with`]), whose
    /// [`Client::id`] names the plugin instead.
    pub fn pid(&self) -> Option<u32> {
        self.inner.summary.lock().ok().and_then(|s| s.pid)
    }

    /// The runner's id of the plugin once started (go-plugin's `ID`): the process id for a
    /// plugin this host launched as its child or reattached to by pid, whatever a custom runner's
    /// [`AttachedRunner::id`] says otherwise (a container id, say).
    ///
    /// ```no_run
    /// # async fn run(client: plugin_runtime::Client) -> Result<(), plugin_runtime::Error> {
    /// client.start().await?;
    /// println!("plugin {} runs as {:?}", client.name(), client.id());
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> Option<String> {
        self.inner.summary.lock().ok().and_then(|s| s.id.clone())
    }

    fn summary(&self, f: impl FnOnce(&mut Summary)) {
        if let Ok(mut s) = self.inner.summary.lock() {
            f(&mut s);
        }
    }

    async fn launch(&self, mut config: ClientConfig) -> Result<Running, Error> {
        let name = self.inner.name.clone();
        let make_runner = config.runner.take();
        let command = match (config.command.take(), &make_runner) {
            (Some(command), _) => command,
            // go-plugin's too: the runner decides what runs; the command carries the environment.
            (None, Some(_)) => std::process::Command::new(""),
            (None, None) => return Err(ConfigError::CommandOrReattach.into()),
        };
        let program = resolve_program(Path::new(command.get_program()));
        if let Some(secure) = &config.secure {
            secure.check(&program)?;
        }
        let host_versions: VersionList = config.plugins.keys().copied().collect();
        let auto_mtls = config.tls.is_none() && config.auto_mtls.unwrap_or(true);
        let host_cert = if auto_mtls {
            Some(Certificate::generate().map_err(|source| Error::Tls {
                plugin: name.clone(),
                source,
            })?)
        } else {
            None
        };
        // go-plugin makes one for every runner, in the temp dir unless told otherwise.
        let socket_base = match (&config.unix_socket_dir, &make_runner) {
            (Some(base), _) => Some(base.clone()),
            (None, Some(_)) => Some(std::env::temp_dir()),
            (None, None) => None,
        };
        let socket_dir = match &socket_base {
            Some(base) => Some(private_dir(
                base,
                config.unix_socket_group.as_deref(),
                &name,
            )?),
            None => None,
        };
        let command = launch_command(
            command,
            &config,
            &host_versions,
            host_cert.as_ref(),
            socket_dir.as_deref(),
            make_runner.is_some(),
        );
        let custom = make_runner.is_some();
        let runner: Box<dyn Runner> = match (make_runner, &socket_dir) {
            (Some(make), Some(dir)) => make(command, dir).map_err(|source| {
                remove_dir(Some(dir));
                Error::RunnerSetup {
                    plugin: name.clone(),
                    source,
                }
            })?,
            _ => Box::new(CommandRunner::new(command, program.clone())),
        };
        let runner_name = runner.name();
        // The default runner's id is its child's pid, which also leads the process group.
        let pid_of = |runner: &dyn Runner| (!custom).then(|| runner.id().parse().ok()).flatten();
        let started = Process::start(
            runner,
            pid_of,
            &name,
            config.stderr.take(),
            config.start_timeout,
        )
        .await;
        let mut process = match started {
            Ok(p) => p,
            Err(failure) => {
                remove_dir(socket_dir.as_deref());
                let timeout = config.start_timeout;
                return Err(start_error(
                    failure,
                    &name,
                    runner_name,
                    program,
                    custom,
                    timeout,
                ));
            }
        };
        let attached: Arc<dyn AttachedRunner> = process.runner.clone();
        self.summary(|s| {
            s.pid = process.pid;
            s.id = Some(attached.id());
            s.runner = Some(attached);
            s.exit = Some(process.ending.watch());
            s.socket_dir = socket_dir.clone();
        });
        let mut socket = None;
        match self
            .handshake_and_connect(
                &mut process,
                &mut config,
                &host_versions,
                host_cert,
                &mut socket,
            )
            .await
        {
            Ok((line, connected, tls)) => {
                let version = line.app_version;
                let plugins = config.plugins.remove(&version).unwrap_or_default();
                let place = SocketPlace {
                    dir: socket_dir.clone(),
                    group: config.unix_socket_group.clone(),
                };
                let translator: Arc<dyn AddrTranslator> = process.runner.clone();
                let link = match connected {
                    Connected::Grpc(channel, native) => Link::Grpc(attach(
                        channel,
                        native,
                        process.ending.watch(),
                        &mut config,
                        &name,
                        tls,
                        place,
                        Some(translator),
                    )),
                    Connected::NetRpc(link, stdio) => Link::NetRpc(Arc::new(link), Some(stdio)),
                };
                self.summary(|s| {
                    s.socket = socket.clone();
                    s.broker = link.grpc_broker();
                    s.version = Some(version);
                    s.protocol = Some(line.protocol);
                    s.reattach = Some(ReattachConfig {
                        protocol: line.protocol,
                        protocol_version: version,
                        addr: ReattachAddr {
                            network: line.network,
                            address: line.address.clone(),
                        },
                        // go-plugin: a custom runner's plugin is not reattached by pid.
                        pid: process.pid.unwrap_or_default(),
                        test: false,
                    });
                });
                Ok(Running {
                    ending: process.ending.clone(),
                    attachment: Attachment::Launched {
                        process,
                        socket_dir,
                        socket,
                    },
                    plugins,
                    link,
                    kill_grace: config.kill_grace,
                })
            }
            Err(e) => {
                process.kill().await;
                process.wait_exit(Duration::from_secs(5)).await;
                process.drain(Duration::from_secs(1)).await;
                remove_socket(socket.as_deref());
                remove_dir(socket_dir.as_deref());
                Err(e)
            }
        }
    }

    async fn handshake_and_connect(
        &self,
        process: &mut Process,
        config: &mut ClientConfig,
        host_versions: &VersionList,
        host_cert: Option<Certificate>,
        socket: &mut Option<PathBuf>,
    ) -> Result<(HandshakeLine, Connected, HostTls), Error> {
        let name = &self.inner.name;
        let raw = wait_handshake(process, config.start_timeout, name).await?;
        let refused = |reason: HandshakeError| Error::Handshake {
            plugin: name.clone(),
            reason,
            stderr: process.stderr_tail(),
        };
        let mut line: HandshakeLine = match raw.parse() {
            Ok(line) => line,
            Err(reason) => {
                return Err(Error::Handshake {
                    plugin: name.clone(),
                    reason,
                    stderr: process.failure_text().await,
                });
            }
        };
        // Dialled, cleaned up and handed out for reattach as the host sees it.
        (line.network, line.address) = process
            .runner
            .plugin_to_host(line.network, &line.address)
            .map_err(|source| Error::AddrTranslation {
            plugin: name.clone(),
            network: line.network,
            address: line.address.clone(),
            source,
        })?;
        if line.network == Network::Unix {
            *socket = Some(PathBuf::from(&line.address));
            // Known from now on, so that a cancelled start can remove it too.
            self.summary(|s| s.socket = socket.clone());
        }
        Negotiation::accept(line.app_version, host_versions).map_err(refused)?;
        let native_asked = line.protocol == Protocol::RustNative && config.asks_native();
        if !native_asked && !config.allowed_protocols.contains(&line.protocol) {
            return Err(refused(HandshakeError::ProtocolNotAllowed {
                protocol: line.protocol,
                allowed: config.allowed_protocols.clone(),
            }));
        }
        // The negotiated version's set may want gRPC: the plugin serves it too.
        let native_asked = native_asked && config.native_for(line.app_version);
        if line.protocol == Protocol::RustNative && !native_asked {
            line.protocol = Protocol::Grpc;
        }
        if config.multiplex && line.protocol == Protocol::Grpc && line.multiplex != Some(true) {
            return Err(refused(HandshakeError::MuxNotSupported));
        }
        let tls = match (host_cert, config.tls.is_some()) {
            (_, true) => HostTls::manual(config),
            (Some(own), false) => {
                let Some(plugin_der) = line.server_cert.clone() else {
                    return Err(Error::AutoMtlsNotAnswered {
                        plugin: name.clone(),
                    });
                };
                HostTls::auto(&own, plugin_der).map_err(|source| Error::Tls {
                    plugin: name.clone(),
                    source,
                })?
            }
            (None, false) => HostTls::default(),
        };
        let address = Address {
            network: line.network,
            address: line.address.clone(),
        };
        if line.protocol == Protocol::NetRpc {
            let exit = process.ending.watch();
            let (link, stdio) =
                netrpc::NetRpcLink::connect(name, address, tls.dial.clone(), config, exit).await?;
            return Ok((line, Connected::NetRpc(link, stdio), tls));
        }
        let native = if native_asked {
            let client = connect_native(name, address.clone(), tls.dial.clone(), config).await?;
            Some((client, address.clone()))
        } else {
            None
        };
        let (channel, mux) = if config.multiplex {
            let (channel, mux) =
                connect_multiplexed(name, address, tls.dial.clone(), config.start_timeout).await?;
            (channel, Some(mux))
        } else {
            let timeout = config.start_timeout;
            let channel =
                grpc_channel(name, address, tls.dial.clone(), timeout, native.is_some()).await?;
            (channel, None)
        };
        Ok((
            line,
            Connected::Grpc(channel, native),
            HostTls { mux, ..tls },
        ))
    }

    async fn reattach(&self, mut config: ClientConfig) -> Result<Running, Error> {
        let name = self.inner.name.clone();
        let reattach = config
            .reattach
            .take()
            .ok_or(ConfigError::CommandOrReattach)?;
        // A plugin that speaks the native transport speaks gRPC too.
        let protocol = match reattach.protocol {
            Protocol::RustNative => Protocol::Grpc,
            other => other,
        };
        if !config.allowed_protocols.contains(&protocol) {
            return Err(Error::Handshake {
                plugin: name,
                reason: HandshakeError::ProtocolNotAllowed {
                    protocol: reattach.protocol,
                    allowed: config.allowed_protocols.clone(),
                },
                stderr: String::new(),
            });
        }
        let address = Address {
            network: reattach.addr.network,
            address: reattach.addr.address.clone(),
        };
        let not_found = |source: std::io::Error| Error::ProcessNotFound {
            pid: reattach.pid,
            address: address.to_string(),
            source,
        };
        let custom = config.attach.is_some();
        let runner: Arc<dyn AttachedRunner> = match config.attach.take() {
            Some(attach) => Arc::from(attach().map_err(|source| Error::Reattach {
                plugin: name.clone(),
                source,
            })?),
            None => {
                if reattach.pid != 0 {
                    probe_pid(reattach.pid).map_err(not_found)?;
                }
                dial_raw(&address).await.map_err(not_found)?;
                Arc::new(PidRunner { pid: reattach.pid })
            }
        };
        let pid = (!custom).then_some(reattach.pid);
        let tls = if config.tls.is_some() {
            HostTls::manual(&mut config)
        } else {
            HostTls::default()
        };
        let ending = Ending::new();
        let speaks_native = reattach.protocol == Protocol::RustNative
            && config.native_for(reattach.protocol_version);
        let connected = match reattach.protocol {
            Protocol::NetRpc => {
                let (link, stdio) = netrpc::NetRpcLink::connect(
                    &name,
                    address,
                    tls.dial.clone(),
                    &mut config,
                    ending.watch(),
                )
                .await?;
                Connected::NetRpc(link, stdio)
            }
            Protocol::Grpc | Protocol::RustNative => {
                let native = if speaks_native {
                    let client =
                        connect_native(&name, address.clone(), tls.dial.clone(), &config).await?;
                    Some((client, address.clone()))
                } else {
                    None
                };
                let timeout = config.start_timeout;
                Connected::Grpc(
                    grpc_channel(&name, address, tls.dial.clone(), timeout, native.is_some())
                        .await?,
                    native,
                )
            }
        };
        let liveness = (pid != Some(0)).then(|| {
            let watched = process::watch_end(runner.clone(), pid, name.clone(), ending.clone());
            tokio::spawn(watched)
        });
        let version = [reattach.protocol_version, config.handshake.protocol_version]
            .into_iter()
            .find(|v| config.plugins.contains_key(v))
            .or_else(|| config.plugins.keys().next_back().copied())
            .unwrap_or_default();
        let place = SocketPlace {
            dir: None,
            group: config.unix_socket_group.clone(),
        };
        // go-plugin keeps no runner for a test-mode plugin: not translated, not killed.
        let translator = (!reattach.test).then(|| runner.clone() as Arc<dyn AddrTranslator>);
        let link = match connected {
            Connected::Grpc(channel, native) => Link::Grpc(attach(
                channel,
                native,
                ending.watch(),
                &mut config,
                &name,
                tls,
                place,
                translator,
            )),
            Connected::NetRpc(link, stdio) => Link::NetRpc(Arc::new(link), Some(stdio)),
        };
        self.summary(|s| {
            s.exit = Some(ending.watch());
            s.version = Some(version);
            s.protocol = Some(match reattach.protocol {
                Protocol::RustNative if !speaks_native => Protocol::Grpc,
                other => other,
            });
            s.pid = pid;
            s.id = Some(runner.id());
            s.reattach = Some(reattach.clone());
        });
        let attachment = if reattach.test {
            Attachment::TestMode { liveness }
        } else {
            Attachment::Reattached { runner, liveness }
        };
        Ok(Running {
            attachment,
            ending,
            plugins: config.plugins.remove(&version).unwrap_or_default(),
            link,
            kill_grace: config.kill_grace,
        })
    }
}

/// The error of a runner that did not start the plugin: the default runner's as go-plugin's
/// `exec` error ([`Error::Spawn`]), a custom one's as [`Error::RunnerStart`].
fn start_error(
    failure: StartFailure,
    plugin: &str,
    runner: String,
    program: PathBuf,
    custom: bool,
    timeout: Duration,
) -> Error {
    let source = match failure {
        StartFailure::Failed(source) if !custom => match source.downcast::<std::io::Error>() {
            Ok(source) => {
                return Error::Spawn {
                    program,
                    source: *source,
                };
            }
            Err(source) => source,
        },
        StartFailure::Failed(source) => source,
        StartFailure::TimedOut => Box::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the runner did not start the plugin within {timeout:?} (ClientConfig::start_timeout)"
            ),
        )),
    };
    Error::RunnerStart {
        plugin: plugin.to_string(),
        runner,
        source,
    }
}

/// The host's TLS in both roles: dialling the plugin (and its brokered servers), and serving
/// the servers the host brokers.
#[derive(Default)]
pub(crate) struct HostTls {
    pub(crate) dial: Option<Arc<ClientTls>>,
    pub(crate) serve: Option<ServerTls>,
    /// Whether TLS is on: then nothing is brokered in plaintext.
    pub(crate) on: bool,
    /// Multiplexed mode: the session on the main connection.
    pub(crate) mux: Option<Arc<MuxState>>,
}

impl HostTls {
    /// AutoMTLS: our one-time certificate, and only the plugin's accepted.
    fn auto(own: &Certificate, plugin_der: Vec<u8>) -> Result<HostTls, crate::TlsError> {
        Ok(HostTls {
            dial: Some(Arc::new(ClientTls::auto(own, plugin_der.clone())?)),
            serve: Some(ServerTls::auto(own, plugin_der.into())?),
            on: true,
            mux: None,
        })
    }

    /// The user's configurations; without `broker_tls` the host cannot serve brokered servers.
    fn manual(config: &mut ClientConfig) -> HostTls {
        HostTls {
            dial: config.tls.take().map(|c| Arc::new(ClientTls::manual(c))),
            serve: config.broker_tls.take().map(ServerTls::manual),
            on: true,
            mux: None,
        }
    }
}

/// Multiplexed mode: one raw connection carrying a yamux session; the main gRPC connection is
/// the first stream the host opens (TLS inside it), brokered ones the next.
async fn connect_multiplexed(
    name: &str,
    address: Address,
    tls: Option<Arc<ClientTls>>,
    timeout: Duration,
) -> Result<(GrpcChannel, Arc<MuxState>), Error> {
    let shown = address.to_string();
    let session = async {
        let raw = dial_raw(&address).await?;
        let (session, inbound) = Mux::start(raw, MuxMode::Client);
        let main = session.open().await?;
        let channel = channel_over(main, tls.as_deref()).await?;
        let state = Arc::new(MuxState::default());
        state.attach(session, address.clone(), inbound, None);
        Ok((channel, state))
    };
    within(timeout, session)
        .await
        .map_err(|source| Error::Connect {
            plugin: name.to_string(),
            address: shown,
            source,
        })
}

/// The native connection beside the gRPC one: TLS first when on, then the preface.
async fn connect_native(
    name: &str,
    address: Address,
    tls: Option<Arc<ClientTls>>,
    config: &ClientConfig,
) -> Result<NativeClient, Error> {
    let shown = address.to_string();
    let limits = MessageLimits::both(config.max_message_size);
    let start = async {
        let io = dial_secured(&address, tls.as_deref()).await?;
        NativeClient::start(io, limits, Services::Wait).await
    };
    within(config.start_timeout, start)
        .await
        .map_err(|source| Error::Connect {
            plugin: name.to_string(),
            address: shown,
            source,
        })
}

/// The gRPC channel beside a native connection is opened only if a hand-written tonic client
/// uses it (everything of go-plugin's and of the interfaces travels natively); without one,
/// it is connected now.
async fn grpc_channel(
    name: &str,
    address: Address,
    tls: Option<Arc<ClientTls>>,
    timeout: Duration,
    native: bool,
) -> Result<GrpcChannel, Error> {
    if !native {
        return connect(name, address, tls, timeout).await;
    }
    Ok(GrpcChannel::lazy(Box::new(move || {
        let (address, tls) = (address.clone(), tls.clone());
        Box::pin(within(timeout, connect_channel(address, tls)))
    })))
}

async fn connect(
    name: &str,
    address: Address,
    tls: Option<Arc<ClientTls>>,
    timeout: Duration,
) -> Result<GrpcChannel, Error> {
    let shown = address.to_string();
    within(timeout, connect_channel(address, tls))
        .await
        .map_err(|source| Error::Connect {
            plugin: name.to_string(),
            address: shown,
            source,
        })
}

impl Running {
    async fn stop(mut self, name: &str) {
        self.ending.start_killing();
        let grace = self.kill_grace;
        let test_mode = matches!(self.attachment, Attachment::TestMode { .. });
        match &self.link {
            Link::Grpc(attached) => {
                // go-plugin's Close: the broker first (brokered servers stop), then Shutdown.
                attached.broker.close();
                if !test_mode {
                    let shutdown = attached.conn.unary(SHUTDOWN.path, prost_body(Empty {}));
                    // The plugin may close the connection before answering: any outcome is fine.
                    let _ = tokio::time::timeout(grace, shutdown).await;
                }
            }
            Link::NetRpc(link, _) if !test_mode => link.quit(grace).await,
            Link::NetRpc(..) => {}
        }
        let graceful = match &self.attachment {
            Attachment::TestMode { .. } => true,
            _ => tokio::time::timeout(grace, self.ending.watch().wait())
                .await
                .is_ok(),
        };
        if !graceful {
            tracing::warn!(plugin = %name, "plugin failed to exit gracefully");
        }
        match &mut self.attachment {
            Attachment::Launched {
                process,
                socket_dir,
                socket,
            } => {
                // The default runner's also ends whatever the plugin left running in its group.
                process.kill().await;
                process.wait_exit(Duration::from_secs(5)).await;
                process.drain(grace).await;
                if let Some(stdio) = self.link.stdio().take() {
                    let abort = stdio.abort_handle();
                    if tokio::time::timeout(grace, stdio).await.is_err() {
                        abort.abort();
                    }
                }
                if let Some(broker) = self.link.grpc_broker() {
                    remove_peer_sockets(socket.as_deref(), broker.peer_sockets());
                }
                remove_socket(socket.take().as_deref());
                remove_dir(socket_dir.take().as_deref());
            }
            Attachment::Reattached { runner, .. } if !graceful => {
                if let Err(e) = runner.kill().await {
                    let error = crate::error::chain(&*e);
                    tracing::debug!(plugin = %name, %error, "error killing plugin");
                }
            }
            Attachment::Reattached { .. } | Attachment::TestMode { .. } => {}
        }
        // Calls on dispensed interfaces fail from now on, saying the host killed the plugin.
        self.ending.publish(PluginExit::Killed { status: None });
        self.abort_tasks();
    }

    fn abort_tasks(&mut self) {
        if let Some(t) = self.link.stdio().take() {
            t.abort();
        }
        if let Attachment::Reattached { liveness, .. } | Attachment::TestMode { liveness } =
            &mut self.attachment
            && let Some(t) = liveness.take()
        {
            t.abort();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let summary = self
            .summary
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        if let Some(runner) = summary.runner {
            kill_detached(runner);
            remove_socket(summary.socket.as_deref());
            if let Some(broker) = &summary.broker {
                remove_peer_sockets(summary.socket.as_deref(), broker.peer_sockets());
            }
        }
        remove_dir(summary.socket_dir.as_deref());
    }
}
