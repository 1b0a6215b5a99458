//! The KV plugin: stores each value in a file `kv_<key>` in its working directory.
//!
//! `kv-plugin --test-mode` serves in go-plugin's test mode instead: no cookie, no handshake; it
//! prints its reattach config as one line of JSON in the `TF_REATTACH_PROVIDERS` shape
//! (`{"kv":{"Protocol":"grpc",...}}`) and serves until its stdin closes or SIGINT/SIGTERM.

use std::error::Error;
use std::process::ExitCode;

use kv_example::{Empty, GetRequest, GetResponse, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{PluginSet, ReattachMap, ServeConfig, ServeTestConfig, Status};

struct FileKv;

fn path(key: &str) -> Result<String, Status> {
    if key.is_empty() || key.contains('/') || key.contains('\0') {
        return Err(Status::invalid_argument(format!(
            "invalid key {key:?}: keys name files, so they must be non-empty and contain no '/'"
        )));
    }
    Ok(format!("kv_{key}"))
}

#[plugin_runtime::async_trait]
impl Kv for FileKv {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        let path = path(&request.key)?;
        match tokio::fs::read(&path).await {
            Ok(value) => Ok(GetResponse { value }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Status::not_found(format!(
                "no value for key {:?}",
                request.key
            ))),
            Err(e) => Err(Status::internal(format!("reading {path}: {e}"))),
        }
    }

    async fn put(&self, request: PutRequest) -> Result<Empty, Status> {
        let path = path(&request.key)?;
        tracing::debug!(key = %request.key, bytes = request.value.len(), "put");
        tokio::fs::write(&path, &request.value)
            .await
            .map_err(|e| Status::internal(format!("writing {path}: {e}")))?;
        Ok(Empty {})
    }
}

/// Test mode: serves in-process until stdin closes or a signal, announcing the reattach config.
#[tokio::main]
async fn serve_test_mode(config: ServeConfig) -> Result<(), Box<dyn Error>> {
    use tokio::io::AsyncReadExt;
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let stop = async move {
        let (mut stdin, mut sink) = (tokio::io::stdin(), Vec::new());
        tokio::select! {
            _ = stdin.read_to_end(&mut sink) => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let (test, reattach) = ServeTestConfig::new(stop);
    let server = tokio::spawn(plugin_runtime::serve(config.test(test)));
    if let Ok(reattach) = reattach.await {
        let map = ReattachMap::from([("kv".to_string(), reattach)]);
        println!("{}", serde_json::to_string(&map)?);
    }
    Ok(server.await??)
}

fn main() -> ExitCode {
    let config =
        ServeConfig::new(handshake()).plugins(PluginSet::new().with("kv", KvPlugin::new(FileKv)));
    let test_mode = std::env::args()
        .nth(1)
        .is_some_and(|a| a == "--test-mode" || a == "-test-mode");
    if !test_mode {
        return plugin_runtime::serve_main(config);
    }
    match serve_test_mode(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv-plugin: {e}");
            ExitCode::FAILURE
        }
    }
}
