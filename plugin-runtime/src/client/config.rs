//! [`ClientConfig`]: how a host launches (or reattaches to) one plugin.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use plugin_core::{HandshakeConfig, Protocol, ReattachConfig, env};

use super::process::PluginOutput;
use crate::plugin::{PluginSet, VersionedPlugins};
use crate::runner::{AttachedRunner, ReattachFunc, Runner, RunnerError, RunnerFunc};
use crate::secure::SecureConfig;

/// How to launch or reattach to one plugin (go-plugin's `ClientConfig`).
///
/// ```
/// use plugin_runtime::{ClientConfig, HandshakeConfig, PluginSet};
/// use std::process::Command;
/// use std::time::Duration;
///
/// let config = ClientConfig::new(HandshakeConfig::new(1, "BASIC_PLUGIN", "hello"))
///     .command(Command::new("./kv-plugin"))
///     .plugins(PluginSet::new())
///     .start_timeout(Duration::from_secs(10));
/// ```
pub struct ClientConfig {
    pub(crate) handshake: HandshakeConfig,
    pub(crate) plugins: VersionedPlugins,
    pub(crate) command: Option<Command>,
    pub(crate) reattach: Option<ReattachConfig>,
    pub(crate) runner: Option<RunnerFunc>,
    pub(crate) attach: Option<ReattachFunc>,
    pub(crate) secure: Option<SecureConfig>,
    pub(crate) tls: Option<rustls::ClientConfig>,
    pub(crate) broker_tls: Option<rustls::ServerConfig>,
    pub(crate) auto_mtls: Option<bool>,
    pub(crate) managed: bool,
    pub(crate) min_port: u16,
    pub(crate) max_port: u16,
    pub(crate) start_timeout: Duration,
    pub(crate) kill_grace: Duration,
    pub(crate) stderr: Option<PluginOutput>,
    pub(crate) sync_stdout: Option<PluginOutput>,
    pub(crate) sync_stderr: Option<PluginOutput>,
    pub(crate) allowed_protocols: Vec<Protocol>,
    pub(crate) skip_host_env: bool,
    pub(crate) multiplex: bool,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) unix_socket_dir: Option<PathBuf>,
    pub(crate) unix_socket_group: Option<String>,
    pub(crate) max_message_size: usize,
    pub(crate) name: Option<String>,
    pub(crate) native_transport: bool,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("handshake", &self.handshake)
            .field("plugins", &self.plugins)
            .field("command", &self.command)
            .field("reattach", &self.reattach)
            .field("runner", &self.runner.is_some())
            .field("reattach_with", &self.attach.is_some())
            .field("secure", &self.secure)
            .field("tls", &self.tls.is_some())
            .field("broker_tls", &self.broker_tls.is_some())
            .field("auto_mtls", &self.auto_mtls)
            .field("managed", &self.managed)
            .field("port_range", &(self.min_port..=self.max_port))
            .field("start_timeout", &self.start_timeout)
            .field("kill_grace", &self.kill_grace)
            .field("allowed_protocols", &self.allowed_protocols)
            .field("skip_host_env", &self.skip_host_env)
            .field("grpc_broker_multiplex", &self.multiplex)
            .field("call_timeout", &self.call_timeout)
            .field("unix_socket_dir", &self.unix_socket_dir)
            .field("unix_socket_group", &self.unix_socket_group)
            .field("max_message_size", &self.max_message_size)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Default time a plugin has to print its handshake line (go-plugin's `StartTimeout`).
    pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default time a plugin has to exit after `Shutdown` before it is killed.
    pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);
    /// Default largest message the host sends or accepts (go-plugin's: 2^31 - 1).
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = i32::MAX as usize;

    /// A config with this handshake; add a command (or reattach config) and plugins.
    pub fn new(handshake: HandshakeConfig) -> Self {
        ClientConfig {
            handshake,
            plugins: VersionedPlugins::new(),
            command: None,
            reattach: None,
            runner: None,
            attach: None,
            secure: None,
            tls: None,
            broker_tls: None,
            auto_mtls: None,
            managed: false,
            min_port: env::DEFAULT_MIN_PORT,
            max_port: env::DEFAULT_MAX_PORT,
            start_timeout: Self::DEFAULT_START_TIMEOUT,
            kill_grace: Self::DEFAULT_KILL_GRACE,
            stderr: None,
            sync_stdout: None,
            sync_stderr: None,
            allowed_protocols: vec![Protocol::Grpc],
            skip_host_env: false,
            multiplex: false,
            call_timeout: None,
            unix_socket_dir: None,
            unix_socket_group: None,
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            name: None,
            native_transport: true,
        }
    }

    /// Whether to ask a plugin of this SDK for the native transport (on by default): every
    /// call, stream, callback, the plugin's stdio and its shutdown then travel on one
    /// connection of this SDK's own protocol instead of HTTP/2 and gRPC. go-plugin plugins
    /// ignore the request and answer gRPC. Off forces gRPC; a version's [`PluginSet`] can
    /// force it for that version only ([`PluginSet::native_transport`]). Never with
    /// [`ClientConfig::grpc_broker_multiplex`].
    pub fn native_transport(mut self, on: bool) -> Self {
        self.native_transport = on;
        self
    }

    /// Whether the launch asks for the native transport: on, and some version may use it.
    pub(crate) fn asks_native(&self) -> bool {
        self.native_transport
            && !self.multiplex
            && self.allowed_protocols.contains(&Protocol::Grpc)
            && (self.plugins.is_empty() || self.plugins.values().any(PluginSet::offers_native))
    }

    /// Whether the negotiated `version` may use the native transport.
    pub(crate) fn native_for(&self, version: u32) -> bool {
        self.asks_native()
            && self
                .plugins
                .get(&version)
                .is_none_or(PluginSet::offers_native)
    }

    /// The plugin to launch. Its arguments, working directory and environment are kept; the
    /// go-plugin variables are added. stdin is inherited, stdout and stderr are taken.
    pub fn command(mut self, command: Command) -> Self {
        self.command = Some(command);
        self
    }

    /// Connect to an already running plugin instead of launching one.
    pub fn reattach(mut self, reattach: ReattachConfig) -> Self {
        self.reattach = Some(reattach);
        self
    }

    /// Run the plugin with a [`Runner`] of your own instead of as a child process of this host
    /// (go-plugin's `RunnerFunc`): in a container, over `ssh`, with another environment.
    ///
    /// At start, `make` is called with the command to run and the plugin's socket directory, and
    /// returns the runner; the host then starts it, reads the handshake line from its stdout
    /// (translated by its [`AddrTranslator`](crate::AddrTranslator)), connects, and finally stops
    /// the plugin through it. The command is [`ClientConfig::command`]'s (an empty program
    /// without one) with the plugin's whole environment set explicitly: the host's (unless
    /// [`ClientConfig::skip_host_env`]; a `Command::env_clear` cannot be seen from here), the
    /// command's own, and go-plugin's variables (magic cookie, `PLUGIN_PROTOCOL_VERSIONS`,
    /// `PLUGIN_CLIENT_CERT`, ...), so that `get_envs` lists all of it. As in go-plugin, the
    /// socket directory is created for every runner: under [`ClientConfig::unix_socket_dir`]
    /// (else the system's temp dir), mode 0700 (0770 and its group with
    /// [`ClientConfig::unix_socket_group`]), passed as `PLUGIN_UNIX_SOCKET_DIR`, and removed
    /// when the plugin is gone. [`Client::reattach_config`](crate::Client::reattach_config) then
    /// has pid 0 (the runner's [`id`](crate::AttachedRunner::id) is [`Client::id`](crate::Client::id)).
    /// Not with [`ClientConfig::reattach`]. An error of `make` fails the start with
    /// [`Error::RunnerSetup`](crate::Error::RunnerSetup).
    ///
    /// ```
    /// # use plugin_runtime::{ClientConfig, HandshakeConfig};
    /// # fn my_container_runner(_: std::process::Command, _: &std::path::Path) -> Box<dyn plugin_runtime::Runner> { unimplemented!() }
    /// let config = ClientConfig::new(HandshakeConfig::new(1, "BASIC_PLUGIN", "hello"))
    ///     .command(std::process::Command::new("/plugins/kv"))
    ///     .runner(|command, socket_dir| Ok(my_container_runner(command, socket_dir)));
    /// ```
    pub fn runner<F>(mut self, make: F) -> Self
    where
        F: FnOnce(Command, &Path) -> Result<Box<dyn Runner>, RunnerError> + Send + 'static,
    {
        self.runner = Some(Box::new(make));
        self
    }

    /// Connect to an already running plugin through an [`AttachedRunner`] of your own (go-plugin's
    /// `ReattachConfig.ReattachFunc`): `reattach` says where it listens and what it speaks, and
    /// `attach` (called at start) returns what waits for and kills it. Its `pid` is ignored: the
    /// runner, not a pid probe, tells whether the plugin runs. Brokered addresses go through the
    /// runner's [`AddrTranslator`](crate::AddrTranslator) (not in test mode, where go-plugin keeps
    /// no runner either); the reattach address is the host's already. An error of `attach` fails
    /// the start with [`Error::Reattach`](crate::Error::Reattach).
    ///
    /// ```
    /// # use plugin_runtime::{ClientConfig, HandshakeConfig, ReattachConfig};
    /// # fn attach_to_container(_: &str) -> Result<Box<dyn plugin_runtime::AttachedRunner>, plugin_runtime::RunnerError> { unimplemented!() }
    /// # fn run(reattach: ReattachConfig) {
    /// let config = ClientConfig::new(HandshakeConfig::new(1, "BASIC_PLUGIN", "hello"))
    ///     .reattach_with(reattach, || attach_to_container("kv-plugin-1"));
    /// # }
    /// ```
    pub fn reattach_with<F>(mut self, reattach: ReattachConfig, attach: F) -> Self
    where
        F: FnOnce() -> Result<Box<dyn AttachedRunner>, RunnerError> + Send + 'static,
    {
        self.reattach = Some(reattach);
        self.attach = Some(Box::new(attach));
        self
    }

    /// The plugins of the handshake's protocol version (go-plugin's `Plugins`): the same as
    /// `versioned_plugins(handshake.protocol_version, set)`, as on [`crate::ServeConfig`].
    pub fn plugins(self, set: PluginSet) -> Self {
        let version = self.handshake.protocol_version;
        self.versioned_plugins(version, set)
    }

    /// The plugins of protocol `version` (go-plugin's `VersionedPlugins`); a later call for the
    /// same version replaces the earlier set. The host offers every version it has plugins for.
    pub fn versioned_plugins(mut self, version: u32, set: PluginSet) -> Self {
        self.plugins.insert(version, set);
        self
    }

    /// Verify the binary's checksum before launching it.
    pub fn secure(mut self, secure: SecureConfig) -> Self {
        self.secure = Some(secure);
        self
    }

    /// Manual TLS (go-plugin's `TLSConfig`); turns AutoMTLS off. ALPN `h2` is set for you.
    pub fn tls(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// With manual TLS ([`ClientConfig::tls`]): the TLS the host serves its brokered servers
    /// with, so that a plugin can dial them (go-plugin uses its one `tls.Config` in both roles;
    /// rustls has one type per role). ALPN `h2` is set for you. Not needed with AutoMTLS.
    pub fn broker_tls(mut self, config: rustls::ServerConfig) -> Self {
        self.broker_tls = Some(config);
        self
    }

    /// AutoMTLS: one-time certificates, each side accepting only the other. **On by default**
    /// for launched plugins (go-plugin's default is off); never used for reattach.
    pub fn auto_mtls(mut self, on: bool) -> Self {
        self.auto_mtls = Some(on);
        self
    }

    /// Register the client for [`crate::cleanup_clients`].
    pub fn managed(mut self, on: bool) -> Self {
        self.managed = on;
        self
    }

    /// Ports a TCP plugin may bind (`PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT`; default 10000..=25000).
    pub fn port_range(mut self, min: u16, max: u16) -> Self {
        self.min_port = min;
        self.max_port = max;
        self
    }

    /// How long the plugin has to print its handshake (default 60 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long the plugin has to exit after `Shutdown` before SIGKILL (default 2 s).
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Receives a raw copy of the plugin's stderr, line by line (besides the logs).
    pub fn stderr(mut self, out: impl std::io::Write + Send + 'static) -> Self {
        self.stderr = Some(Box::new(out));
        self
    }

    /// Receives what the plugin writes to stdout after its handshake (go-plugin's `SyncStdout`).
    /// Without it, each line is logged at debug (go-plugin discards them).
    pub fn sync_stdout(mut self, out: impl std::io::Write + Send + 'static) -> Self {
        self.sync_stdout = Some(Box::new(out));
        self
    }

    /// Receives what the plugin writes to stderr after its handshake (go-plugin's `SyncStderr`).
    /// Without it, each line is logged like the plugin's log lines (go-plugin discards them).
    pub fn sync_stderr(mut self, out: impl std::io::Write + Send + 'static) -> Self {
        self.sync_stderr = Some(Box::new(out));
        self
    }

    /// Protocols the plugin may speak (default: gRPC only). net/rpc, go-plugin's default
    /// protocol, is opt-in: `vec![Protocol::Grpc, Protocol::NetRpc]` accepts plugins of either
    /// (dispense then needs interfaces with a net/rpc implementation).
    pub fn allowed_protocols(mut self, protocols: Vec<Protocol>) -> Self {
        self.allowed_protocols = protocols;
        self
    }

    /// A deadline for every call through this client's interfaces (none by default). It
    /// travels as gRPC's `grpc-timeout`, so the plugin's side gives up too; past it a unary call
    /// fails with [`CallError::DeadlineExceeded`](crate::CallError::DeadlineExceeded) and its
    /// work in the plugin is cancelled (its future dropped). A stream's deadline covers the whole
    /// stream. For one call only, wrap it in `tokio::time::timeout`: dropping a call's future
    /// cancels it in the plugin as well.
    pub fn call_timeout(mut self, deadline: Duration) -> Self {
        self.call_timeout = Some(deadline);
        self
    }

    /// Carries brokered connections as streams of the main connection (go-plugin's
    /// `GRPCBrokerMultiplex`, go-plugin 1.6+): one socket per plugin whatever is brokered. The
    /// plugin must support it ([`HandshakeError::MuxNotSupported`](crate::HandshakeError)
    /// otherwise); not with reattach. Off by default, as in go-plugin.
    pub fn grpc_broker_multiplex(mut self, on: bool) -> Self {
        self.multiplex = on;
        self
    }

    /// Do not pass the host's environment to the plugin.
    pub fn skip_host_env(mut self, skip: bool) -> Self {
        self.skip_host_env = skip;
        self
    }

    /// Create a private directory (mode 0700, 0770 with a group) for the plugin's sockets under
    /// `dir`, pass it as `PLUGIN_UNIX_SOCKET_DIR`, and remove it when the plugin is killed
    /// (go-plugin's `UnixSocketConfig.TempDir`; with a [`ClientConfig::runner`] the directory is
    /// made even without it, in the system's temp dir).
    pub fn unix_socket_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.unix_socket_dir = Some(dir.into());
        self
    }

    /// Group (name or gid) that should own the plugin's sockets (`PLUGIN_UNIX_SOCKET_GROUP`).
    pub fn unix_socket_group(mut self, group: impl Into<String>) -> Self {
        self.unix_socket_group = Some(group.into());
        self
    }

    /// Largest message the host sends or accepts (default 2^31 - 1, as go-plugin).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The name used in logs and errors (default: the executable's file name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}
