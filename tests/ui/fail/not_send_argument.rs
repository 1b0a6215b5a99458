use plugin_runtime::CallError;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

use std::rc::Rc;

#[plugin_runtime::plugin_interface]
pub trait Greeter {
    async fn greet(&self, name: Rc<String>) -> Result<String, MyError>;
}

fn main() {}
