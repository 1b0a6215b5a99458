//! The greeter host: `greeter NAME [--lang en|fr|de] [--times N]` prints the greeting.
//!
//! Launches `sh -c "$GREETER_PLUGIN_COMMAND"` (default: the `greeter-plugin` next to this
//! binary), and always kills the plugin before exiting. Exits 1 with the error when the
//! greeting fails, 2 on a usage error.

use std::error::Error;
use std::process::ExitCode;

use greeter_example::{Greeter, GreeterPlugin, Language, Person, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet};

#[path = "../../../host.rs"]
mod host;

const USAGE: &str = "usage: greeter NAME [--lang en|fr|de] [--times N]";

struct Args {
    person: Person,
    times: u32,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut name = None;
    let mut language = Language::English;
    let mut times = 1;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--lang" => {
                language = args.next().ok_or("--lang needs a value")?.parse()?;
            }
            "--times" => {
                let value = args.next().ok_or("--times needs a value")?;
                times = value
                    .parse()
                    .map_err(|_| format!("--times takes a number, not {value:?}"))?;
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ if name.is_some() => return Err("one name only".to_string()),
            _ => name = Some(arg.clone()),
        }
    }
    let name = name.ok_or("a name is required")?;
    Ok(Args {
        person: Person { name, language },
        times,
    })
}

/// Starts the plugin, asks for the greeting, and always kills the plugin.
async fn run(args: Args) -> Result<String, Box<dyn Error>> {
    let config = ClientConfig::new(handshake())
        .command(host::plugin_command(
            "GREETER_PLUGIN_COMMAND",
            "greeter-plugin",
        )?)
        .plugins(PluginSet::new().with("greeter", GreeterPlugin::host()));
    let client = Client::new(config)?;
    let greeting = greet(&client, args).await;
    client.kill().await;
    greeting
}

async fn greet(client: &Client, args: Args) -> Result<String, Box<dyn Error>> {
    let greeter = client.dispense::<dyn Greeter>("greeter").await?;
    Ok(greeter.greet(args.person, args.times, '!').await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    host::init_logging();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("greeter: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(greeting) => {
            println!("{greeting}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("greeter: {}", host::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
