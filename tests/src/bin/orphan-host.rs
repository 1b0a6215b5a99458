//! A host that dies without stopping its plugin, for the orphan tests: it launches PLUGIN (the
//! KV fixture), makes one call, prints `ready`, then ends as `ORPHAN_END` says.
//!
//! Usage: `orphan-host PLUGIN`, with
//! - `ORPHAN_LAUNCH`: `direct` (default), `sh` (`sh -c "PLUGIN"`) or `sh-true`
//!   (`sh -c "PLUGIN; true"`, a shell that stays between host and plugin);
//! - `ORPHAN_SOCKET_BASE`: where the host makes the plugin's private socket directory;
//! - `ORPHAN_CALLBACK=1`: also serves a brokered callback server (a socket of the host's own);
//! - `ORPHAN_BUSY=1`: leaves a call in progress (the plugin sleeps in it for a minute);
//! - `ORPHAN_END`: `wait` (default: wait to be killed), `exit` (`process::exit(0)`, no cleanup
//!   of any kind) or `panic` (the main task panics: the `Client` is dropped while unwinding),
//!   both once stdin is closed.
//!
//! Exits 1 with the error's chain on stderr if anything fails before `ready`.

use std::error::Error;
use std::io::Write;
use std::process::{Command, ExitCode};

use plugin_fixtures::kv::{Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    plugin_fixtures::exit_code("orphan-host", run().await)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let plugin = std::env::args().nth(1).ok_or("usage: orphan-host PLUGIN")?;
    let launch = std::env::var("ORPHAN_LAUNCH").unwrap_or_default();
    let command = match launch.as_str() {
        "" | "direct" => Command::new(&plugin),
        "sh" => shell(&plugin),
        "sh-true" => shell(&format!("{plugin}; true")),
        other => return Err(format!("unknown ORPHAN_LAUNCH {other:?}").into()),
    };
    let mut config = ClientConfig::new(handshake())
        .command(command)
        .plugins(PluginSet::new().with("kv", KvPlugin::host()));
    if let Some(base) = std::env::var_os("ORPHAN_SOCKET_BASE") {
        config = config.unix_socket_dir(base);
    }
    let client = Client::new(config)?;
    let kv = client.dispense::<dyn Kv>("kv").await?;
    // Kept until the end: its socket is one a killed host cannot remove.
    let _callback = if std::env::var_os("ORPHAN_CALLBACK").is_some() {
        let broker = client.broker().await?;
        let id = broker.next_id();
        let server = broker.accept_and_serve(id, KvPlugin::new(Store)).await?;
        Some(server)
    } else {
        None
    };
    if std::env::var_os("ORPHAN_BUSY").is_some() {
        let kv = kv.clone();
        tokio::spawn(async move {
            let _ = kv
                .put(PutRequest {
                    key: "sleep".into(),
                    value: b"60000".to_vec(),
                })
                .await;
        });
        // Sent before the call below, on the same connection.
        tokio::task::yield_now().await;
    }
    // A call after the brokered server's announcement: the announcement (on the same
    // connection, queued first) has gone out when it returns, so the plugin knows the socket.
    // A host killed between binding a brokered socket and announcing it leaves that socket.
    // Unary interface calls take the native connection, which is not ordered with the gRPC
    // one: the health check is what rides behind the announcement.
    client.ping().await?;
    kv.put(PutRequest {
        key: "orphan".into(),
        value: b"host".to_vec(),
    })
    .await?;
    println!("ready");
    std::io::stdout().flush()?;
    let end = std::env::var("ORPHAN_END").unwrap_or_default();
    if end == "exit" || end == "panic" {
        // The test closes stdin once it has seen the plugin and its sockets.
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut rest).await?;
    }
    match end.as_str() {
        "exit" => std::process::exit(0),
        "panic" => panic!("orphan-host panics on purpose"),
        _ => std::future::pending::<()>().await,
    }
    Ok(())
}

fn shell(script: &str) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(script);
    sh
}

/// The host's brokered server: a KV that stores nothing.
struct Store;

#[plugin_runtime::async_trait]
impl Kv for Store {
    async fn get(
        &self,
        _request: plugin_fixtures::kv::GetRequest,
    ) -> Result<plugin_fixtures::kv::GetResponse, plugin_runtime::Status> {
        Err(plugin_runtime::Status::not_found("nothing stored"))
    }

    async fn put(
        &self,
        _request: PutRequest,
    ) -> Result<plugin_fixtures::kv::Empty, plugin_runtime::Status> {
        Ok(plugin_fixtures::kv::Empty {})
    }
}
