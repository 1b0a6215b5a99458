#![deny(warnings)]
//! Serde streaming methods: server streaming, client streaming (the stream last, after other
//! arguments or alone) and bidirectional, spelled with any path to `PluginStream`.

use plugin_runtime::__private::{Dispatch, Shape}; // what the generated server implements; not public API
use plugin_runtime::{CallError, Plugin, PluginStream};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Chunk {
    pub data: Vec<u8>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum FileError {
    NotFound,
    Call(String),
}

impl From<CallError> for FileError {
    fn from(e: CallError) -> Self {
        FileError::Call(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
pub trait Files {
    async fn read(&self, path: String, offset: u64) -> Result<PluginStream<Chunk, FileError>, FileError>;
    async fn write(&self, path: String, chunks: PluginStream<Chunk, FileError>) -> Result<u64, FileError>;
    async fn count(&self, chunks: plugin_runtime::PluginStream<Chunk, FileError>) -> Result<u64, FileError>;
    #[plugin(name = "Transform")]
    async fn transform(
        &self,
        chunks: PluginStream<Chunk, FileError>,
    ) -> Result<PluginStream<Chunk, FileError>, FileError>;
    async fn stat(&self, path: String) -> Result<u64, FileError>;
}

struct Local;

#[plugin_runtime::async_trait]
impl Files for Local {
    async fn read(&self, _: String, _: u64) -> Result<PluginStream<Chunk, FileError>, FileError> {
        Ok(Box::pin(futures::stream::empty()))
    }
    async fn write(&self, _: String, _: PluginStream<Chunk, FileError>) -> Result<u64, FileError> {
        Ok(0)
    }
    async fn count(&self, _: PluginStream<Chunk, FileError>) -> Result<u64, FileError> {
        Ok(0)
    }
    async fn transform(
        &self,
        chunks: PluginStream<Chunk, FileError>,
    ) -> Result<PluginStream<Chunk, FileError>, FileError> {
        Ok(chunks)
    }
    async fn stat(&self, _: String) -> Result<u64, FileError> {
        Err(FileError::NotFound)
    }
}

fn is_plugin<P: Plugin>(_: P) {}

fn main() {
    is_plugin(FilesPlugin::new(Local));
    assert_eq!(
        FilesServer::METHODS,
        ["Read", "Write", "Count", "Transform", "Stat", "_Fingerprint"]
    );
    assert_eq!(
        FilesServer::SHAPES,
        [
            Shape::ServerStreaming,
            Shape::ClientStreaming,
            Shape::ClientStreaming,
            Shape::Bidi,
            Shape::Unary,
            Shape::Unary
        ]
    );
}
