//! The host side: [`Client`] launches a plugin (or reattaches to one), checks its handshake,
//! connects, dispenses typed interfaces and kills it.

mod config;
mod launch;
mod logs;
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
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    ClientConfig, DEFAULT_KILL_GRACE, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_START_TIMEOUT,
};
pub use process::Output;

use crate::error::{CallError, ConfigError, Error};
use crate::plugin::PluginSet;
use crate::proto::grpc_controller_client::GrpcControllerClient;
use crate::secure::resolve_program;
use crate::tls::{Certificate, ClientTls};
use crate::transport::channel::GrpcChannel;
use crate::transport::connection::GrpcConnection;
use crate::transport::io::{Address, connect_channel, dial_raw};
use launch::{launch_command, validate, wait_handshake};
use process::Process;
use sockets::{private_dir, remove_dir, remove_socket};
use stdio::attach;

/// Manages one plugin: its process, its connection, the interfaces dispensed from it
/// (go-plugin's `Client`). Cheap to clone; the plugin is killed when the last clone is dropped
/// (SIGKILL, without the graceful shutdown of [`Client::kill`]).
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

struct Inner {
    name: String,
    config: Mutex<Option<ClientConfig>>,
    state: tokio::sync::Mutex<State>,
    summary: Mutex<Summary>,
}

/// What callers can ask without awaiting.
#[derive(Default, Clone)]
struct Summary {
    exit: Option<watch::Receiver<Option<String>>>,
    version: Option<u32>,
    protocol: Option<Protocol>,
    reattach: Option<ReattachConfig>,
    pid: Option<u32>,
    /// The plugin's process group, while we own a process that may be alive.
    group: Option<u32>,
    socket_dir: Option<PathBuf>,
    /// The socket of a plugin we launched: removed once it is gone, in case it could not.
    socket: Option<PathBuf>,
}

enum State {
    Idle,
    Running(Box<Running>),
    Dead,
}

struct Running {
    process: Option<Process>,
    test: bool,
    reattached_pid: Option<u32>,
    exit: watch::Receiver<Option<String>>,
    plugins: PluginSet,
    conn: GrpcConnection,
    stdio: Option<JoinHandle<()>>,
    liveness: Option<JoinHandle<()>>,
    socket_dir: Option<PathBuf>,
    socket: Option<PathBuf>,
    kill_grace: Duration,
}

static MANAGED: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());
static KILLED: AtomicBool = AtomicBool::new(false);

