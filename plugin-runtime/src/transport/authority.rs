//! Any `:authority` a host sends is served.
//!
//! gRPC stacks other than Go's send odd `:authority` values to a unix socket: grpc C-core
//! (Python, Ruby, C++, PHP) sends the socket path percent-encoded (`tmp%2Fplugin123`), others
//! send the path itself or nothing usable. h2 checks `:authority` as a URI authority and resets
//! every such stream with `PROTOCOL_ERROR`, and it has no switch to relax that. For a plugin the
//! value means nothing (it serves one host over a local socket), so this module stands between
//! the connection and h2 on every server connection: it reads the client's frames, decodes each
//! header block with HPACK and hands h2 the same fields as literals, with an `:authority` that
//! is not a valid URI authority replaced by `localhost`. Every other frame passes untouched,
//! without a copy in the common case: only frame headers are looked at.
//!
//! `:authority` is the channel's target, the same on every request of a connection, so the
//! first header block decides: when it needs nothing (Go's and Rust's stacks), h2 gets it and the
//! rest of the connection as they came, at no cost. Otherwise every block of the connection goes
//! to h2 as literals that never touch its dynamic table, so h2's table stays empty while this
//! decoder keeps the client's. Hostile input (bad frames, header blocks over
//! [`MAX_HEADER_BLOCK`]) ends the connection with a read error; nothing here grows without bound.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, BytesMut};
use loona_hpack::Decoder;
use loona_hpack::decoder::DecoderError;
use tokio::io::{AsyncRead, ReadBuf};

use super::io::forward_writes;

/// The largest header block (encoded, across CONTINUATION frames) and header list (decoded,
/// counted as HPACK counts: name + value + 32 a field) taken from a host. h2 itself refuses
/// header lists over 16 KiB (hyper's default), so no call that could succeed is lost.
pub const MAX_HEADER_BLOCK: usize = 64 << 10;

/// What an `:authority` that h2 would refuse becomes.
const REPLACEMENT_AUTHORITY: &[u8] = b"localhost";

/// Frames sent to h2 stay within the frame size every HTTP/2 endpoint accepts before its own
/// settings are acknowledged.
const OUT_FRAME: usize = 16_384;

/// The dynamic table size h2 announces (the HTTP/2 default; the runtime never changes it), the
/// largest a client's encoder may use.
const HPACK_TABLE: usize = 4096;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEAD: usize = 9;

const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// A host sent HTTP/2 that cannot be served; the connection ends with this as its read error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientFrameError {
    /// A header block is not valid HPACK.
    #[error("the host sent a header block that does not decode (HPACK): {0}")]
    Hpack(#[source] DecoderError),
    /// A header block, or the header list it decodes to, is over [`MAX_HEADER_BLOCK`].
    #[error(
        "the host sent a header block over {MAX_HEADER_BLOCK} bytes; a plugin takes header \
         lists up to 16 KiB: send less metadata"
    )]
    HeaderBlockTooLarge,
    /// A HEADERS frame whose padding or priority fields do not fit in it.
    #[error("the host sent a malformed HEADERS frame on stream {stream}: {what}")]
    MalformedHeaders {
        /// The frame's stream.
        stream: u32,
        /// What does not fit.
        what: &'static str,
    },
    /// A CONTINUATION frame with no header block open.
    #[error("the host sent a CONTINUATION frame on stream {stream} with no header block open")]
    UnexpectedContinuation {
        /// The frame's stream.
        stream: u32,
    },
    /// Another frame arrived while a header block was still open (HTTP/2 forbids it).
    #[error(
        "the host interrupted the header block of stream {open} with a frame of type \
         {kind:#x} on stream {stream}"
    )]
    InterruptedHeaderBlock {
        /// The stream whose header block is open.
        open: u32,
        /// The frame's type.
        kind: u8,
        /// The frame's stream.
        stream: u32,
    },
}

/// Rewrites one HPACK header block, decoded from a fresh HPACK context, as h2 gets it: the same
/// fields in order, as literals without indexing, with an `:authority` that is not a valid URI
/// authority replaced. For fuzzing and tests; the server runs the same code per connection.
pub fn rewrite_header_block(block: &[u8]) -> Result<Vec<u8>, ClientFrameError> {
    let mut hpack = new_decoder();
    let mut out = Vec::new();
    rewrite_block(&mut hpack, block, &mut out)?;
    Ok(out)
}

