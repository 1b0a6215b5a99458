//! A Rust plugin speaking go-plugin's net/rpc, serving "greeter" as the Go plugin
//! `tests/go/cmd/go-netrpc-plugin` does (`Plugin.Greet`, `Plugin.Fail`, `Plugin.Print`,
//! `Plugin.CallHost`), for go-plugin hosts (`go-netrpc-host`) and our own.

use std::io::Write as _;

use plugin_runtime::{
    HandshakeConfig, MuxBroker, NetRpcError, Plugin, PluginSet, Protocol, RpcServer, ServeConfig,
};

struct Greeter;

impl Plugin for Greeter {
    fn interface(&self) -> &'static str {
        "net/rpc greeter"
    }

    fn netrpc_server(&self, broker: &MuxBroker) -> Result<RpcServer, NetRpcError> {
        let broker = broker.clone();
        let mut server = RpcServer::new();
        server
            .method("Plugin.Greet", |name: String| async move {
                Ok::<_, String>(format!("Hello, {name}!"))
            })
            .method("Plugin.Fail", |text: String| async move {
                Err::<String, _>(text)
            })
            .method("Plugin.Print", |text: String| async move {
                print!("{text}");
                eprint!("err:{text}");
                let _ = std::io::stdout().flush();
                Ok::<_, String>(())
            })
            .method("Plugin.CallHost", move |id: u32| {
                let broker = broker.clone();
                async move {
                    let host = broker.dial_client(id).await.map_err(|e| e.to_string())?;
                    host.call::<String, String>("Plugin.Echo", &"from rust".to_string())
                        .await
                        .map_err(|e| e.to_string())
                }
            });
        Ok(server)
    }
}

fn main() -> std::process::ExitCode {
    let plugins = PluginSet::new()
        .with("greeter", Greeter)
        .protocol(Protocol::NetRpc);
    plugin_runtime::serve_main(
        ServeConfig::new(HandshakeConfig::new(1, "NETRPC_PLUGIN", "hello")).plugins(plugins),
    )
}
