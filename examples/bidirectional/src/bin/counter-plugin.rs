//! The counter plugin: keeps each count in a file `kv_<key>` in its working directory, as the
//! JSON `{"Value":N}` that go-plugin's `plugin-go-grpc` writes, and leaves the additions to the
//! host: each `Put` receives the host's `AddHelper` (served through the gRPC broker) and calls it.

use std::process::ExitCode;
use std::sync::Arc;

use bidirectional_example::{
    AddHelper, Counter, CounterPlugin, Empty, GetRequest, GetResponse, PLUGIN_NAME, PutRequest,
    SumRequest, handshake,
};
use plugin_runtime::{PluginSet, ServeConfig, Status};
use serde::{Deserialize, Serialize};

/// What a `kv_<key>` file holds.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "Value", alias = "value")]
    value: i64,
}

#[derive(Default)]
struct FileCounter {
    /// Serialises the read-add-write of `Put`, so that concurrent puts add up.
    writes: tokio::sync::Mutex<()>,
}

fn path(key: &str) -> Result<String, Status> {
    if key.is_empty() || key.contains('/') || key.contains('\0') {
        return Err(Status::invalid_argument(format!(
            "invalid key {key:?}: keys name files, so they must be non-empty and contain no '/'"
        )));
    }
    Ok(format!("kv_{key}"))
}

/// The count stored in `path`, `None` when there is no such file.
async fn read(path: &str) -> Result<Option<i64>, Status> {
    match tokio::fs::read(path).await {
        Ok(bytes) => serde_json::from_slice::<Stored>(&bytes)
            .map(|stored| Some(stored.value))
            .map_err(|e| {
                Status::data_loss(format!(
                    "{path} does not hold a count (expected {{\"Value\":N}}): {e}"
                ))
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Status::internal(format!("reading {path}: {e}"))),
    }
}

#[plugin_runtime::async_trait]
impl Counter for FileCounter {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        match read(&path(&request.key)?).await? {
            Some(value) => Ok(GetResponse { value }),
            None => Err(Status::not_found(format!(
                "no count for key {:?}",
                request.key
            ))),
        }
    }

    async fn put(&self, request: PutRequest, adder: Arc<dyn AddHelper>) -> Result<Empty, Status> {
        let path = path(&request.key)?;
        let _write = self.writes.lock().await;
        let stored = read(&path).await?.unwrap_or(0);
        let sum = adder
            .sum(SumRequest {
                a: stored,
                b: request.value,
            })
            .await
            .map_err(|s| Status::new(s.code(), format!("the host's AddHelper: {}", s.message())))?
            .r;
        tracing::debug!(key = %request.key, stored, add = request.value, sum, "put");
        let json = serde_json::to_vec(&Stored { value: sum })
            .map_err(|e| Status::internal(format!("encoding the count: {e}")))?;
        tokio::fs::write(&path, json)
            .await
            .map_err(|e| Status::internal(format!("writing {path}: {e}")))?;
        Ok(Empty {})
    }
}

fn main() -> ExitCode {
    plugin_runtime::serve_main(
        ServeConfig::new(handshake()).plugins(
            PluginSet::new().with(PLUGIN_NAME, CounterPlugin::new(FileCounter::default())),
        ),
    )
}
