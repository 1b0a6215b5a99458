//! The greeter plugin of go-plugin's basic example, over net/rpc: `Greet` returns `Hello!`.
//! go-plugin's `basic` host runs it when it is placed at `./plugin/greeter`.

use basic_example::{GreetError, Greeter, GreeterPlugin, handshake};
use plugin_runtime::{PluginSet, Protocol, ServeConfig};

struct Hello;

#[plugin_runtime::async_trait]
impl Greeter for Hello {
    async fn greet(&self) -> Result<String, GreetError> {
        Ok("Hello!".to_string())
    }
}

fn main() -> std::process::ExitCode {
    let plugins = PluginSet::new()
        .with("greeter", GreeterPlugin::new(Hello))
        .protocol(Protocol::NetRpc);
    plugin_runtime::serve_main(ServeConfig::new(handshake()).plugins(plugins))
}
