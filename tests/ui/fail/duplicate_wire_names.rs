use plugin_runtime::CallError;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
pub trait Greeter {
    async fn greet(&self, name: String) -> Result<String, MyError>;
    #[plugin(name = "Greet")]
    async fn greet_again(&self, name: String) -> Result<String, MyError>;
}

fn main() {}
