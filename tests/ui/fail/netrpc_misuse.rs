use std::sync::Arc;

use plugin_runtime::{CallError, PluginStream};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

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

#[plugin_runtime::plugin_interface(netrpc)]
pub trait Progress {
    async fn report(&self, done: u32) -> Result<(), MyError>;
}

#[plugin_runtime::plugin_interface(netrpc = "Not A Name")]
pub trait Greeter {
    async fn two(&self, name: String, times: u32) -> Result<String, MyError>;
    async fn callback(&self, progress: Arc<dyn Progress>) -> Result<(), MyError>;
    async fn stream(&self) -> Result<PluginStream<u32, MyError>, MyError>;
}

#[plugin_runtime::plugin_interface(encoding = "protobuf", netrpc)]
pub trait Kv {
    async fn get(&self, request: ()) -> Result<(), plugin_runtime::Status>;
}

fn main() {}
