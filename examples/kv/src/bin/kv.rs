//! The KV host: `kv put KEY VALUE`, `kv get KEY`.
//!
//! Launches `sh -c "$KV_PLUGIN"` (default: the `kv-plugin` next to this binary), with AutoMTLS
//! unless `KV_AUTOMTLS=0`, and always kills the plugin before exiting.

use std::io::Write;
use std::process::{Command, ExitCode};

use kv_example::{GetRequest, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet};

const USAGE: &str = "usage: kv put KEY VALUE | kv get KEY";

fn plugin_command() -> Result<Command, String> {
    if let Ok(cmd) = std::env::var("KV_PLUGIN") {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(cmd);
        return Ok(sh);
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let plugin = exe.with_file_name("kv-plugin");
    if !plugin.exists() {
        return Err(format!(
            "no plugin: KV_PLUGIN is not set and {} does not exist; build it with \
             `cargo build -p kv-example` or set KV_PLUGIN to the command that starts a KV plugin",
            plugin.display()
        ));
    }
    Ok(Command::new(plugin))
}

async fn run(client: &Client, args: &[String]) -> Result<(), String> {
    let kv = client
        .dispense::<dyn Kv>("kv")
        .await
        .map_err(|e| e.to_string())?;
    match args {
        [cmd, key, value] if cmd == "put" => {
            kv.put(PutRequest {
                key: key.clone(),
                value: value.clone().into_bytes(),
            })
            .await
            .map_err(|s| format!("put {key:?}: {}", s.message()))?;
            Ok(())
        }
        [cmd, key] if cmd == "get" => {
            let reply = kv
                .get(GetRequest { key: key.clone() })
                .await
                .map_err(|s| format!("get {key:?}: {}", s.message()))?;
            let mut out = std::io::stdout().lock();
            out.write_all(&reply.value)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| format!("writing the value: {e}"))
        }
        _ => Err(USAGE.to_string()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !matches!(args.first().map(String::as_str), Some("put" | "get")) {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    if std::env::var("KV_PROTO").is_ok_and(|p| p == "netrpc") {
        eprintln!("kv: KV_PROTO=netrpc is not supported: this host speaks gRPC only");
        return ExitCode::FAILURE;
    }
    let command = match plugin_command() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kv: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = ClientConfig::new(handshake())
        .command(command)
        .name("kv-plugin")
        .plugins(PluginSet::new().with("kv", KvPlugin::host()))
        .auto_mtls(std::env::var("KV_AUTOMTLS").map_or(true, |v| v != "0"));
    let client = match Client::new(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kv: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = run(&client, &args).await;
    client.kill().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv: {e}");
            ExitCode::FAILURE
        }
    }
}
