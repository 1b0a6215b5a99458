//! The basic host: starts the greeter plugin, prints its greeting, kills it.
//!
//! Launches `sh -c "$BASIC_PLUGIN_COMMAND"` (default: the `greeter-netrpc-plugin` next to this
//! binary); go-plugin's own greeter plugin works as well. net/rpc is allowed explicitly: hosts
//! accept only gRPC plugins unless they opt in.

use std::error::Error;
use std::process::ExitCode;

use basic_example::{Greeter, GreeterPlugin, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet, Protocol};

#[path = "../../../host.rs"]
mod host;

async fn run() -> Result<String, Box<dyn Error>> {
    let config = ClientConfig::new(handshake())
        .command(host::plugin_command(
            "BASIC_PLUGIN_COMMAND",
            "greeter-netrpc-plugin",
        )?)
        .allowed_protocols(vec![Protocol::NetRpc, Protocol::Grpc])
        .plugins(PluginSet::new().with("greeter", GreeterPlugin::host()));
    let client = Client::new(config)?;
    let greeting = greet(&client).await;
    client.kill().await;
    greeting
}

async fn greet(client: &Client) -> Result<String, Box<dyn Error>> {
    let greeter = client.dispense::<dyn Greeter>("greeter").await?;
    Ok(greeter.greet().await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    host::init_logging();
    match run().await {
        Ok(greeting) => {
            println!("{greeting}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("basic: {}", host::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
