//! The vocabulary shared by hosts, plugins and the `#[plugin_interface]` macro.
//!
//! This crate does no I/O: it describes go-plugin's wire facts (the handshake line, version
//! negotiation, the environment variables, the reattach configuration) and the codec used by
//! serde interfaces. Users normally depend on `plugin-runtime`, which re-exports everything here.
//!
//! ```
//! use plugin_core::{HandshakeLine, Network, Protocol};
//!
//! let line: HandshakeLine = "1|1|unix|/tmp/plugin123|grpc|".parse()?;
//! assert_eq!(line.network, Network::Unix);
//! assert_eq!(line.protocol, Protocol::Grpc);
//! assert_eq!(line.to_string(), "1|1|unix|/tmp/plugin123|grpc|");
//! # Ok::<(), plugin_core::HandshakeError>(())
//! ```
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]

mod bytes;
mod codec;
pub mod env;
mod error;
pub mod gob;
mod handshake;
pub mod hclog;
mod negotiate;
mod protocol;
mod reattach;

pub use bytes::ByteBuf;
pub use codec::{Bincode, Codec, CodecError};
pub use error::{ConfigError, HandshakeError, SecureConfigError};
pub use handshake::{HandshakeConfig, HandshakeLine};
pub use negotiate::{Negotiation, VersionList};
pub use protocol::{CORE_PROTOCOL_VERSION, GRPC_HEALTH_SERVICE, Network, Protocol, parse_go_bool};
pub use reattach::{ReattachAddr, ReattachConfig, ReattachMap};
