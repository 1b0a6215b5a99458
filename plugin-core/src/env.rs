//! The environment variables of go-plugin's launch protocol, in one place.
//!
//! The host sets them on the child; the plugin reads them in `serve`. The magic cookie's
//! variable name is chosen by the application ([`crate::HandshakeConfig::magic_cookie_key`]).
//!
//! ```
//! assert_eq!(plugin_core::env::PROTOCOL_VERSIONS, "PLUGIN_PROTOCOL_VERSIONS");
//! ```

/// Comma-separated list of the app protocol versions the host speaks.
pub const PROTOCOL_VERSIONS: &str = "PLUGIN_PROTOCOL_VERSIONS";
/// Lowest TCP port the plugin may bind (when it listens on TCP).
pub const MIN_PORT: &str = "PLUGIN_MIN_PORT";
/// Highest TCP port the plugin may bind (when it listens on TCP).
pub const MAX_PORT: &str = "PLUGIN_MAX_PORT";
/// The host's AutoMTLS certificate, as PEM text.
pub const CLIENT_CERT: &str = "PLUGIN_CLIENT_CERT";
/// Set (to `true`) when the host wants gRPC broker multiplexing.
pub const MULTIPLEX_GRPC: &str = "PLUGIN_MULTIPLEX_GRPC";
/// Directory in which the plugin creates its unix sockets.
pub const UNIX_SOCKET_DIR: &str = "PLUGIN_UNIX_SOCKET_DIR";
/// Set by a host of this SDK that speaks the native transport, to its own process id; a plugin
/// of this SDK whose parent has that id then answers `rustnative` in its handshake. The id
/// keeps a variable inherited through a go-plugin host (which passes its environment on) from
/// reaching that host's plugins. go-plugin ignores it.
pub const RUST_NATIVE: &str = "PLUGIN_RUST_NATIVE";
/// Group (name or numeric gid) that should own the plugin's unix sockets (mode 0660).
pub const UNIX_SOCKET_GROUP: &str = "PLUGIN_UNIX_SOCKET_GROUP";

/// Host default for [`MIN_PORT`], as go-plugin's.
pub const DEFAULT_MIN_PORT: u16 = 10000;
/// Host default for [`MAX_PORT`], as go-plugin's.
pub const DEFAULT_MAX_PORT: u16 = 25000;

/// Every variable name above, for hosts that scrub or print the launch environment.
pub const ALL: [&str; 8] = [
    PROTOCOL_VERSIONS,
    MIN_PORT,
    MAX_PORT,
    CLIENT_CERT,
    MULTIPLEX_GRPC,
    UNIX_SOCKET_DIR,
    UNIX_SOCKET_GROUP,
    RUST_NATIVE,
];
