use std::fmt::Debug;
use std::sync::Arc;

use plugin_runtime::CallError;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
pub trait Logger {
    async fn log(&self, sink: Arc<dyn Debug>) -> Result<(), MyError>;
}

fn main() {}
