//! A host that installs no `tracing` subscriber, for the test that the plugin's logs, its
//! stderr after the handshake and its panics still show on the host's stderr.
//!
//! Usage: `bare-host PLUGIN KEY=VALUE...`: launches PLUGIN (the fixture), puts each pair,
//! then kills it. Exits 1 with the error's chain on stderr if anything fails.
//!
//! With `BARE_HOST_SH=1` the plugin runs as `sh -c "PLUGIN; true"` (a shell that stays between
//! host and plugin, as dash does); with `BARE_HOST_HANG=1` the host prints `plugin-pid N` after
//! the puts and waits to be killed, never stopping the plugin itself.

use std::error::Error;
use std::process::{Command, ExitCode};

use plugin_fixtures::kv::{GetRequest, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    plugin_fixtures::exit_code("bare-host", run().await)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let plugin = args.next().ok_or("usage: bare-host PLUGIN KEY=VALUE...")?;
    let command = if std::env::var_os("BARE_HOST_SH").is_some() {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(format!("{plugin}; true"));
        sh
    } else {
        Command::new(plugin)
    };
    let client = Client::new(
        ClientConfig::new(handshake())
            .command(command)
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
    if std::env::var_os("BARE_HOST_HANG").is_some() {
        let pid = kv.get(GetRequest { key: "pid".into() }).await?.value;
        println!("plugin-pid {}", String::from_utf8_lossy(&pid));
        std::io::Write::flush(&mut std::io::stdout())?;
        std::future::pending::<()>().await;
    }
    client.kill().await;
    Ok(())
}
