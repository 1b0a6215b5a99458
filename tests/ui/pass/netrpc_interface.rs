//! `netrpc`: a serde interface also served and dispensed over go-plugin's net/rpc, methods of
//! no or one argument, as `Plugin.<Method>` or under a service of its own.

use plugin_runtime::{CallError, Plugin, PluginSet, Protocol};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

// Over net/rpc the plugin's errors cross as their text.
impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Args {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Times")]
    pub times: u32,
}

#[plugin_runtime::plugin_interface(netrpc)]
pub trait Greeter {
    async fn hello(&self) -> Result<String, MyError>;
    async fn greet(&self, args: Args) -> Result<Vec<String>, MyError>;
    #[plugin(name = "Farewell")]
    async fn bye(&self, name: String) -> Result<(), MyError>;
}

#[plugin_runtime::plugin_interface(netrpc = "Counter")]
pub trait Counter {
    async fn add(&self, n: i64) -> Result<i64, MyError>;
}

fn main() {
    let host = PluginSet::new()
        .with("greeter", GreeterPlugin::host())
        .with("counter", CounterPlugin::host())
        .protocol(Protocol::NetRpc);
    assert_eq!(host.served_protocol(), Protocol::NetRpc);
    assert!(GreeterPlugin::host().interface().contains("Greeter"));
}
