//! Errors of the host ([`Error`]), of calls through dispensed plugins ([`CallError`]) and of
//! serving ([`ServeError`]).

use std::path::PathBuf;
use std::time::Duration;

use plugin_core::{CodecError, ConfigError, HandshakeError, Protocol, SecureConfigError};
use tonic::Status;

use crate::exit::PluginExit;
use crate::tls::TlsError;
use crate::transport::listener::ListenError;

/// What can go wrong while starting, connecting to, dispensing from or reattaching to a plugin.
///
/// Each message says what happened and, where there is one, what to do; an error from the OS
/// or a library underneath is its [`source`](std::error::Error::source), not repeated in the
/// message (print the whole chain, as `anyhow` and `eyre` do, to see it).
///
/// ```
/// use plugin_runtime::{Client, ClientConfig, ConfigError, Error, HandshakeConfig};
/// // No command and no reattach config: refused before anything runs.
/// let err = Client::new(ClientConfig::new(HandshakeConfig::new(1, "K", "V"))).unwrap_err();
/// assert!(matches!(err, Error::Config(ConfigError::CommandOrReattach)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is unusable; nothing was launched.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The plugin binary failed verification; nothing was launched.
    #[error(transparent)]
    Secure(#[from] SecureConfigError),
    /// The plugin binary could not be started at all.
    #[error(
        "failed to launch plugin {}; check that the path is right and the file is executable",
        program.display()
    )]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The plugin process ended before printing its handshake line.
    #[error(
        "plugin {plugin} exited before we could connect ({exit}) and printed no handshake line{}",
        stderr_tail(stderr)
    )]
    ExitedBeforeHandshake {
        /// The plugin's name.
        plugin: String,
        /// How it exited.
        exit: PluginExit,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// No handshake line arrived in time.
    #[error(
        "timeout while waiting for plugin {plugin} to start: no handshake line after {timeout:?}; \
         raise ClientConfig::start_timeout if the plugin is slow to start{}",
        stderr_tail(stderr)
    )]
    StartTimeout {
        /// The plugin's name.
        plugin: String,
        /// The configured timeout.
        timeout: Duration,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// The plugin's handshake line was refused.
    #[error("plugin {plugin}: {reason}{}", stderr_tail(stderr))]
    Handshake {
        /// The plugin's name.
        plugin: String,
        /// Why.
        reason: HandshakeError,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// AutoMTLS was requested and the plugin answered without a certificate.
    #[error(
        "plugin {plugin} answered without a TLS certificate although AutoMTLS was requested: it \
         does not support AutoMTLS (or it was built with an old go-plugin); upgrade the plugin, or \
         turn AutoMTLS off for it with ClientConfig::auto_mtls(false)"
    )]
    AutoMtlsNotAnswered {
        /// The plugin's name.
        plugin: String,
    },
    /// A TLS setting or certificate could not be used.
    #[error("plugin {plugin}: TLS could not be set up")]
    Tls {
        /// The plugin's name.
        plugin: String,
        /// What failed.
        source: TlsError,
    },
    /// Connecting to the address in the handshake failed.
    #[error("failed to connect to plugin {plugin} at {address}")]
    Connect {
        /// The plugin's name.
        plugin: String,
        /// The address from the handshake or reattach config.
        address: String,
        /// Why: the OS error, the TLS or HTTP/2 handshake's, or a timeout.
        source: std::io::Error,
    },
    /// The function given to [`ClientConfig::runner`](crate::ClientConfig::runner) returned an
    /// error; nothing was started.
    #[error(
        "the runner function of plugin {plugin} (ClientConfig::runner) failed, so nothing was \
         started; fix the runner function or what it needs (its error is the source)"
    )]
    RunnerSetup {
        /// The plugin's name.
        plugin: String,
        /// The function's error.
        source: crate::RunnerError,
    },
    /// A custom [`Runner`](crate::Runner) failed to start the plugin, or did not within
    /// [`ClientConfig::start_timeout`](crate::ClientConfig::start_timeout).
    #[error(
        "runner {runner} failed to start plugin {plugin}; check that what it runs exists and can \
         start (its error is the source), or raise ClientConfig::start_timeout if it timed out"
    )]
    RunnerStart {
        /// The plugin's name.
        plugin: String,
        /// The runner's [`name`](crate::Runner::name).
        runner: String,
        /// The runner's error, or a timeout (`std::io::ErrorKind::TimedOut`).
        source: crate::RunnerError,
    },
    /// The function given to [`ClientConfig::reattach_with`](crate::ClientConfig::reattach_with)
    /// returned an error.
    #[error(
        "reattaching to plugin {plugin} failed: the attach function (ClientConfig::reattach_with) \
         returned an error; check that the plugin still runs and that the function can reach it \
         (its error is the source)"
    )]
    Reattach {
        /// The plugin's name.
        plugin: String,
        /// The function's error.
        source: crate::RunnerError,
    },
    /// The runner's [`AddrTranslator::plugin_to_host`](crate::AddrTranslator::plugin_to_host)
    /// refused the address of the plugin's handshake line.
    #[error(
        "the runner of plugin {plugin} could not translate the plugin's address {network} \
         {address:?} to the host's view (AddrTranslator::plugin_to_host); make the translation \
         cover where the plugin listens (its error is the source)"
    )]
    AddrTranslation {
        /// The plugin's name.
        plugin: String,
        /// The network of the handshake line.
        network: plugin_core::Network,
        /// The address of the handshake line, as the plugin gave it.
        address: String,
        /// The translator's error.
        source: crate::RunnerError,
    },
    /// go-plugin's `ErrProcessNotFound`: the plugin to reattach to is gone.
    #[error(
        "reattachment process not found: plugin {pid} at {address} is not running or not listening"
    )]
    ProcessNotFound {
        /// The configured pid.
        pid: u32,
        /// The configured address.
        address: String,
        /// What the probe said.
        source: std::io::Error,
    },
    /// The plugin set has no plugin of that name.
    #[error("unknown plugin type: {name:?}; the negotiated plugin set has {available:?}")]
    UnknownPlugin {
        /// The requested name.
        name: String,
        /// The names in the negotiated set.
        available: Vec<String>,
    },
    /// The plugin of that name is not of the requested interface.
    #[error(
        "plugin {name:?} dispenses {actual}, not {requested}; use the interface it was registered with"
    )]
    WrongInterface {
        /// The requested name.
        name: String,
        /// The requested type.
        requested: &'static str,
        /// What the plugin dispenses.
        actual: &'static str,
    },
    /// The operation belongs to the other protocol than the one the plugin speaks.
    #[error(
        "plugin {plugin} speaks {protocol}: {}",
        if *protocol == Protocol::NetRpc {
            "it has no gRPC connection or GRPCBroker; use Client::mux_broker and dispensed interfaces"
        } else {
            "it has no net/rpc MuxBroker; use Client::broker"
        }
    )]
    WrongProtocol {
        /// The plugin's name.
        plugin: String,
        /// The protocol it speaks.
        protocol: Protocol,
    },
    /// [`Client::kill`](crate::Client::kill) was called: the client cannot be used again.
    #[error("plugin {plugin} was killed by Client::kill; create a new Client to start it again")]
    Killed {
        /// The plugin's name.
        plugin: String,
    },
    /// An earlier start failed: the client cannot be used again.
    #[error("plugin {plugin} failed to start ({reason}); create a new Client to try again")]
    StartFailed {
        /// The plugin's name.
        plugin: String,
        /// The error of the failed start, with its sources.
        reason: String,
    },
    /// A call made on the host's behalf (ping, dispense) failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// An I/O error with the plugin's pipes or sockets.
    #[error("plugin {plugin}: {context}")]
    Io {
        /// The plugin's name.
        plugin: String,
        /// What we were doing.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

/// An error and its sources, joined with `": "`, for a log line or a message on stderr.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn stderr_tail(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!("; its stderr ended with:\n{}", stderr.trim_end())
    }
}

