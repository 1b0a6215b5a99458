//! The KV host: `kv put KEY VALUE`, `kv get KEY`.
//!
//! Launches `sh -c "$KV_PLUGIN"` (default: the `kv-plugin` next to this binary), speaking gRPC
//! or net/rpc as the plugin does (go-plugin's `plugin-go-netrpc` works too), with AutoMTLS
//! unless `KV_AUTOMTLS=0`, and always kills the plugin before exiting. With `KV_REATTACH` (a
//! reattach config as JSON, or a `TF_REATTACH_PROVIDERS`-style map with a `kv` entry) it
//! attaches to a running plugin instead, e.g. one started with `kv-plugin --test-mode`.
//! Exits 1 with the error when the call fails, 2 on a usage error.

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;

use kv_example::{GetRequest, Kv, KvNetRpcPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet, Protocol, ReattachConfig, ReattachMap};

#[path = "../../../host.rs"]
mod host;

const USAGE: &str = "usage: kv put KEY VALUE | kv get KEY";

/// What the command line asks for.
enum Request {
    Put { key: String, value: String },
    Get { key: String },
}

impl Request {
    fn parse(args: &[String]) -> Option<Request> {
        match args {
            [cmd, key, value] if cmd == "put" => Some(Request::Put {
                key: key.clone(),
                value: value.clone(),
            }),
            [cmd, key] if cmd == "get" => Some(Request::Get { key: key.clone() }),
            _ => None,
        }
    }
}

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

/// Starts (or attaches to) the plugin, makes the call, and always kills the plugin.
async fn run(request: Request) -> Result<(), Box<dyn Error>> {
    // As go-plugin's examples/grpc host: plugins of either protocol (net/rpc is opt-in).
    let config = ClientConfig::new(handshake())
        .name("kv-plugin")
        .allowed_protocols(vec![Protocol::Grpc, Protocol::NetRpc])
        .plugins(PluginSet::new().with("kv", KvNetRpcPlugin::host()));
    let config = match reattach_config()? {
        Some(reattach) => config.reattach(reattach),
        None => config
            .command(host::plugin_command("KV_PLUGIN", "kv-plugin")?)
            .auto_mtls(std::env::var("KV_AUTOMTLS").map_or(true, |v| v != "0")),
    };
    let client = Client::new(config)?;
    let result = call(&client, request).await;
    client.kill().await;
    result
}

async fn call(client: &Client, request: Request) -> Result<(), Box<dyn Error>> {
    let kv = client.dispense::<dyn Kv>("kv").await?;
    match request {
        Request::Put { key, value } => {
            kv.put(PutRequest {
                value: value.into_bytes(),
                key: key.clone(),
            })
            .await
            .map_err(|s| format!("put {key:?}: {}", s.message()))?;
        }
        Request::Get { key } => {
            let reply = kv
                .get(GetRequest { key: key.clone() })
                .await
                .map_err(|s| format!("get {key:?}: {}", s.message()))?;
            let mut out = std::io::stdout().lock();
            out.write_all(&reply.value)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| format!("writing the value: {e}"))?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    host::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(request) = Request::parse(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(request).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv: {}", host::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
