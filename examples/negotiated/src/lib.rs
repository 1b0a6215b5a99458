//! go-plugin's `examples/negotiated`, interchangeable with it: one plugin binary serving the
//! KV interface in two protocol versions, version 2 over net/rpc and version 3 over gRPC. The
//! host's version list decides which one runs; the plugin writes which one it was into the
//! values, as go-plugin's `plugin-go` does.

use kv_example::{Empty, GetRequest, GetResponse, Kv, PutRequest};
use plugin_runtime::Status;

/// Values in files `kv_<key>`, marked with the protocol version that wrote and read them.
#[derive(Debug, Clone, Copy)]
pub struct VersionedKv {
    /// The protocol version serving.
    pub version: u32,
}

#[plugin_runtime::async_trait]
impl Kv for VersionedKv {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        let path = path(&request.key)?;
        let mut value = tokio::fs::read(&path)
            .await
            .map_err(|e| Status::not_found(format!("open {path}: {e}")))?;
        value.extend_from_slice(format!("Read by plugin version {}\n", self.version).as_bytes());
        Ok(GetResponse { value })
    }

    async fn put(&self, request: PutRequest) -> Result<Empty, Status> {
        let path = path(&request.key)?;
        let mut value = request.value;
        value.extend_from_slice(
            format!("\n\nWritten from plugin version {}\n", self.version).as_bytes(),
        );
        tokio::fs::write(&path, value)
            .await
            .map_err(|e| Status::internal(format!("writing {path}: {e}")))?;
        Ok(Empty {})
    }
}

fn path(key: &str) -> Result<String, Status> {
    if key.is_empty() || key.contains('/') || key.contains('\0') {
        return Err(Status::invalid_argument(format!(
            "invalid key {key:?}: keys name files, so they must be non-empty and contain no '/'"
        )));
    }
    Ok(format!("kv_{key}"))
}
