//! The negotiated plugin: KV as protocol version 2 over net/rpc and version 3 over gRPC
//! (go-plugin's `examples/negotiated/plugin-go`). go-plugin's `negotiated` host runs it as
//! `./kv-plugin`.

use kv_example::{KvNetRpcPlugin, KvPlugin, handshake};
use negotiated_example::VersionedKv;
use plugin_runtime::{PluginSet, Protocol, ServeConfig};

fn main() -> std::process::ExitCode {
    let v2 = PluginSet::new()
        .with("kv", KvNetRpcPlugin::new(VersionedKv { version: 2 }))
        .protocol(Protocol::NetRpc);
    let v3 = PluginSet::new().with("kv", KvPlugin::new(VersionedKv { version: 3 }));
    plugin_runtime::serve_main(
        ServeConfig::new(handshake())
            .versioned_plugins(2, v2)
            .versioned_plugins(3, v3),
    )
}
