use plugin_runtime::{PluginStream, Status};

#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait Files {
    async fn write(&self, header: Chunk, chunks: PluginStream<Chunk, Status>) -> Result<Chunk, Status>;
}

fn main() {}
