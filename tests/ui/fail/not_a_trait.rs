#[plugin_runtime::plugin_interface]
pub struct Greeter {
    pub name: String,
}

fn main() {}
