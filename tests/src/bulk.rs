//! `Bulk`, the interface of the `bulk-fixture` plugin: bytes streamed each way in chunks, for the
//! test that streams stay in bounded memory whatever their length (`tests/bulk_memory.rs`).
//!
//! Chunk `i` of a transfer is `i` as 8 little-endian bytes, then a fixed pattern ([`Pattern`]),
//! so that a lost, repeated or reordered chunk is caught.

use plugin_runtime::{HandshakeConfig, PluginStream, Status};

/// The handshake of the bulk fixture.
pub fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "BULK_FIXTURE", "stream")
}

/// The name the fixture serves `Bulk` under.
pub const PLUGIN_NAME: &str = "bulk";

/// What `download` streams: `total` bytes in chunks of `chunk_size` (the last one shorter, but
/// of 8 bytes at least).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DownloadRequest {
    /// The bytes in all.
    #[prost(uint64, tag = "1")]
    pub total: u64,
    /// The bytes a chunk.
    #[prost(uint32, tag = "2")]
    pub chunk_size: u32,
}

/// One chunk of a transfer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    /// [`Pattern::chunk`]`(i, len)` for the `i`th chunk.
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

/// What `upload` received, every chunk having been checked.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UploadSummary {
    /// The bytes in all.
    #[prost(uint64, tag = "1")]
    pub bytes: u64,
    /// The chunks.
    #[prost(uint64, tag = "2")]
    pub chunks: u64,
}

/// Bytes streamed each way.
#[plugin_runtime::plugin_interface(package = "bulk", service = "Bulk", encoding = "protobuf")]
pub trait Bulk {
    /// The chunks of a transfer, made as the host takes them.
    async fn download(
        &self,
        request: DownloadRequest,
    ) -> Result<PluginStream<Chunk, Status>, Status>;

    /// Checks each chunk as it arrives and keeps none.
    async fn upload(&self, chunks: PluginStream<Chunk, Status>) -> Result<UploadSummary, Status>;
}

/// The chunks of a transfer: [`Pattern::chunk`] makes them, [`Pattern::check`] checks them (a
/// memory copy or comparison each, so that a gibibyte costs little even in a debug build).
pub struct Pattern {
    /// What follows the index in the longest chunk.
    tail: Vec<u8>,
    /// The chunks checked so far.
    pub chunks: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Pattern {
    /// The pattern of chunks of up to `chunk_size` bytes.
    pub fn new(chunk_size: usize) -> Self {
        Pattern {
            tail: (0..chunk_size.saturating_sub(8))
                .map(|i| (i % 251) as u8)
                .collect(),
            chunks: 0,
            bytes: 0,
        }
    }

    /// Chunk `index`, `len` bytes long (8 at least, at most the pattern's chunk size).
    pub fn chunk(&self, index: u64, len: usize) -> Vec<u8> {
        let tail = &self.tail[..len.saturating_sub(8).min(self.tail.len())];
        let mut data = Vec::with_capacity(8 + tail.len());
        data.extend_from_slice(&index.to_le_bytes());
        data.extend_from_slice(tail);
        data
    }

    /// Checks that `data` is the next chunk.
    pub fn check(&mut self, data: &[u8]) -> Result<(), String> {
        let index = self.chunks;
        let (head, tail) = data
            .split_at_checked(8)
            .ok_or_else(|| format!("chunk {index}: {} bytes, fewer than 8", data.len()))?;
        if head != index.to_le_bytes() {
            return Err(format!(
                "chunk {index}: it starts {head:?}: lost or reordered"
            ));
        }
        if self.tail.get(..tail.len()) != Some(tail) {
            return Err(format!("chunk {index}: corrupted ({} bytes)", data.len()));
        }
        self.chunks += 1;
        self.bytes += data.len() as u64;
        Ok(())
    }
}