/// A call through a dispensed plugin failed for a reason outside the plugin's own code.
///
/// Interface methods return `Result<T, E>` with `E: From<CallError>`, so these reach callers as
/// their own error type. [`Status`] converts from it, for protobuf interfaces that use it as `E`.
///
/// ```
/// use plugin_runtime::{CallError, Code, Status};
/// let status: Status = CallError::Status(Status::not_found("no key")).into();
/// assert_eq!(status.code(), Code::NotFound);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The plugin is gone (it exited, crashed or was killed) before or during the call.
    #[error("plugin {plugin} {exit}: {method} cannot be called")]
    PluginExited {
        /// The plugin's name.
        plugin: String,
        /// The method.
        method: String,
        /// How it ended.
        exit: PluginExit,
    },
    /// The connection failed while the process is still (or was last seen) alive.
    #[error("connection to plugin {plugin} failed during {method}: {status}")]
    Transport {
        /// The plugin's name.
        plugin: String,
        /// The method.
        method: String,
        /// The gRPC status tonic reported.
        status: Status,
    },
    /// The call took longer than the client's deadline ([`ClientConfig::call_timeout`](crate::ClientConfig::call_timeout));
    /// it was cancelled, on the plugin's side too.
    #[error(
        "{method} on plugin {plugin} took longer than its deadline of {deadline:?} and was \
         cancelled; raise ClientConfig::call_timeout if the call is slow on purpose"
    )]
    DeadlineExceeded {
        /// The plugin's name.
        plugin: String,
        /// The method.
        method: String,
        /// The deadline.
        deadline: std::time::Duration,
    },
    /// The plugin answered with a gRPC error status.
    #[error("{}: {}", .0.code(), .0.message())]
    Status(Status),
    /// A value could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// An interface passed as an argument or returned (a callback) could not cross the broker.
    #[error(
        "the {interface} passed through the broker is unavailable: {}",
        chain(&**error)
    )]
    Broker {
        /// The interface (`dyn my_crate::Progress`).
        interface: &'static str,
        /// Why (kept out of `source()`: interface error types keep this message whole).
        error: Box<crate::broker::BrokerError>,
    },
    /// A net/rpc call failed (the plugin's error text, the connection, gob).
    #[error(transparent)]
    NetRpc(#[from] crate::netrpc::NetRpcError),
    /// A serde interface's plugin was built from a different version of the trait.
    #[error(
        "interface {interface} mismatch: the host was built with fingerprint {host} and the plugin \
         with {plugin}; rebuild both from the same version of the trait"
    )]
    FingerprintMismatch {
        /// The interface (`package.Service`).
        interface: String,
        /// The host's fingerprint.
        host: String,
        /// The plugin's fingerprint.
        plugin: String,
    },
}

