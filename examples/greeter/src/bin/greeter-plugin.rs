//! The greeter plugin: greets in English, French and German.

use std::process::ExitCode;

use greeter_example::{GreetError, Greeter, GreeterPlugin, Language, MAX_TIMES, Person, handshake};
use plugin_runtime::{PluginSet, ServeConfig};

struct Polyglot;

#[plugin_runtime::async_trait]
impl Greeter for Polyglot {
    async fn greet(
        &self,
        person: Person,
        times: u32,
        punctuation: char,
    ) -> Result<String, GreetError> {
        let name = person.name.trim();
        if name.is_empty() {
            return Err(GreetError::EmptyName);
        }
        if times > MAX_TIMES {
            return Err(GreetError::TooMany(times));
        }
        let hello = match person.language {
            Language::English => "Hello",
            Language::French => "Bonjour",
            Language::German => "Hallo",
        };
        let one = format!("{hello}, {name}{punctuation}");
        Ok(vec![one; times as usize].join(" "))
    }

    async fn languages(&self) -> Result<Vec<Language>, GreetError> {
        Ok(vec![Language::English, Language::French, Language::German])
    }
}

fn main() -> ExitCode {
    let plugins = PluginSet::new().with("greeter", GreeterPlugin::new(Polyglot));
    plugin_runtime::serve_main(ServeConfig::new(handshake()).plugins(plugins))
}