/// Everything a client sends on one connection (preface, then frames), as h2 gets it. For
/// fuzzing and tests; the server runs the same code per connection, on bytes as they arrive.
pub fn rewrite_client_bytes(bytes: &[u8]) -> Result<Vec<u8>, ClientFrameError> {
    let mut frames = ClientFrames::new();
    let mut input = BytesMut::from(bytes);
    let mut output = BytesMut::new();
    frames.process(&mut input, &mut output)?;
    output.extend_from_slice(&input);
    Ok(output.to_vec())
}

fn new_decoder() -> Decoder<'static> {
    let mut hpack = Decoder::new();
    hpack.set_max_allowed_table_size(HPACK_TABLE);
    hpack
}

/// Decodes `block` with the connection's HPACK context and appends its fields to `out`;
/// `true` when an `:authority` was replaced.
fn rewrite_block(
    hpack: &mut Decoder<'static>,
    block: &[u8],
    out: &mut Vec<u8>,
) -> Result<bool, ClientFrameError> {
    let mut list_size = 0usize;
    let mut too_large = false;
    let mut replaced = false;
    hpack
        .decode_with_cb(block, |name, value| {
            // Decoding goes on to the end (the table must follow the client), writing nothing.
            list_size = list_size.saturating_add(name.len() + value.len() + 32);
            too_large |= list_size > MAX_HEADER_BLOCK;
            if too_large {
                return;
            }
            let value: &[u8] =
                if &*name == b":authority" && http::uri::Authority::try_from(&*value).is_err() {
                    replaced = true;
                    REPLACEMENT_AUTHORITY
                } else {
                    &value
                };
            put_literal(out, &name, value);
        })
        .map_err(ClientFrameError::Hpack)?;
    if too_large {
        return Err(ClientFrameError::HeaderBlockTooLarge);
    }
    Ok(replaced)
}

/// A field as "literal without indexing, new name" (RFC 7541 §6.2.2), strings raw.
fn put_literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0);
    for string in [name, value] {
        // Writing into a Vec cannot fail.
        let _ = loona_hpack::encoder::encode_integer_into(string.len(), 7, 0, out);
        out.extend_from_slice(string);
    }
}

/// A frame's 9-byte header.
#[derive(Debug, Clone, Copy)]
struct FrameHead {
    len: usize,
    kind: u8,
    flags: u8,
    stream: u32,
}

impl FrameHead {
    /// The header at the start of `bytes`, if all 9 bytes are there.
    fn parse(bytes: &[u8]) -> Option<FrameHead> {
        let head: &[u8; FRAME_HEAD] = bytes.get(..FRAME_HEAD)?.try_into().ok()?;
        Some(FrameHead {
            len: usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]),
            kind: head[3],
            flags: head[4],
            stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        })
    }

    fn put(self, out: &mut BytesMut) {
        let len = (self.len as u32).to_be_bytes();
        out.extend_from_slice(&[len[1], len[2], len[3], self.kind, self.flags]);
        out.extend_from_slice(&self.stream.to_be_bytes());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// This many bytes of the client preface seen.
    Preface(usize),
    Frames,
    /// Not HTTP/2: everything goes to h2 as it is, for h2 to refuse.
    Transparent,
}

/// A header block still waiting for its CONTINUATION frames.
#[derive(Debug)]
struct OpenBlock {
    stream: u32,
    end_stream: bool,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
}

/// The client-to-server direction of one connection, as a state machine over bytes.
struct ClientFrames {
    stage: Stage,
    /// Payload bytes of the frame being passed through that are still to come.
    skip: usize,
    block: Option<OpenBlock>,
    hpack: Decoder<'static>,
    /// Scratch for one rewritten header block.
    rewritten: Vec<u8>,
    /// Set once the first header block needed its `:authority` replaced: every block of the
    /// connection then goes to h2 re-encoded (literals that never touch h2's table).
    rewriting: bool,
}

impl ClientFrames {
    fn new() -> ClientFrames {
        ClientFrames {
            stage: Stage::Preface(0),
            skip: 0,
            block: None,
            hpack: new_decoder(),
            rewritten: Vec::new(),
            rewriting: false,
        }
    }

    /// How many leading bytes of `fresh` go to h2 untouched, stepping past them. Stops where a
    /// frame needs a closer look: its header is incomplete, or it carries a header block.
    fn pass(&mut self, fresh: &[u8]) -> usize {
        match self.stage {
            Stage::Transparent => return fresh.len(),
            Stage::Preface(_) => return 0,
            Stage::Frames if self.block.is_some() => return 0,
            Stage::Frames => {}
        }
        let mut at = 0;
        loop {
            let skipped = self.skip.min(fresh.len() - at);
            at += skipped;
            self.skip -= skipped;
            if self.skip > 0 {
                return at;
            }
            match FrameHead::parse(&fresh[at..]) {
                Some(head) if head.kind != HEADERS && head.kind != CONTINUATION => {
                    at += FRAME_HEAD;
                    self.skip = head.len;
                }
                _ => return at,
            }
        }
    }

