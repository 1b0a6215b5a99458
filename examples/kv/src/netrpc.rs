//! The KV interface over go-plugin's net/rpc, as go-plugin's `shared.KVPlugin`
//! (`examples/grpc/shared/rpc.go`): `Plugin.Put` takes `map[string]interface{}` with `key` and
//! `value` and answers a nil `interface{}`; `Plugin.Get` takes the key and answers the bytes.
//! [`KvPlugin`]'s gRPC side is kept, so one registration serves a host whatever protocol the
//! plugin speaks, and a plugin binary can serve the same implementation over either.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use plugin_core::gob::GobValue;
use plugin_runtime::{
    ByteBuf, CallError, Dispensed, GrpcConnection, MuxBroker, NetRpcError, Plugin, RpcClient,
    RpcServer, ServeError, ServiceRegistry, Status,
};

use crate::{Empty, GetRequest, GetResponse, Kv, KvPlugin, PutRequest};

/// [`Kv`] over net/rpc (and gRPC): `KvNetRpcPlugin::host()` on a host,
/// `KvNetRpcPlugin::new(impl)` in a plugin.
#[derive(Clone)]
pub struct KvNetRpcPlugin {
    grpc: KvPlugin,
    imp: Option<Arc<dyn Kv>>,
}

impl std::fmt::Debug for KvNetRpcPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvNetRpcPlugin")
            .field("side", &if self.imp.is_some() { "plugin" } else { "host" })
            .finish()
    }
}

impl KvNetRpcPlugin {
    /// For hosts: dispenses `Arc<dyn Kv>` from net/rpc and gRPC plugins alike.
    pub fn host() -> Self {
        KvNetRpcPlugin {
            grpc: KvPlugin::host(),
            imp: None,
        }
    }

    /// For plugins: serves `imp`.
    pub fn new(imp: impl Kv) -> Self {
        let imp: Arc<dyn Kv> = Arc::new(imp);
        KvNetRpcPlugin {
            grpc: KvPlugin::from_arc(imp.clone()),
            imp: Some(imp),
        }
    }
}

type Dispensing = Pin<Box<dyn Future<Output = Result<Dispensed, CallError>> + Send + 'static>>;

impl Plugin for KvNetRpcPlugin {
    fn interface(&self) -> &'static str {
        std::any::type_name::<dyn Kv>()
    }

    fn grpc_client(&self, conn: GrpcConnection) -> Dispensing {
        self.grpc.grpc_client(conn)
    }

    fn grpc_server(&self, registry: &mut ServiceRegistry) -> Result<(), ServeError> {
        self.grpc.grpc_server(registry)
    }

    fn netrpc_server(&self, _broker: &MuxBroker) -> Result<RpcServer, NetRpcError> {
        let Some(imp) = self.imp.clone() else {
            return Err(NetRpcError::Remote(
                "KvNetRpcPlugin::host() has no implementation to serve".into(),
            ));
        };
        let mut server = RpcServer::new();
        let put = imp.clone();
        server.method("Plugin.Put", move |args: BTreeMap<String, GobValue>| {
            let imp = put.clone();
            async move {
                let request = put_request(args)?;
                imp.put(request)
                    .await
                    .map_err(|s| s.message().to_string())?;
                Ok::<_, String>(GobValue::Nil)
            }
        });
        server.method("Plugin.Get", move |key: String| {
            let imp = imp.clone();
            async move {
                let response = imp
                    .get(GetRequest { key })
                    .await
                    .map_err(|s| s.message().to_string())?;
                Ok::<_, String>(ByteBuf::from(response.value))
            }
        });
        Ok(server)
    }

    fn netrpc_client(
        &self,
        client: RpcClient,
        _broker: MuxBroker,
    ) -> Result<Dispensed, NetRpcError> {
        let kv: Arc<dyn Kv> = Arc::new(NetRpcKv { rpc: client });
        Ok(Dispensed::new(kv))
    }
}

/// go-plugin's `map[string]interface{}{"key": key, "value": value}`.
fn put_request(mut args: BTreeMap<String, GobValue>) -> Result<PutRequest, String> {
    let key = match args.remove("key") {
        Some(GobValue::String(key)) => key,
        other => return Err(format!("Plugin.Put needs a string \"key\", not {other:?}")),
    };
    let value = match args.remove("value") {
        Some(GobValue::Bytes(value)) => value.into_vec(),
        other => {
            return Err(format!(
                "Plugin.Put needs a []byte \"value\", not {other:?}"
            ));
        }
    };
    Ok(PutRequest { key, value })
}

/// Calls a net/rpc KV plugin; its errors arrive as text, in a `Status`.
struct NetRpcKv {
    rpc: RpcClient,
}

fn status(e: NetRpcError) -> Status {
    match e {
        NetRpcError::Remote(text) => Status::unknown(text),
        other => Status::unavailable(other.to_string()),
    }
}

#[plugin_runtime::async_trait]
impl Kv for NetRpcKv {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        let value: ByteBuf = self
            .rpc
            .call("Plugin.Get", &request.key)
            .await
            .map_err(status)?;
        Ok(GetResponse {
            value: value.into_vec(),
        })
    }

    async fn put(&self, request: PutRequest) -> Result<Empty, Status> {
        let args = BTreeMap::from([
            ("key".to_string(), GobValue::String(request.key)),
            ("value".to_string(), GobValue::Bytes(request.value.into())),
        ]);
        let _: GobValue = self.rpc.call("Plugin.Put", &args).await.map_err(status)?;
        Ok(Empty {})
    }
}
