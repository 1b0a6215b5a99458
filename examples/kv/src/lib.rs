//! go-plugin's KV example: the interface shared by the `kv` host and the `kv-plugin` plugin.
//!
//! The wire is that of go-plugin's `examples/grpc`: cookie `BASIC_PLUGIN=hello`, protocol
//! version 1, gRPC service `proto.KV` with `Get` and `Put`, so either binary works with its Go
//! counterpart.

use plugin_runtime::{HandshakeConfig, Status};

/// The handshake of go-plugin's KV example.
pub fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "BASIC_PLUGIN", "hello")
}

/// `proto.GetRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetRequest {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
}

/// `proto.GetResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetResponse {
    /// The stored bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub value: Vec<u8>,
}

/// `proto.PutRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The bytes to store.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `proto.Empty`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

/// The KV interface, served as `proto.KV`.
///
/// `#[plugin_interface]` generates [`KvClient`] (the host side), [`KvServer`] (the plugin side)
/// and [`KvPlugin`] (`KvPlugin::host()` on the host, `KvPlugin::new(impl)` in the plugin).
#[plugin_runtime::plugin_interface(package = "proto", service = "KV", encoding = "protobuf")]
pub trait Kv {
    /// `/proto.KV/Get`.
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status>;
    /// `/proto.KV/Put`.
    async fn put(&self, request: PutRequest) -> Result<Empty, Status>;
}
