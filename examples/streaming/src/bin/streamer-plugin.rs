//! The streamer plugin: reads and writes the file the host configures, in chunks.
//!
//! `Read` streams the file from disk one configured chunk at a time and `Write` streams the
//! chunks it receives to disk as they arrive, so the plugin holds one chunk at a time whatever
//! the file's size (go-plugin's plugin holds the whole file). A write goes to a temporary file
//! next to the target, which replaces the target only once the whole stream has arrived: a
//! failed or cancelled write leaves the file as it was, as go-plugin's does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt as _;
use plugin_runtime::{PluginSet, PluginStream, ServeConfig, Status};
use streaming_example::{
    ConfigureRequest, ConfigureResponse, PLUGIN_NAME, ReadChunk, ReadRequest, Streamer,
    StreamerPlugin, WriteChunk, WriteResponse, handshake,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The largest chunk `Configure` accepts: the default message size limit of gRPC, so that a
/// chunk fits in a message whatever the host, and a host cannot have the plugin allocate more.
const MAX_CHUNK: i64 = 4 * 1024 * 1024;

/// What `Configure` set.
#[derive(Clone)]
struct Config {
    path: PathBuf,
    chunk: usize,
}

#[derive(Default)]
struct FileStreamer {
    config: Mutex<Option<Config>>,
}

impl FileStreamer {
    fn config(&self) -> Result<Config, Status> {
        self.config
            .lock()
            .map_err(|_| Status::internal("the configuration lock is poisoned"))?
            .clone()
            .ok_or_else(|| Status::failed_precondition("not configured: call Configure first"))
    }
}

fn io_status(doing: &str, path: &Path, e: &std::io::Error) -> Status {
    let message = format!("{doing} {}: {e}", path.display());
    match e.kind() {
        std::io::ErrorKind::NotFound => Status::not_found(message),
        std::io::ErrorKind::PermissionDenied => Status::permission_denied(message),
        _ => Status::internal(message),
    }
}

/// The temporary file a write goes to, next to its target; removed when dropped unless it was
/// renamed over the target.
struct Partial {
    path: PathBuf,
    renamed: bool,
}

impl Partial {
    async fn create(target: &Path) -> Result<(Partial, tokio::fs::File), Status> {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = target.file_name().ok_or_else(|| {
            Status::invalid_argument(format!("{} does not name a file", target.display()))
        })?;
        let path = target.with_file_name(format!(
            ".{}.{}-{}.partial",
            name.to_string_lossy(),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .await
            .map_err(|e| io_status("creating", target, &e))?;
        let partial = Partial {
            path,
            renamed: false,
        };
        Ok((partial, file))
    }

    async fn rename_to(mut self, target: &Path) -> Result<(), Status> {
        tokio::fs::rename(&self.path, target)
            .await
            .map_err(|e| io_status("replacing", target, &e))?;
        self.renamed = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.renamed {
            // One unlink, on the failure path only (the call may have been cancelled, so there
            // is no async context to finish in).
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[plugin_runtime::async_trait]
impl Streamer for FileStreamer {
    async fn configure(&self, request: ConfigureRequest) -> Result<ConfigureResponse, Status> {
        if request.path.is_empty() {
            return Err(Status::invalid_argument("the path is empty"));
        }
        let chunk = match request.chunk_size {
            size @ 1..=MAX_CHUNK => size as usize,
            size => {
                return Err(Status::invalid_argument(format!(
                    "chunk size {size} is not between 1 and {MAX_CHUNK} bytes"
                )));
            }
        };
        let config = Config {
            path: request.path.into(),
            chunk,
        };
        *self
            .config
            .lock()
            .map_err(|_| Status::internal("the configuration lock is poisoned"))? = Some(config);
        Ok(ConfigureResponse {})
    }

    async fn read(&self, _: ReadRequest) -> Result<PluginStream<ReadChunk, Status>, Status> {
        let Config { path, chunk } = self.config()?;
        tracing::debug!(path = %path.display(), "FileStreamer: Read");
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| io_status("opening", &path, &e))?;
        let chunks =
            futures::stream::try_unfold((file, path), move |(mut file, path)| async move {
                let mut bytes = Vec::with_capacity(chunk);
                (&mut file)
                    .take(chunk as u64)
                    .read_to_end(&mut bytes)
                    .await
                    .map_err(|e| io_status("reading", &path, &e))?;
                if bytes.is_empty() {
                    return Ok(None);
                }
                Ok(Some((ReadChunk { read_bytes: bytes }, (file, path))))
            });
        Ok(chunks.boxed())
    }

    async fn write(
        &self,
        mut requests: PluginStream<WriteChunk, Status>,
    ) -> Result<WriteResponse, Status> {
        let Config { path, .. } = self.config()?;
        tracing::debug!(path = %path.display(), "FileStreamer: Write");
        let (partial, mut file) = Partial::create(&path).await?;
        let mut written: u64 = 0;
        while let Some(chunk) = requests.next().await {
            let bytes = chunk?.bytes_to_write;
            file.write_all(&bytes)
                .await
                .map_err(|e| io_status("writing", &path, &e))?;
            written += bytes.len() as u64;
        }
        file.flush()
            .await
            .map_err(|e| io_status("writing", &path, &e))?;
        drop(file);
        partial.rename_to(&path).await?;
        tracing::debug!(bytes_written = written, "FileStreamer: Write finished");
        Ok(WriteResponse {})
    }
}

fn main() -> ExitCode {
    plugin_runtime::serve_main(
        ServeConfig::new(handshake()).plugins(
            PluginSet::new().with(PLUGIN_NAME, StreamerPlugin::new(FileStreamer::default())),
        ),
    )
}
