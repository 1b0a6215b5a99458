use plugin_runtime::CallError;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
pub trait Closer {
    async fn close(self) -> Result<(), MyError>;
}

fn main() {}