    /// Moves what it can from `input` to `output`, rewriting header blocks; what is left in
    /// `input` needs more bytes.
    fn process(
        &mut self,
        input: &mut BytesMut,
        output: &mut BytesMut,
    ) -> Result<(), ClientFrameError> {
        loop {
            match self.stage {
                Stage::Transparent => {
                    output.extend_from_slice(input);
                    input.clear();
                    return Ok(());
                }
                Stage::Preface(seen) => {
                    let n = (PREFACE.len() - seen).min(input.len());
                    if input[..n] != PREFACE[seen..seen + n] {
                        self.stage = Stage::Transparent;
                        continue;
                    }
                    output.extend_from_slice(&input[..n]);
                    input.advance(n);
                    if seen + n < PREFACE.len() {
                        self.stage = Stage::Preface(seen + n);
                        return Ok(());
                    }
                    self.stage = Stage::Frames;
                }
                Stage::Frames => {
                    let n = self.pass(input);
                    if n > 0 {
                        output.extend_from_slice(&input[..n]);
                        input.advance(n);
                        continue;
                    }
                    let Some(head) = FrameHead::parse(input) else {
                        return Ok(());
                    };
                    self.check(head)?;
                    if input.len() < FRAME_HEAD + head.len {
                        return Ok(());
                    }
                    let frame = input.split_to(FRAME_HEAD + head.len);
                    self.header_frame(head, &frame[FRAME_HEAD..], output)?;
                }
            }
        }
    }

    /// Refuses a frame at a header boundary that cannot come next, before buffering it.
    fn check(&self, head: FrameHead) -> Result<(), ClientFrameError> {
        match (&self.block, head.kind) {
            (Some(open), CONTINUATION) if open.stream == head.stream => {}
            (Some(open), _) => {
                return Err(ClientFrameError::InterruptedHeaderBlock {
                    open: open.stream,
                    kind: head.kind,
                    stream: head.stream,
                });
            }
            (None, CONTINUATION) => {
                return Err(ClientFrameError::UnexpectedContinuation {
                    stream: head.stream,
                });
            }
            (None, _) => {}
        }
        // Padding (up to 256 bytes) and priority (5) come on top of the block.
        if head.len > MAX_HEADER_BLOCK + 256 + 5 {
            return Err(ClientFrameError::HeaderBlockTooLarge);
        }
        Ok(())
    }

    /// A whole HEADERS or CONTINUATION frame (checked by [`Self::check`]).
    fn header_frame(
        &mut self,
        head: FrameHead,
        payload: &[u8],
        output: &mut BytesMut,
    ) -> Result<(), ClientFrameError> {
        let end_headers = head.flags & END_HEADERS != 0;
        match self.block.take() {
            None => {
                let (fragment, priority) = headers_payload(head, payload)?;
                if fragment.len() > MAX_HEADER_BLOCK {
                    return Err(ClientFrameError::HeaderBlockTooLarge);
                }
                let end_stream = head.flags & END_STREAM != 0;
                if end_headers {
                    // The common case: the whole block in one frame, decoded where it lies.
                    return self.emit(head.stream, end_stream, priority, fragment, output);
                }
                self.block = Some(OpenBlock {
                    stream: head.stream,
                    end_stream,
                    priority,
                    fragment: fragment.to_vec(),
                });
            }
            Some(mut open) => {
                if open.fragment.len() + payload.len() > MAX_HEADER_BLOCK {
                    return Err(ClientFrameError::HeaderBlockTooLarge);
                }
                open.fragment.extend_from_slice(payload);
                if end_headers {
                    let OpenBlock {
                        stream,
                        end_stream,
                        priority,
                        fragment,
                    } = open;
                    return self.emit(stream, end_stream, priority, &fragment, output);
                }
                self.block = Some(open);
            }
        }
        Ok(())
    }

