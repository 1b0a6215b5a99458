#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum GreetError {
    Empty,
}

#[plugin_runtime::plugin_interface]
pub trait Greeter {
    async fn greet(&self, name: String) -> Result<String, GreetError>;
}

fn main() {}
