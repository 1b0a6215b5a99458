//! go-plugin's KV example: the interface shared by the `kv` host and the `kv-plugin` plugin.
//!
//! The wire is that of go-plugin's `examples/grpc`: cookie `BASIC_PLUGIN=hello`, protocol
//! version 1, gRPC service `proto.KV` with `Get` and `Put`, so either binary works with its Go
//! counterpart.

use std::sync::Arc;

use plugin_runtime::__private as rt;
use plugin_runtime::{CallError, HandshakeConfig, Status};

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
#[plugin_runtime::async_trait]
pub trait Kv: Send + Sync + 'static {
    /// `/proto.KV/Get`.
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status>;
    /// `/proto.KV/Put`.
    async fn put(&self, request: PutRequest) -> Result<Empty, Status>;
}

/// Calls a KV plugin over its connection.
pub struct KvClient {
    conn: rt::GrpcConnection,
}

#[plugin_runtime::async_trait]
impl Kv for KvClient {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        let bytes = self
            .conn
            .unary("/proto.KV/Get", rt::prost_body(request))
            .await
            .map_err(Status::from)?;
        rt::decode_prost(bytes).map_err(|e| Status::from(CallError::from(e)))
    }

    async fn put(&self, request: PutRequest) -> Result<Empty, Status> {
        let bytes = self
            .conn
            .unary("/proto.KV/Put", rt::prost_body(request))
            .await
            .map_err(Status::from)?;
        rt::decode_prost(bytes).map_err(|e| Status::from(CallError::from(e)))
    }
}

/// Serves a KV implementation.
pub struct KvServer {
    imp: Arc<dyn Kv>,
}

impl rt::Dispatch for KvServer {
    const SERVICE: &'static str = "proto.KV";
    const METHODS: &'static [&'static str] = &["Get", "Put"];

    fn call(
        self: Arc<Self>,
        method: usize,
        request: rt::Bytes,
    ) -> rt::BoxFuture<'static, Result<rt::BoxOutgoing, Status>> {
        Box::pin(async move {
            match method {
                0 => {
                    let request = rt::decode_prost(request).map_err(rt::bad_request)?;
                    let reply = self.imp.get(request).await?;
                    Ok(rt::prost_body(reply))
                }
                1 => {
                    let request = rt::decode_prost(request).map_err(rt::bad_request)?;
                    let reply = self.imp.put(request).await?;
                    Ok(rt::prost_body(reply))
                }
                _ => Err(Status::unimplemented("unknown method of proto.KV")),
            }
        })
    }
}

/// The KV plugin: `KvPlugin::host()` on the host, `KvPlugin::new(impl)` in the plugin.
pub struct KvPlugin {
    imp: Option<Arc<dyn Kv>>,
}

impl KvPlugin {
    /// For hosts: dispenses `dyn Kv` clients.
    pub fn host() -> Self {
        KvPlugin { imp: None }
    }

    /// For plugins: serves `imp`.
    pub fn new(imp: impl Kv) -> Self {
        KvPlugin {
            imp: Some(Arc::new(imp)),
        }
    }
}

impl rt::Plugin for KvPlugin {
    fn interface(&self) -> &'static str {
        "dyn kv_example::Kv"
    }

    fn grpc_client(
        &self,
        conn: rt::GrpcConnection,
    ) -> rt::BoxFuture<'static, Result<rt::Dispensed, CallError>> {
        Box::pin(async move {
            let client: Arc<dyn Kv> = Arc::new(KvClient { conn });
            Ok(rt::Dispensed::new(client))
        })
    }

    fn grpc_server(&self, registry: &mut rt::ServiceRegistry) -> Result<(), rt::ServeError> {
        let imp = self.imp.clone().ok_or_else(|| rt::ServeError::Register {
            name: "proto.KV".into(),
            reason: "KvPlugin::host() has no implementation to serve; use KvPlugin::new(impl)"
                .into(),
        })?;
        registry.add_dispatch(Arc::new(KvServer { imp }));
        Ok(())
    }
}
