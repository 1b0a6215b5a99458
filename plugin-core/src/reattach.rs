//! Reattaching a host to a plugin that is already running.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protocol::{Network, Protocol};

/// Where and how to reach a running plugin (go-plugin's `ReattachConfig`).
///
/// Serialises to the JSON that Terraform-style debug variables use (`TF_REATTACH_PROVIDERS`):
///
/// ```
/// use plugin_core::{Network, Protocol, ReattachAddr, ReattachConfig};
///
/// let json = r#"{"Protocol":"grpc","ProtocolVersion":5,"Pid":47254,"Test":true,
///                "Addr":{"Network":"unix","String":"/tmp/plugin2908212597"}}"#;
/// let cfg: ReattachConfig = serde_json::from_str(json)?;
/// assert_eq!(cfg.protocol, Protocol::Grpc);
/// assert_eq!(cfg.addr, ReattachAddr { network: Network::Unix, address: "/tmp/plugin2908212597".into() });
/// let back: ReattachConfig = serde_json::from_str(&serde_json::to_string(&cfg)?)?;
/// assert_eq!(back, cfg);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReattachConfig {
    /// The plugin's protocol; an empty string reads as `netrpc`, as in go-plugin.
    #[serde(default = "netrpc")]
    pub protocol: Protocol,
    /// The negotiated app version (0 when unknown).
    #[serde(default)]
    pub protocol_version: u32,
    /// The plugin's address.
    pub addr: ReattachAddr,
    /// The plugin's process id (0 when unknown, e.g. a plugin run by another runner).
    #[serde(default)]
    pub pid: u32,
    /// A plugin served in test mode: the host never kills it; it ends itself.
    #[serde(default)]
    pub test: bool,
}

fn netrpc() -> Protocol {
    Protocol::NetRpc
}

/// A network address as Go's `net.Addr` is serialised: `{"Network": .., "String": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReattachAddr {
    /// `unix` or `tcp`.
    #[serde(rename = "Network")]
    pub network: Network,
    /// The socket path or `IP:PORT`.
    #[serde(rename = "String")]
    pub address: String,
}

/// Reattach configs keyed by plugin name, the value of `TF_REATTACH_PROVIDERS`-style variables.
///
/// ```
/// use plugin_core::ReattachMap;
/// let map: ReattachMap = serde_json::from_str(
///     r#"{"kv":{"Protocol":"grpc","Pid":1,"Addr":{"Network":"tcp","String":"127.0.0.1:1"}}}"#)?;
/// assert!(map.contains_key("kv"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub type ReattachMap = BTreeMap<String, ReattachConfig>;
