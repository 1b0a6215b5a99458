//! The interfaces of the `stream-fixture` plugin: `Numbers` (serde) and `Lines` (protobuf), each
//! with the three streaming shapes, an endless producer that records how far it got when it is
//! dropped, and a slow unary method that records its cancellation.

use std::fmt;

use plugin_runtime::{ByteBuf, CallError, HandshakeConfig, PluginStream, Status};
use serde::{Deserialize, Serialize};

/// The number that makes the fixture panic: as `count`'s `from`, in the method; as an item of
/// `double`'s input, in the middle of its output stream.
pub const PANIC: u64 = 666;

/// The handshake of the stream fixture.
pub fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "STREAM_FIXTURE", "streams")
}

/// The errors of `Numbers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NumberError {
    /// The plugin refused the call before streaming.
    Refused(String),
    /// A number the plugin (or the host) does not like.
    Unlucky(u64),
    /// The call failed outside the plugin's code (`CallError`).
    Call(String),
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberError::Refused(why) => write!(f, "refused: {why}"),
            NumberError::Unlucky(n) => write!(f, "unlucky number {n}"),
            NumberError::Call(why) => write!(f, "call failed: {why}"),
        }
    }
}

impl From<CallError> for NumberError {
    fn from(e: CallError) -> Self {
        NumberError::Call(e.to_string())
    }
}

/// What the plugin observed of its producers and slow calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Items produced by the current (or last) `produce` stream.
    pub produced: u64,
    /// How many items the last `produce` stream had produced when it was dropped (`None` while
    /// it runs).
    pub last_cancelled: Option<u64>,
    /// How many `sleep` calls were dropped before they finished.
    pub sleeps_cancelled: u64,
    /// How many `sleep` calls are sleeping now.
    pub sleeping: u64,
}

/// The serde interface of the fixture.
#[plugin_runtime::plugin_interface]
pub trait Numbers {
    /// `from..to`; at `fail_at`, an `Unlucky` item instead of the number (the stream goes on).
    /// Refuses at once when `from > to`; panics when `from` is [`PANIC`].
    async fn count(
        &self,
        from: u64,
        to: u64,
        fail_at: Option<u64>,
    ) -> Result<PluginStream<u64, NumberError>, NumberError>;
    /// The sum of the numbers plus `start`; an `Err` item is the result.
    async fn sum(
        &self,
        start: u64,
        numbers: PluginStream<u64, NumberError>,
    ) -> Result<u64, NumberError>;
    /// Each number doubled as it arrives; 13 is answered with `Unlucky(13)`, an `Err` item is
    /// sent back as it is; [`PANIC`] panics in the output stream.
    async fn double(
        &self,
        numbers: PluginStream<u64, NumberError>,
    ) -> Result<PluginStream<u64, NumberError>, NumberError>;
    /// Endless chunks of `size` bytes, one every `delay_ms`.
    async fn produce(
        &self,
        size: u32,
        delay_ms: u64,
    ) -> Result<PluginStream<ByteBuf, NumberError>, NumberError>;
    /// What the plugin observed.
    async fn stats(&self) -> Result<Stats, NumberError>;
    /// Sleeps `millis`, recording its cancellation.
    async fn sleep(&self, millis: u64) -> Result<(), NumberError>;
}

/// `streams.CountRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CountRequest {
    /// The first number.
    #[prost(uint64, tag = "1")]
    pub from: u64,
    /// After the last.
    #[prost(uint64, tag = "2")]
    pub to: u64,
    /// Where the stream ends with an `OutOfRange` status (0: nowhere).
    #[prost(uint64, tag = "3")]
    pub fail_at: u64,
}

/// `streams.Number`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Number {
    /// The value.
    #[prost(uint64, tag = "1")]
    pub value: u64,
}

/// `streams.ProduceRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProduceRequest {
    /// Bytes per chunk.
    #[prost(uint32, tag = "1")]
    pub size: u32,
    /// Between chunks.
    #[prost(uint64, tag = "2")]
    pub delay_ms: u64,
}

/// `streams.Chunk`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    /// The bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

/// The protobuf interface of the fixture, as protoc would generate it from
/// `service Lines { rpc Count(CountRequest) returns (stream Number); rpc Sum(stream Number)
/// returns (Number); rpc Double(stream Number) returns (stream Number); rpc Produce(ProduceRequest)
/// returns (stream Chunk); }`.
#[plugin_runtime::plugin_interface(package = "streams", encoding = "protobuf")]
pub trait Lines {
    /// `from..to`, ending with an `OutOfRange` status at `fail_at`; `InvalidArgument` at once
    /// when `from > to`; panics when `from` is [`PANIC`].
    async fn count(&self, request: CountRequest) -> Result<PluginStream<Number, Status>, Status>;
    /// The sum; 13 fails the call with `InvalidArgument`.
    async fn sum(&self, numbers: PluginStream<Number, Status>) -> Result<Number, Status>;
    /// Each number doubled; 13 ends the stream with `InvalidArgument`; [`PANIC`] panics in the
    /// output stream.
    async fn double(
        &self,
        numbers: PluginStream<Number, Status>,
    ) -> Result<PluginStream<Number, Status>, Status>;
    /// Endless chunks, recorded in the same `Stats` as `Numbers::produce`.
    async fn produce(&self, request: ProduceRequest)
    -> Result<PluginStream<Chunk, Status>, Status>;
}
