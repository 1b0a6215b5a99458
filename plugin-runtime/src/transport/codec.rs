//! The one gRPC codec: requests and responses cross it already encoded by the interface's own
//! encoding (protobuf or a serde codec), written straight into tonic's buffer.

use bytes::{Buf, Bytes, BytesMut};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Message size limits of one side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageLimits {
    pub(crate) max_decode: usize,
    pub(crate) max_encode: usize,
}

impl MessageLimits {
    /// The same limit both ways, as both configs set it.
    pub(crate) fn both(bytes: usize) -> Self {
        MessageLimits {
            max_decode: bytes,
            max_encode: bytes,
        }
    }
}

/// A message that knows how to write itself into a gRPC frame.
pub trait Outgoing: Send + Sync + 'static {
    /// Writes the message body into `buf`.
    fn encode_into(&self, buf: &mut EncodeBuf<'_>) -> Result<(), Status>;

    /// Appends the same body to `buf`, for the native transport.
    fn encode_native(&self, buf: &mut BytesMut) -> Result<(), Status>;

    /// The encoded size if known cheaply (0 otherwise), to size the native frame's buffer once.
    fn size_hint(&self) -> usize {
        0
    }
}

/// A boxed outgoing message.
pub type BoxOutgoing = Box<dyn Outgoing>;

/// A tonic codec for `BoxOutgoing` out and raw `Bytes` in.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawCodec;

impl Codec for RawCodec {
    type Encode = BoxOutgoing;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = BoxOutgoing;
    type Error = Status;

    fn encode(&mut self, item: BoxOutgoing, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode_into(dst)
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // Zero-copy: splits the frame off tonic's buffer.
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
