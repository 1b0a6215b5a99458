//! A host that installs no `tracing` subscriber, for the test that the plugin's logs, its
//! stderr after the handshake and its panics still show on the host's stderr.
//!
//! Usage: `bare-host PLUGIN KEY=VALUE...`: launches PLUGIN (the fixture), puts each pair,
//! then kills it. Exits 1 with the error's chain on stderr if anything fails.

use std::error::Error;
use std::process::{Command, ExitCode};

use plugin_fixtures::kv::{Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let first: &dyn Error = &*e;
            let chain: Vec<String> = std::iter::successors(Some(first), |&e| e.source())
                .map(ToString::to_string)
                .collect();
            eprintln!("bare-host: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let plugin = args.next().ok_or("usage: bare-host PLUGIN KEY=VALUE...")?;
    let client = Client::new(
        ClientConfig::new(handshake())
            .command(Command::new(plugin))
            .plugins(PluginSet::new().with("kv", KvPlugin::host())),
    )?;
    let kv = client.dispense::<dyn Kv>("kv").await?;
    for pair in args {
        let (key, value) = pair.split_once('=').ok_or("arguments are KEY=VALUE")?;
        let result = kv
            .put(PutRequest {
                key: key.into(),
                value: value.as_bytes().to_vec(),
            })
            .await;
        if let Err(status) = result {
            println!("{key}: {}", status.message());
        }
    }
    client.kill().await;
    Ok(())
}
