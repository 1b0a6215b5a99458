//! The KV plugin: stores each value in a file `kv_<key>` in its working directory.

use std::process::ExitCode;

use kv_example::{Empty, GetRequest, GetResponse, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{PluginSet, ServeConfig, Status};

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

#[tokio::main]
async fn main() -> ExitCode {
    let config =
        ServeConfig::new(handshake()).plugins(PluginSet::new().with("kv", KvPlugin::new(FileKv)));
    match plugin_runtime::serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv-plugin: {e}");
            ExitCode::FAILURE
        }
    }
}
