//! Protocol names, networks and the constants of go-plugin's core protocol.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The version of the plugin system itself, the first field of the handshake line.
/// go-plugin has never changed it; a host rejects any other value.
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// The health-check service name a host pings (`grpc.health.v1.Health/Check`).
pub const GRPC_HEALTH_SERVICE: &str = "plugin";

/// The RPC protocol a plugin speaks, the fifth field of the handshake line.
///
/// ```
/// use plugin_core::Protocol;
/// assert_eq!("grpc".parse::<Protocol>(), Ok(Protocol::Grpc));
/// assert_eq!(Protocol::NetRpc.as_str(), "netrpc");
/// assert_eq!("rustnative".parse::<Protocol>(), Ok(Protocol::RustNative));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Go's `net/rpc` over yamux (gob encoding), go-plugin's original protocol; a host accepts
    /// it only when its `allowed_protocols` include it.
    NetRpc,
    /// gRPC over HTTP/2, the protocol of every non-Go go-plugin implementation.
    Grpc,
    /// This SDK's native transport, every call and stream on one connection of its own
    /// protocol; the plugin serves gRPC on the same socket too. A plugin of this SDK answers
    /// with it only when the host set [`crate::env::RUST_NATIVE`], so go-plugin hosts never
    /// see it.
    RustNative,
}

impl Protocol {
    /// The wire name: `netrpc`, `grpc` or `rustnative`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::NetRpc => "netrpc",
            Protocol::Grpc => "grpc",
            Protocol::RustNative => "rustnative",
        }
    }

    /// Whether a gRPC server answers on the plugin's socket (`grpc` and `rustnative`).
    pub const fn is_grpc(self) -> bool {
        matches!(self, Protocol::Grpc | Protocol::RustNative)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;

    /// Parses a wire name. The empty string means `netrpc`, as in go-plugin's reattach config.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "grpc" => Ok(Protocol::Grpc),
            "rustnative" => Ok(Protocol::RustNative),
            "netrpc" | "" => Ok(Protocol::NetRpc),
            other => Err(other.to_string()),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|v| serde::de::Error::custom(format!("unknown plugin protocol {v:?}")))
    }
}

/// The network of a plugin's address, the third field of the handshake line.
///
/// ```
/// use plugin_core::Network;
/// assert_eq!("unix".parse::<Network>(), Ok(Network::Unix));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// A unix domain socket; the address is its path.
    Unix,
    /// TCP; the address is `IP:PORT`.
    Tcp,
}

impl Network {
    /// The wire name: `unix` or `tcp`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Network::Unix => "unix",
            Network::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unix" => Ok(Network::Unix),
            "tcp" | "tcp4" | "tcp6" => Ok(Network::Tcp),
            other => Err(other.to_string()),
        }
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|v| serde::de::Error::custom(format!("unknown network {v:?}")))
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it (go-plugin parses `PLUGIN_MULTIPLEX_GRPC` and
/// the handshake's multiplexing field this way).
///
/// ```
/// assert_eq!(plugin_core::parse_go_bool("T"), Some(true));
/// assert_eq!(plugin_core::parse_go_bool("0"), Some(false));
/// assert_eq!(plugin_core::parse_go_bool("yes"), None);
/// ```
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
