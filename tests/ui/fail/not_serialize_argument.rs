use plugin_runtime::CallError;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

/// Lacks `Serialize` and `Deserialize`.
#[derive(Debug)]
pub struct Person {
    pub name: String,
}

#[plugin_runtime::plugin_interface]
pub trait Greeter {
    async fn greet(&self, person: Person, times: u32) -> Result<String, MyError>;
}

// Code using the trait and the generated items sees no error of its own.
struct English;

#[plugin_runtime::async_trait]
impl Greeter for English {
    async fn greet(&self, person: Person, times: u32) -> Result<String, MyError> {
        Ok(format!("Hello, {} x{times}", person.name))
    }
}

async fn host(client: &plugin_runtime::Client) -> Result<String, MyError> {
    let greeter = client
        .dispense::<dyn Greeter>("greeter")
        .await
        .map_err(|e| MyError(e.to_string()))?;
    greeter.greet(Person { name: "Ada".into() }, 2).await
}

fn main() {
    let _ = plugin_runtime::PluginSet::new().with("greeter", GreeterPlugin::new(English));
    let _ = host;
}
