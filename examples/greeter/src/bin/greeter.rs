//! The greeter host: `greeter NAME [--lang en|fr|de] [--times N]` prints the greeting.
//!
//! Launches `sh -c "$GREETER_PLUGIN_COMMAND"` (default: the `greeter-plugin` next to this
//! binary), and always kills the plugin before exiting. Exits 1 with the error when the
//! greeting fails, 2 on a usage error.

use std::process::{Command, ExitCode};

use greeter_example::{Greeter, GreeterPlugin, Language, Person, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet};

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

fn plugin_command() -> Result<Command, String> {
    if let Ok(cmd) = std::env::var("GREETER_PLUGIN_COMMAND") {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(cmd);
        return Ok(sh);
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let plugin = exe.with_file_name("greeter-plugin");
    if !plugin.exists() {
        return Err(format!(
            "no plugin: GREETER_PLUGIN_COMMAND is not set and {} does not exist; build it with \
             `cargo build -p greeter-example`",
            plugin.display()
        ));
    }
    Ok(Command::new(plugin))
}

async fn run(client: &Client, args: Args) -> Result<String, String> {
    let greeter = client
        .dispense::<dyn Greeter>("greeter")
        .await
        .map_err(|e| e.to_string())?;
    greeter
        .greet(args.person, args.times, '!')
        .await
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("greeter: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let command = match plugin_command() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("greeter: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = ClientConfig::new(handshake())
        .command(command)
        .plugins(PluginSet::new().with("greeter", GreeterPlugin::host()));
    let client = match Client::new(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("greeter: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = run(&client, args).await;
    client.kill().await;
    match result {
        Ok(greeting) => {
            println!("{greeting}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("greeter: {e}");
            ExitCode::FAILURE
        }
    }
}
