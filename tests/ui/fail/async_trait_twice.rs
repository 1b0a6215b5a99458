use plugin_runtime::CallError;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
#[plugin_runtime::async_trait]
pub trait Store {
    async fn get(&self, key: String) -> Result<String, MyError>;
}

fn main() {}
