//! The services on the control stream: `Control.Ping`, `Control.Quit` and
//! `Dispenser.Dispense` (go-plugin's `controlServer` and `dispenseServer`).

use super::{MuxBroker, NetRpcError, RpcClient, RpcServer};
use crate::plugin::PluginSet;

/// The plugin's control services: `quit` is called on `Control.Quit`.
pub(crate) fn services(
    plugins: PluginSet,
    broker: MuxBroker,
    quit: impl Fn() + Send + Sync + 'static,
) -> RpcServer {
    let mut server = RpcServer::new();
    server
        .method("Control.Ping", |_: bool| async {
            Ok::<_, String>(Empty {})
        })
        .method("Control.Quit", move |_: bool| {
            tracing::debug!("quit requested by the host");
            quit();
            async { Ok::<_, String>(Empty {}) }
        })
        .method("Dispenser.Dispense", move |name: String| {
            let result = dispense(&plugins, &broker, &name);
            async move { result }
        });
    server
}

/// Builds the implementation, reserves an id and serves it there as `Plugin` once the host
/// dials it.
fn dispense(plugins: &PluginSet, broker: &MuxBroker, name: &str) -> Result<u32, String> {
    let plugin = plugins
        .get(name)
        .ok_or_else(|| format!("unknown plugin type: {name}"))?;
    let server = plugin.netrpc_server(broker).map_err(|e| e.to_string())?;
    let id = broker.next_id();
    let broker = broker.clone();
    let name = name.to_string();
    tokio::spawn(async move {
        if let Err(e) = broker.accept_and_serve(id, server).await {
            tracing::error!(plugin = %name, error = %e, "plugin dispense error");
        }
    });
    Ok(id)
}

/// `Control.Ping`.
pub(crate) async fn ping(control: &RpcClient) -> Result<(), NetRpcError> {
    control.call::<bool, ()>("Control.Ping", &true).await
}

/// `Control.Quit`.
pub(crate) async fn quit(control: &RpcClient) -> Result<(), NetRpcError> {
    control.call::<bool, ()>("Control.Quit", &true).await
}

/// `Dispenser.Dispense`: the broker id the plugin serves `name` on.
pub(crate) async fn dispense_id(control: &RpcClient, name: &str) -> Result<u32, NetRpcError> {
    control
        .call::<String, u32>("Dispenser.Dispense", &name.to_string())
        .await
}

/// Go's `struct{}`, the control services' reply (`Ping(bool, *struct{})`): a `()` reply would
/// go as a nil `interface{}`, which go-plugin's host cannot read into a `struct{}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Empty {}
