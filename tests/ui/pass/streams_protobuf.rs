#![deny(warnings)]
//! Protobuf streaming methods, as protoc would generate them: `rpc Read(Req) returns (stream
//! Chunk)`, `rpc Write(stream Chunk) returns (Summary)`, `rpc Chat(stream Chunk) returns
//! (stream Chunk)`.

use plugin_runtime::__private::{Dispatch, Shape}; // what the generated server implements; not public API
use plugin_runtime::{Plugin, PluginStream, Status};

#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    #[prost(string, tag = "1")]
    pub path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(uint64, tag = "1")]
    pub bytes: u64,
}

#[plugin_runtime::plugin_interface(package = "files", encoding = "protobuf")]
pub trait Files {
    async fn read(&self, request: ReadRequest) -> Result<PluginStream<Chunk, Status>, Status>;
    async fn write(&self, chunks: PluginStream<Chunk, Status>) -> Result<Summary, Status>;
    async fn chat(
        &self,
        chunks: PluginStream<Chunk, Status>,
    ) -> Result<PluginStream<Chunk, Status>, Status>;
    async fn stat(&self, request: ReadRequest) -> Result<Summary, Status>;
}

struct Local;

#[plugin_runtime::async_trait]
impl Files for Local {
    async fn read(&self, _: ReadRequest) -> Result<PluginStream<Chunk, Status>, Status> {
        Err(Status::not_found("no such file"))
    }
    async fn write(&self, _: PluginStream<Chunk, Status>) -> Result<Summary, Status> {
        Ok(Summary { bytes: 0 })
    }
    async fn chat(
        &self,
        chunks: PluginStream<Chunk, Status>,
    ) -> Result<PluginStream<Chunk, Status>, Status> {
        Ok(chunks)
    }
    async fn stat(&self, _: ReadRequest) -> Result<Summary, Status> {
        Ok(Summary { bytes: 0 })
    }
}

fn is_plugin<P: Plugin>(_: P) {}

fn main() {
    is_plugin(FilesPlugin::new(Local));
    assert_eq!(FilesServer::METHODS, ["Read", "Write", "Chat", "Stat"]);
    assert_eq!(
        FilesServer::SHAPES,
        [Shape::ServerStreaming, Shape::ClientStreaming, Shape::Bidi, Shape::Unary]
    );
}
