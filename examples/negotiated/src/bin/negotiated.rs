//! The negotiated host (go-plugin's `examples/negotiated`): `KV_PROTO=netrpc|grpc negotiated
//! put KEY VALUE | get KEY`. With `netrpc` it offers protocol version 2 only, with `grpc`
//! version 3 only; the plugin serves the version asked for, over its protocol.
//!
//! Launches `sh -c "$KV_PLUGIN"` (default: the `negotiated-plugin` next to this binary).

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use kv_example::{GetRequest, Kv, KvNetRpcPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet, Protocol};

#[path = "../../../host.rs"]
mod host;

const USAGE: &str = "usage: KV_PROTO=netrpc|grpc negotiated put KEY VALUE | get KEY";

async fn run(version: u32, args: &[String]) -> Result<(), Box<dyn Error>> {
    let config = ClientConfig::new(handshake())
        .name("kv-plugin")
        .command(host::plugin_command("KV_PLUGIN", "negotiated-plugin")?)
        .allowed_protocols(vec![Protocol::NetRpc, Protocol::Grpc])
        .versioned_plugins(version, PluginSet::new().with("kv", KvNetRpcPlugin::host()));
    let client = Client::new(config)?;
    let result = call(&client, args).await;
    client.kill().await;
    result
}

async fn call(client: &Client, args: &[String]) -> Result<(), Box<dyn Error>> {
    let kv = client.dispense::<dyn Kv>("kv").await?;
    match args {
        [cmd, key] if cmd == "get" => {
            let value = kv
                .get(GetRequest { key: key.clone() })
                .await
                // The plugin's message: net/rpc errors are text, with no gRPC code to show.
                .map_err(|s| format!("get {key:?}: {}", s.message()))?
                .value;
            let mut out = std::io::stdout();
            out.write_all(&value)?;
            out.write_all(b"\n")?;
        }
        [cmd, key, value] if cmd == "put" => {
            let request = PutRequest {
                key: key.clone(),
                value: value.clone().into_bytes(),
            };
            kv.put(request)
                .await
                .map_err(|s| format!("put {key:?}: {}", s.message()))?;
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    host::init_logging();
    let version = match std::env::var("KV_PROTO").as_deref() {
        Ok("netrpc") => 2,
        Ok("grpc") => 3,
        _ => {
            eprintln!("negotiated: must set KV_PROTO to netrpc or grpc\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(version, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("negotiated: {}", host::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
