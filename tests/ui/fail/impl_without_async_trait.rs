use plugin_runtime::CallError;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct GreetError(String);

impl From<CallError> for GreetError {
    fn from(e: CallError) -> Self {
        GreetError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
pub trait Greeter {
    async fn greet(&self, name: String) -> Result<String, GreetError>;
}

struct English;

// Missing: #[plugin_runtime::async_trait]
impl Greeter for English {
    async fn greet(&self, name: String) -> Result<String, GreetError> {
        Ok(format!("Hello, {name}!"))
    }
}

fn main() {}