impl From<CallError> for Status {
    fn from(err: CallError) -> Status {
        match err {
            CallError::Status(status) => status,
            CallError::Codec(e) => Status::internal(e.to_string()),
            CallError::FingerprintMismatch { .. } => Status::failed_precondition(err.to_string()),
            CallError::DeadlineExceeded { .. } => Status::deadline_exceeded(err.to_string()),
            other => Status::unavailable(other.to_string()),
        }
    }
}

/// What can go wrong while serving a plugin.
///
/// ```
/// use plugin_runtime::ServeError;
/// assert!(ServeError::NoPlugins.to_string().contains("add a plugin set"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration has no plugin to serve.
    #[error("no plugins to serve: add a plugin set to the ServeConfig")]
    NoPlugins,
    /// The unix socket or TCP listener could not be created.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// A TLS setting or certificate could not be used.
    #[error("TLS could not be set up")]
    Tls(#[from] TlsError),
    /// A plugin could not register its services.
    #[error("plugin {name:?} could not be registered: {reason}")]
    Register {
        /// The plugin's name in the set.
        name: String,
        /// Why.
        reason: String,
    },
    /// Redirecting stdout/stderr or another OS operation failed.
    #[error("{context}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("the gRPC server failed")]
    Server(#[source] tonic::transport::Error),
}
