//! Typed errors for everything that can go wrong before a single RPC is made.
//!
//! Each go-plugin named error has a counterpart here (see the README's API table); messages
//! name the cause and, where there is one, the fix.

use std::path::PathBuf;

use crate::protocol::Protocol;

/// The plugin's handshake line could not be accepted by the host.
///
/// ```
/// use plugin_core::{HandshakeError, HandshakeLine};
/// let err = "hello world".parse::<HandshakeLine>().unwrap_err();
/// assert!(matches!(err, HandshakeError::Unrecognized { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Fewer than four `|`-separated fields: the plugin printed something that is not a
    /// handshake (go-plugin: "Unrecognized remote plugin message").
    #[error(
        "unrecognized remote plugin message: {line:?}; the plugin must print the go-plugin \
         handshake line as the very first line on stdout (nothing may be printed before it)"
    )]
    Unrecognized {
        /// The line as received.
        line: String,
    },
    /// The first field is not a number.
    #[error("error parsing core protocol version {value:?} in handshake line {line:?}")]
    InvalidCoreVersion {
        /// The field's text.
        value: String,
        /// The whole line.
        line: String,
    },
    /// The core protocol version is not 1.
    #[error(
        "incompatible core API version with plugin. Plugin version: {plugin}, Core version: {core}; \
         rebuild the plugin or the host against a go-plugin-compatible library"
    )]
    IncompatibleCoreVersion {
        /// The plugin's core version.
        plugin: String,
        /// Ours (always 1).
        core: u32,
    },
    /// The second field is not a number.
    #[error("error parsing protocol version {value:?} in handshake line {line:?}")]
    InvalidAppVersion {
        /// The field's text.
        value: String,
        /// The whole line.
        line: String,
    },
    /// The plugin chose an app protocol version the host does not have.
    #[error(
        "incompatible API version with plugin. Plugin version: {plugin}, Client versions: {host:?}; \
         the plugin and the host share no protocol version: upgrade the older side or add a \
         versioned plugin set for version {plugin} to the host"
    )]
    IncompatibleAppVersion {
        /// The version the plugin chose.
        plugin: u32,
        /// The versions the host offered.
        host: Vec<u32>,
    },
    /// The network is neither `unix` nor `tcp`.
    #[error("unknown address type {network:?} for address {address:?} in handshake line")]
    UnknownNetwork {
        /// The network field.
        network: String,
        /// The address field.
        address: String,
    },
    /// The protocol field names a protocol nobody knows.
    #[error("unknown plugin protocol {value:?} in handshake line {line:?}")]
    UnknownProtocol {
        /// The field's text.
        value: String,
        /// The whole line.
        line: String,
    },
    /// The protocol is known but the host does not allow it.
    #[error(
        "unsupported plugin protocol {protocol:?}. Supported: {allowed:?}; allow it in \
         ClientConfig::allowed_protocols (net/rpc is opt-in, and its interfaces need a net/rpc \
         implementation) or rebuild the plugin with gRPC enabled"
    )]
    ProtocolNotAllowed {
        /// The plugin's protocol.
        protocol: Protocol,
        /// What the host allows.
        allowed: Vec<Protocol>,
    },
    /// The certificate field is not unpadded standard base64.
    #[error("error parsing server cert: {reason}")]
    InvalidServerCert {
        /// What the decoder said.
        reason: String,
    },
    /// The multiplexing field is not a boolean.
    #[error("error parsing {value:?} as a boolean for gRPC broker multiplexing support")]
    InvalidMultiplex {
        /// The field's text.
        value: String,
    },
    /// The host asked for broker multiplexing and the plugin does not support it (go-plugin's
    /// `ErrGRPCBrokerMuxNotSupported`).
    #[error(
        "client requested gRPC broker multiplexing but plugin does not support the feature; \
         upgrade the plugin's go-plugin library (1.6 or later) or turn multiplexing off in the \
         host (ClientConfig::grpc_broker_multiplex(false))"
    )]
    MuxNotSupported,
}

/// The host's configuration cannot be used (checked before anything is launched).
///
/// ```
/// use plugin_core::ConfigError;
/// assert!(ConfigError::SecureConfigAndReattach.to_string().contains("only one of"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Neither a command (or runner) nor a reattach config was given, or both were.
    #[error(
        "exactly one of command or reattach must be set in the client config: ClientConfig::command \
         (or ClientConfig::runner) launches the plugin, ClientConfig::reattach connects to a running one"
    )]
    CommandOrReattach,
    /// A runner and a reattach config were both given (go-plugin: exactly one of `Cmd`,
    /// `Reattach` or `RunnerFunc`).
    #[error(
        "a runner and a reattach config cannot both be set: ClientConfig::runner launches the \
         plugin and ClientConfig::reattach connects to a running one; keep one of them (to attach \
         through your own code, use ClientConfig::reattach_with)"
    )]
    RunnerWithReattach,
    /// `SecureConfig` was given with a runner and no command: there is no binary to verify.
    #[error(
        "SecureConfig verifies the binary of ClientConfig::command, and the runner was given no \
         command: set ClientConfig::command too (the runner receives it), or verify the binary in \
         the runner and drop ClientConfig::secure"
    )]
    SecureConfigWithoutCommand,
    /// go-plugin's `ErrSecureConfigAndReattach`.
    #[error("only one of Reattach or SecureConfig can be set")]
    SecureConfigAndReattach,
    /// Multiplexing cannot be combined with reattach (go-plugin's rule: the session belongs to
    /// the host that launched the plugin).
    #[error("gRPC broker multiplexing is not supported with Reattach config")]
    MultiplexWithReattach,
    /// AutoMTLS cannot be combined with reattach (the one-time certificates are gone).
    #[error(
        "AutoMTLS cannot be used with a reattach config: the one-time certificates are not persisted; disable AutoMTLS for reattached clients"
    )]
    AutoMtlsWithReattach,
    /// No plugin set was configured.
    #[error("no plugins configured: add a plugin set (plugins or versioned plugins) to the config")]
    NoPlugins,
    /// The handshake config has an empty cookie key or value.
    #[error("misconfigured handshake: no magic cookie key or value was set")]
    NoMagicCookie,
    /// No allowed protocol is left.
    #[error("no allowed protocols: allow at least grpc")]
    NoAllowedProtocols,
    /// The port range is empty.
    #[error("port range {min}..={max} is empty: min port must not be greater than max port")]
    PortRange {
        /// Minimum.
        min: u16,
        /// Maximum.
        max: u16,
    },
}

/// Verification of the plugin binary before launch failed (go-plugin's `SecureConfig`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecureConfigError {
    /// go-plugin's `ErrSecureConfigNoChecksum`.
    #[error("no checksum provided")]
    NoChecksum,
    /// go-plugin's `ErrSecureConfigNoHash`.
    #[error("no hash implementation provided")]
    NoHash,
    /// The file could not be read.
    #[error("error verifying checksum of {path}: {reason}")]
    Verify {
        /// The binary.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// go-plugin's `ErrChecksumsDoNotMatch`.
    #[error(
        "checksums did not match for {path}: expected {expected}, got {actual} ({algorithm}); \
         the binary is not the one the checksum was made for: reinstall it or update the checksum"
    )]
    Mismatch {
        /// The binary.
        path: PathBuf,
        /// The hash algorithm.
        algorithm: String,
        /// Hex of the configured checksum.
        expected: String,
        /// Hex of the file's checksum.
        actual: String,
    },
}
