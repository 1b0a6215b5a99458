//! The KV host: `kv put KEY VALUE`, `kv get KEY`.
//!
//! Launches `sh -c "$KV_PLUGIN"` (default: the `kv-plugin` next to this binary), with AutoMTLS
//! unless `KV_AUTOMTLS=0`, and always kills the plugin before exiting. With `KV_REATTACH` (a
//! reattach config as JSON, or a `TF_REATTACH_PROVIDERS`-style map with a `kv` entry) it
//! attaches to a running plugin instead, e.g. one started with `kv-plugin --test-mode`.

use std::io::Write;
use std::process::{Command, ExitCode};

use kv_example::{GetRequest, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet, ReattachConfig, ReattachMap};

const USAGE: &str = "usage: kv put KEY VALUE | kv get KEY";

/// The reattach config in `KV_REATTACH`, if set.
fn reattach_config() -> Result<Option<ReattachConfig>, String> {
    let Ok(json) = std::env::var("KV_REATTACH") else {
        return Ok(None);
    };
    if let Ok(config) = serde_json::from_str::<ReattachConfig>(&json) {
        return Ok(Some(config));
    }
    match serde_json::from_str::<ReattachMap>(&json) {
        Ok(mut map) => map.remove("kv").map(Some).ok_or_else(|| {
            "KV_REATTACH has no \"kv\" entry: give the kv plugin's reattach config".to_string()
        }),
        Err(e) => Err(format!(
            "KV_REATTACH is not a reattach config ({e}); expected JSON like \
             {{\"Protocol\":\"grpc\",\"ProtocolVersion\":1,\"Pid\":1,\"Test\":true,\
             \"Addr\":{{\"Network\":\"unix\",\"String\":\"/tmp/plugin1\"}}}}"
        )),
    }
}

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
    let base = ClientConfig::new(handshake())
        .name("kv-plugin")
        .plugins(PluginSet::new().with("kv", KvPlugin::host()));
    let config = match reattach_config().and_then(|reattach| match reattach {
        Some(reattach) => Ok(base.reattach(reattach)),
        None => plugin_command().map(|command| {
            base.command(command)
                .auto_mtls(std::env::var("KV_AUTOMTLS").map_or(true, |v| v != "0"))
        }),
    }) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kv: {e}");
            return ExitCode::FAILURE;
        }
    };
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