/// Kills every client created with [`ClientConfig::managed`], in parallel (go-plugin's
/// `CleanupClients`). Call it before the host exits.
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
    /// when already started; fails with [`Error::Killed`] after a kill or a failed start.
    pub async fn start(&self) -> Result<(), Error> {
        let mut state = self.inner.state.lock().await;
        match &*state {
            State::Running(_) => return Ok(()),
            State::Dead => {
                return Err(Error::Killed {
                    plugin: self.inner.name.clone(),
                });
            }
            State::Idle => {}
        }
        let config = self.inner.config.lock().ok().and_then(|mut c| c.take());
        let Some(config) = config else {
            *state = State::Dead;
            return Err(Error::Killed {
                plugin: self.inner.name.clone(),
            });
        };
        let result = if config.reattach.is_some() {
            self.reattach(config).await
        } else {
            self.launch(config).await
        };
        match result {
            Ok(running) => {
                *state = State::Running(Box::new(running));
                Ok(())
            }
            Err(e) => {
                *state = State::Dead;
                self.summary(|s| s.group = None);
                Err(e)
            }
        }
    }

    /// The interface registered as `name` in the negotiated plugin set, as `Arc<T>` where `T` is
    /// the interface (`dyn Trait`). Starts the plugin if needed.
    pub async fn dispense<T: ?Sized + Send + Sync + 'static>(
        &self,
        name: &str,
    ) -> Result<Arc<T>, Error> {
        self.start().await?;
        let (plugin, conn) = {
            let state = self.inner.state.lock().await;
            let State::Running(running) = &*state else {
                return Err(Error::Killed {
                    plugin: self.inner.name.clone(),
                });
            };
            let plugin =
                running
                    .plugins
                    .get(name)
                    .cloned()
                    .ok_or_else(|| Error::UnknownPlugin {
                        name: name.to_string(),
                        available: running.plugins.names(),
                    })?;
            (plugin, running.conn.clone())
        };
        let dispensed = plugin.grpc_client(conn).await?;
        dispensed
            .downcast::<T>()
            .map_err(|other| Error::WrongInterface {
                name: name.to_string(),
                requested: std::any::type_name::<T>(),
                actual: other.type_name(),
            })
    }

    /// The connection the interfaces use, for hand-written tonic clients.
    pub async fn connection(&self) -> Result<GrpcConnection, Error> {
        self.start().await?;
        match &*self.inner.state.lock().await {
            State::Running(running) => Ok(running.conn.clone()),
            _ => Err(Error::Killed {
                plugin: self.inner.name.clone(),
            }),
        }
    }

    /// Checks that the plugin answers (gRPC health check of service `plugin`).
    pub async fn ping(&self) -> Result<(), Error> {
        let conn = self.connection().await?;
        let mut health = tonic_health::pb::health_client::HealthClient::new(conn.channel());
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: GRPC_HEALTH_SERVICE.to_string(),
            })
            .await
            .map(|_| ())
            .map_err(|status| {
                Error::Call(CallError::Transport {
                    plugin: self.inner.name.clone(),
                    method: "grpc.health.v1.Health/Check".into(),
                    status,
                })
            })
    }

    /// Stops the plugin: asks it to shut down, waits the grace period (2 s by default), then
    /// SIGKILLs its process group; always reaps it and removes its socket directory.
    /// Idempotent. A plugin reattached in test mode is left running (it ends itself).
    pub async fn kill(&self) {
        let previous = {
            let mut state = self.inner.state.lock().await;
            std::mem::replace(&mut *state, State::Dead)
        };
        if let State::Running(running) = previous {
            running.stop(&self.inner.name).await;
        }
        self.summary(|s| {
            s.group = None;
            s.socket_dir = None;
            s.socket = None;
        });
    }

    /// Whether the plugin process has exited.
    pub fn exited(&self) -> bool {
        self.inner
            .summary
            .lock()
            .ok()
            .and_then(|s| s.exit.as_ref().map(|e| e.borrow().is_some()))
            .unwrap_or(false)
    }

    /// How the plugin process ended (`exit status 0`, `killed by signal 9`, ...), once it has.
    pub fn exit_reason(&self) -> Option<String> {
        self.inner
            .summary
            .lock()
            .ok()
            .and_then(|s| s.exit.as_ref().and_then(|e| e.borrow().clone()))
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

    /// The plugin's process id, once started (go-plugin's `ID`).
    pub fn pid(&self) -> Option<u32> {
        self.inner.summary.lock().ok().and_then(|s| s.pid)
    }

    fn summary(&self, f: impl FnOnce(&mut Summary)) {
        if let Ok(mut s) = self.inner.summary.lock() {
            f(&mut s);
        }
    }

    async fn launch(&self, mut config: ClientConfig) -> Result<Running, Error> {
        let name = self.inner.name.clone();
        let command = config
            .command
            .take()
            .ok_or(ConfigError::CommandOrReattach)?;
        let program = resolve_program(Path::new(command.get_program()));
        if let Some(secure) = &config.secure {
            secure.check(&program)?;
        }
        let host_versions: VersionList = config.plugins.keys().copied().collect();
        let auto_mtls = config.tls.is_none() && config.auto_mtls.unwrap_or(true);
        let host_cert = if auto_mtls {
            Some(Certificate::generate().map_err(|e| Error::Tls(e.to_string()))?)
        } else {
            None
        };
        let socket_dir = match &config.unix_socket_dir {
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
        );
        let mut process = match Process::spawn(command, program, &name, config.stderr.take()) {
            Ok(p) => p,
            Err(e) => {
                remove_dir(socket_dir.as_deref());
                return Err(e);
            }
        };
        self.summary(|s| {
            s.pid = Some(process.pid);
            s.group = Some(process.pid);
            s.exit = Some(process.exit.clone());
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
            Ok((line, channel)) => {
                let version = line.app_version;
                let plugins = config.plugins.remove(&version).unwrap_or_default();
                let (conn, stdio) = attach(channel, process.exit.clone(), &mut config, &name);
                self.summary(|s| {
                    s.socket = socket.clone();
                    s.version = Some(version);
                    s.protocol = Some(line.protocol);
                    s.reattach = Some(ReattachConfig {
                        protocol: line.protocol,
                        protocol_version: version,
                        addr: ReattachAddr {
                            network: line.network,
                            address: line.address.clone(),
                        },
                        pid: process.pid,
                        test: false,
                    });
                });
                Ok(Running {
                    exit: process.exit.clone(),
                    process: Some(process),
                    test: false,
                    reattached_pid: None,
                    plugins,
                    conn,
                    stdio: Some(stdio),
                    liveness: None,
                    socket_dir,
                    socket,
                    kill_grace: config.kill_grace,
                })
            }
            Err(e) => {
                process.kill_group();
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
    ) -> Result<(HandshakeLine, GrpcChannel), Error> {
        let name = &self.inner.name;
        let raw = wait_handshake(process, config.start_timeout, name).await?;
        let refused = |source: HandshakeError| Error::Handshake {
            plugin: name.clone(),
            source,
            stderr: process.stderr_tail(),
        };
        let line: HandshakeLine = raw.parse().map_err(refused)?;
        if line.network == Network::Unix {
            *socket = Some(PathBuf::from(&line.address));
        }
        Negotiation::accept(line.app_version, host_versions).map_err(refused)?;
        if !config.allowed_protocols.contains(&line.protocol) {
            return Err(refused(HandshakeError::ProtocolNotAllowed {
                protocol: line.protocol,
                allowed: config.allowed_protocols.clone(),
            }));
        }
        let tls = match (host_cert, config.tls.take()) {
            (_, Some(manual)) => Some(ClientTls::manual(manual)),
            (Some(own), None) => {
                let Some(server_der) = line.server_cert.clone() else {
                    return Err(Error::AutoMtlsNotAnswered {
                        plugin: name.clone(),
                    });
                };
                Some(ClientTls::auto(&own, server_der).map_err(|e| Error::Tls(e.to_string()))?)
            }
            (None, None) => None,
        };
        let address = Address {
            network: line.network,
            address: line.address.clone(),
        };
        let channel = connect(name, address, tls, config.start_timeout).await?;
        Ok((line, channel))
    }

    async fn reattach(&self, mut config: ClientConfig) -> Result<Running, Error> {
        let name = self.inner.name.clone();
        let reattach = config
            .reattach
            .take()
            .ok_or(ConfigError::CommandOrReattach)?;
        if !config.allowed_protocols.contains(&reattach.protocol) {
            return Err(Error::Handshake {
                plugin: name,
                source: HandshakeError::ProtocolNotAllowed {
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
        let not_found = |reason: String| Error::ProcessNotFound {
            pid: reattach.pid,
            address: address.to_string(),
            reason,
        };
        if reattach.pid != 0 && !process::pid_alive(reattach.pid) {
            return Err(not_found("no such process".into()));
        }
        dial_raw(&address)
            .await
            .map_err(|e| not_found(e.to_string()))?;
        let tls = config.tls.take().map(ClientTls::manual);
        let channel = connect(&name, address, tls, config.start_timeout).await?;
        let (exit_tx, exit_rx) = watch::channel(None);
        let liveness = (reattach.pid != 0).then(|| {
            let pid = reattach.pid;
            tokio::spawn(async move {
                while process::pid_alive(pid) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let _ = exit_tx.send(Some(format!("process {pid} is gone")));
            })
        });
        let version = [reattach.protocol_version, config.handshake.protocol_version]
            .into_iter()
            .find(|v| config.plugins.contains_key(v))
            .or_else(|| config.plugins.keys().next_back().copied())
            .unwrap_or_default();
        let (conn, stdio) = attach(channel, exit_rx.clone(), &mut config, &name);
        self.summary(|s| {
            s.exit = Some(exit_rx.clone());
            s.version = Some(version);
            s.protocol = Some(reattach.protocol);
            s.pid = Some(reattach.pid);
            s.reattach = Some(reattach.clone());
        });
        Ok(Running {
            process: None,
            test: reattach.test,
            reattached_pid: Some(reattach.pid),
            exit: exit_rx,
            plugins: config.plugins.remove(&version).unwrap_or_default(),
            conn,
            stdio: Some(stdio),
            liveness,
            socket_dir: None,
            socket: None,
            kill_grace: config.kill_grace,
        })
    }
}

async fn connect(
    name: &str,
    address: Address,
    tls: Option<ClientTls>,
    timeout: Duration,
) -> Result<GrpcChannel, Error> {
    let shown = address.to_string();
    let failed = |reason: String| Error::Connect {
        plugin: name.to_string(),
        address: shown.clone(),
        reason,
    };
    match tokio::time::timeout(timeout, connect_channel(address, tls.map(Arc::new))).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(e)) => {
            let mut reason = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                reason.push_str(": ");
                reason.push_str(&s.to_string());
                source = s.source();
            }
            Err(failed(reason))
        }
        Err(_) => Err(failed(format!("no connection after {timeout:?}"))),
    }
}

impl Running {
    async fn stop(mut self, name: &str) {
        if self.test {
            // go-plugin: a test-mode plugin is never killed by the host.
            self.abort_tasks();
            return;
        }
        let grace = self.kill_grace;
        let mut controller = GrpcControllerClient::new(self.conn.channel());
        // The plugin may close the connection before answering: any outcome is fine.
        let _ = tokio::time::timeout(grace, controller.shutdown(crate::proto::Empty {})).await;
        let mut exit = self.exit.clone();
        let graceful = tokio::time::timeout(grace, exit.wait_for(|e| e.is_some()))
            .await
            .is_ok();
        if !graceful {
            tracing::warn!(plugin = %name, "plugin failed to exit gracefully");
        }
        match (&mut self.process, self.reattached_pid) {
            (Some(process), _) => {
                // Also ends whatever the plugin left running in its group.
                process.kill_group();
                process.wait_exit(Duration::from_secs(5)).await;
                process.drain(grace).await;
            }
            (None, Some(pid)) if !graceful && pid != 0 => {
                if let Ok(pid) = libc::pid_t::try_from(pid) {
                    // SAFETY: the pid was the plugin's; we checked it was still alive above.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
            _ => {}
        }
        if let Some(stdio) = self.stdio.take() {
            let abort = stdio.abort_handle();
            if tokio::time::timeout(grace, stdio).await.is_err() {
                abort.abort();
            }
        }
        self.abort_tasks();
        remove_socket(self.socket.take().as_deref());
        remove_dir(self.socket_dir.take().as_deref());
    }

    fn abort_tasks(&mut self) {
        if let Some(t) = self.stdio.take() {
            t.abort();
        }
        if let Some(t) = self.liveness.take() {
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
        if let Some(group) = summary.group {
            process::kill_group(group);
            remove_socket(summary.socket.as_deref());
        }
        remove_dir(summary.socket_dir.as_deref());
    }
}
