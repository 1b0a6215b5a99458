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
    fn greet(&self, name: String) -> Result<String, MyError>;
}

// Code using the trait and the generated items sees no error of its own.
struct English;

impl Greeter for English {
    fn greet(&self, name: String) -> Result<String, MyError> {
        Ok(format!("Hello, {name}"))
    }
}

fn main() {
    let _ = plugin_runtime::PluginSet::new()
        .with("greeter", GreeterPlugin::new(English))
        .with("host", GreeterPlugin::host());
}