    /// Writes the rewritten block as one HEADERS frame and as many CONTINUATION frames as it
    /// takes.
    fn emit(
        &mut self,
        stream: u32,
        end_stream: bool,
        priority: Option<[u8; 5]>,
        block: &[u8],
        output: &mut BytesMut,
    ) -> Result<(), ClientFrameError> {
        self.rewritten.clear();
        let replaced = rewrite_block(&mut self.hpack, block, &mut self.rewritten)?;
        let mut rest = if replaced || self.rewriting {
            &self.rewritten[..]
        } else {
            // `:authority` is the channel's target, the same on every request of a connection:
            // a client whose first block needs nothing never will. h2 takes this block as the
            // client sent it (its HPACK table then follows the client's) and the rest of the
            // connection untouched, without the cost of decoding every block.
            self.stage = Stage::Transparent;
            block
        };
        self.rewriting = true;
        let mut first = true;
        loop {
            let extra = if first && priority.is_some() { 5 } else { 0 };
            let (chunk, after) = rest.split_at(rest.len().min(OUT_FRAME - extra));
            let mut flags = if after.is_empty() { END_HEADERS } else { 0 };
            let kind = if first {
                if end_stream {
                    flags |= END_STREAM;
                }
                if priority.is_some() {
                    flags |= PRIORITY;
                }
                HEADERS
            } else {
                CONTINUATION
            };
            FrameHead {
                len: extra + chunk.len(),
                kind,
                flags,
                stream,
            }
            .put(output);
            if let (true, Some(priority)) = (first, priority) {
                output.extend_from_slice(&priority);
            }
            output.extend_from_slice(chunk);
            if after.is_empty() {
                return Ok(());
            }
            rest = after;
            first = false;
        }
    }
}

/// A HEADERS frame's block fragment and priority fields, padding dropped.
fn headers_payload(
    head: FrameHead,
    payload: &[u8],
) -> Result<(&[u8], Option<[u8; 5]>), ClientFrameError> {
    let malformed = |what| ClientFrameError::MalformedHeaders {
        stream: head.stream,
        what,
    };
    let mut body = payload;
    let mut padding = 0;
    if head.flags & PADDED != 0 {
        let (&pad, rest) = body
            .split_first()
            .ok_or_else(|| malformed("PADDED without a pad length"))?;
        padding = usize::from(pad);
        body = rest;
    }
    let mut priority = None;
    if head.flags & PRIORITY != 0 {
        let (fields, rest) = body
            .split_first_chunk::<5>()
            .ok_or_else(|| malformed("PRIORITY without its 5 bytes"))?;
        priority = Some(*fields);
        body = rest;
    }
    let end = body
        .len()
        .checked_sub(padding)
        .ok_or_else(|| malformed("padding longer than the payload"))?;
    Ok((&body[..end], priority))
}

/// A server connection whose client bytes go through [`ClientFrames`] on their way to h2;
/// writes go straight through.
pub(crate) struct AnyAuthority<T> {
    io: T,
    frames: ClientFrames,
    /// Bytes read but not yet handed over: an incomplete frame header, or a header frame.
    input: BytesMut,
    /// Bytes ready for h2 that did not fit its last read.
    output: BytesMut,
    eof: bool,
}

impl<T> AnyAuthority<T> {
    pub(crate) fn new(io: T) -> Self {
        AnyAuthority {
            io,
            frames: ClientFrames::new(),
            input: BytesMut::new(),
            output: BytesMut::new(),
            eof: false,
        }
    }
}

/// Bytes read from the socket at a time when a frame needs buffering.
const READ_CHUNK: usize = 16 << 10;

impl<T: AsyncRead + Unpin> AsyncRead for AnyAuthority<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let start = buf.filled().len();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if !this.output.is_empty() {
                let n = this.output.len().min(buf.remaining());
                buf.put_slice(&this.output[..n]);
                this.output.advance(n);
                return Poll::Ready(Ok(()));
            }
            if !this.input.is_empty() {
                if let Err(e) = this.frames.process(&mut this.input, &mut this.output) {
                    tracing::warn!(error = %e, "closing a connection: its HTTP/2 cannot be served");
                    // Nothing more is read from this connection: later reads see its end.
                    this.input.clear();
                    this.output.clear();
                    this.eof = true;
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
                }
                if !this.output.is_empty() {
                    continue;
                }
                // What is left is an incomplete frame: read more behind it.
                if this.eof {
                    return Poll::Ready(Ok(()));
                }
                this.input.reserve(READ_CHUNK);
                let n = ready!(tokio_util::io::poll_read_buf(
                    Pin::new(&mut this.io),
                    cx,
                    &mut this.input
                ))?;
                this.eof = n == 0;
                continue;
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            // The fast path: straight into h2's buffer, handing over what needs no rewrite.
            ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
            let fresh = &buf.filled()[start..];
            if fresh.is_empty() {
                this.eof = true;
                return Poll::Ready(Ok(()));
            }
            let n = this.frames.pass(fresh);
            if n < fresh.len() {
                this.input.extend_from_slice(&fresh[n..]);
                buf.set_filled(start + n);
            }
            if n > 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

forward_writes!(AnyAuthority<T>, io, T);

impl<T> tonic::transport::server::Connected for AnyAuthority<T> {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

#[cfg(test)]
#[path = "authority_tests.rs"]
mod tests;
