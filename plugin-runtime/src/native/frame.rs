//! The native wire format. The client first sends [`PREFACE`]; then both sides send frames:
//!
//! ```text
//! u32 LE  length of what follows
//! u8      kind (below)
//! u32 LE  call id, chosen by the host
//! ...     body: CALL:   u16 LE path length, path (`/package.Service/Method`), request bytes
//!               REPLY:  the reply bytes
//!               ERROR:  i32 LE status code, UTF-8 message (ends a call or a stream)
//!               CANCEL: nothing (the host gave up; the plugin drops the call)
//!               OPEN:   u16 LE path length, path: a streaming call starts
//!               OPENED: nothing: the plugin's implementation took the stream (gRPC's headers)
//!               MSG:    one message of a stream, either way
//!               END:    nothing: the sender's half of the stream is over (from the plugin:
//!                       the call ended well, gRPC's OK trailers)
//!               WINDOW: u32 LE bytes: the receiver took that much more of the stream
//!               SERVICES: the services served over gRPC only (hand-written tonic services),
//!                       `package.Service` names separated by newlines
//! ```
//!
//! The plugin's first frame is SERVICES (id 0): the host calls the methods of those services
//! over gRPC, everything else natively.
//!
//! Unary calls are CALL, then REPLY or ERROR. Streaming calls (all three gRPC shapes) are
//! OPEN, the host's MSGs and END; the plugin's OPENED (or ERROR), its MSGs, and END or ERROR.
//! Each direction of a stream has [`WINDOW`](STREAM_WINDOW) bytes of credit, renewed by
//! WINDOW frames as the receiver consumes: a slow consumer slows its producer, and neither
//! side buffers more than the window and one message.
//!
//! Request and reply bytes are the interface's own encoding, as on gRPC, written straight
//! after the header: one buffer per frame, no copy on either side.

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use tokio_util::codec::Decoder;
use tonic::{Code, Status};

use crate::transport::codec::Outgoing;

/// What a native connection starts with (HTTP/2's preface starts `PRI *`).
pub(crate) const PREFACE: &[u8; 8] = b"RSNATV02";
/// What the host's session for callbacks starts with (yamux follows; each stream then starts
/// with a native preface of its own).
pub(crate) const MUX_PREFACE: &[u8; 8] = b"RSNATVS2";
/// What every version of the preface starts with (its last two bytes are the wire version).
pub(crate) const PREFACE_FAMILY: &[u8; 6] = b"RSNATV";

pub(crate) const CALL: u8 = 1;
pub(crate) const REPLY: u8 = 2;
pub(crate) const ERROR: u8 = 3;
pub(crate) const CANCEL: u8 = 4;
pub(crate) const OPEN: u8 = 5;
pub(crate) const OPENED: u8 = 6;
pub(crate) const MSG: u8 = 7;
pub(crate) const END: u8 = 8;
pub(crate) const WINDOW: u8 = 9;
pub(crate) const SERVICES: u8 = 10;

/// Each direction of a stream may have this many message bytes in flight before the receiver
/// grants more (one message may overshoot it).
pub(crate) const STREAM_WINDOW: usize = 1 << 20;

/// Bytes of kind and id after the length.
const HEAD: usize = 5;
/// Room for a call's path beyond a message's own size limit.
const PATH_ROOM: usize = 2 + u16::MAX as usize;

/// A decoded frame.
pub(crate) struct Frame {
    pub(crate) kind: u8,
    pub(crate) id: u32,
    pub(crate) body: Bytes,
}

/// What the reader yields.
pub(crate) enum Incoming {
    Frame(Frame),
    /// A frame over the size limit, skipped: its call fails, the connection goes on.
    TooLarge {
        id: u32,
        size: usize,
        max: usize,
    },
}

/// The reader's codec: frames of at most `max` bytes of message (plus a call's path). A larger
/// frame is skipped, not buffered.
pub(crate) struct FrameCodec {
    max: usize,
    skipping: usize,
}

impl FrameCodec {
    pub(crate) fn new(max: usize) -> Self {
        FrameCodec { max, skipping: 0 }
    }
}

impl Decoder for FrameCodec {
    type Item = Incoming;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, std::io::Error> {
        if self.skipping > 0 {
            let n = self.skipping.min(src.len());
            src.advance(n);
            self.skipping -= n;
            if self.skipping > 0 {
                return Ok(None);
            }
        }
        if src.len() < 4 + HEAD {
            return Ok(None);
        }
        let len = u32::from_le_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len < HEAD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a native frame of {len} bytes, shorter than its header"),
            ));
        }
        let size = len - HEAD;
        if size > self.max.saturating_add(PATH_ROOM) {
            src.advance(4);
            let _kind = src.get_u8();
            let id = src.get_u32_le();
            self.skipping = size;
            return Ok(Some(Incoming::TooLarge {
                id,
                size,
                max: self.max,
            }));
        }
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        let mut frame = src.split_to(len);
        let kind = frame.get_u8();
        let id = frame.get_u32_le();
        Ok(Some(Incoming::Frame(Frame {
            kind,
            id,
            body: frame.freeze(),
        })))
    }
}

/// The status of a call whose message was over the limit.
pub(crate) fn too_large(what: &str, size: usize, max: usize) -> Status {
    Status::resource_exhausted(format!(
        "the {what} is {size} bytes, over the limit of {max} (raise max_message_size on both sides)"
    ))
}

/// A frame's buffer with its header written, the length still to fill in by [`finish`].
fn start(kind: u8, id: u32, capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(4 + HEAD + capacity);
    buf.put_u32_le(0);
    buf.put_u8(kind);
    buf.put_u32_le(id);
    buf
}

/// The frame, its length filled in.
fn finish(mut buf: BytesMut) -> Result<Bytes, Status> {
    let len = u32::try_from(buf.len() - 4).map_err(|_| {
        Status::resource_exhausted("a message over 4 GiB cannot travel on the native transport")
    })?;
    buf[..4].copy_from_slice(&len.to_le_bytes());
    Ok(buf.freeze())
}

/// Fails with `ResourceExhausted` when a message of `size` bytes is over `max`.
fn check_size(what: &str, size: usize, max: usize) -> Result<(), Status> {
    if size > max {
        return Err(too_large(what, size, max));
    }
    Ok(())
}

/// A frame of `kind` starting with `path`, room left for `more` bytes.
fn with_path(kind: u8, id: u32, path: &str, more: usize) -> Result<BytesMut, Status> {
    let path_len = u16::try_from(path.len())
        .map_err(|_| Status::invalid_argument("a method path over 64 KiB"))?;
    let mut buf = start(kind, id, 2 + path.len() + more);
    buf.put_u16_le(path_len);
    buf.put_slice(path.as_bytes());
    Ok(buf)
}

/// A call of `path` with `request`.
pub(crate) fn call(
    id: u32,
    path: &str,
    request: &dyn Outgoing,
    max: usize,
) -> Result<Bytes, Status> {
    let mut buf = with_path(CALL, id, path, request.size_hint().max(64))?;
    let before = buf.len();
    request.encode_native(&mut buf)?;
    check_size("request", buf.len() - before, max)?;
    finish(buf)
}

/// A streaming call of `path` starts.
pub(crate) fn open(id: u32, path: &str) -> Result<Bytes, Status> {
    finish(with_path(OPEN, id, path, 0)?)
}

/// Splits a call's body into its path and request.
pub(crate) fn parse_call(mut body: Bytes) -> Option<(Bytes, Bytes)> {
    if body.len() < 2 {
        return None;
    }
    let len = usize::from(body.get_u16_le());
    if body.len() < len {
        return None;
    }
    let path = body.split_to(len);
    Some((path, body))
}

/// A successful reply.
pub(crate) fn reply(id: u32, message: &dyn Outgoing, max: usize) -> Result<Bytes, Status> {
    carrying(REPLY, "reply", id, message, max)
}

/// One message of a stream, and its size (what it takes of the stream's window).
pub(crate) fn message(
    id: u32,
    what: &str,
    message: &dyn Outgoing,
    max: usize,
) -> Result<(Bytes, usize), Status> {
    let frame = carrying(MSG, what, id, message, max)?;
    let size = frame.len() - 4 - HEAD;
    Ok((frame, size))
}

/// A frame of `kind` whose body is `message`.
fn carrying(
    kind: u8,
    what: &str,
    id: u32,
    message: &dyn Outgoing,
    max: usize,
) -> Result<Bytes, Status> {
    let mut buf = start(kind, id, message.size_hint().max(64));
    message.encode_native(&mut buf)?;
    check_size(what, buf.len() - 4 - HEAD, max)?;
    finish(buf)
}

/// A failed call's status (its message cut at 64 KiB).
pub(crate) fn error(id: u32, status: &Status) -> Bytes {
    let mut message = status.message();
    if message.len() > 1 << 16 {
        let mut end = 1 << 16;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message = &message[..end];
    }
    let mut buf = start(ERROR, id, 4 + message.len());
    buf.put_i32_le(status.code() as i32);
    buf.put_slice(message.as_bytes());
    let len = (buf.len() - 4) as u32; // at most 64 KiB + 9: fits
    buf[..4].copy_from_slice(&len.to_le_bytes());
    buf.freeze()
}

/// The status an ERROR frame carries.
pub(crate) fn parse_error(mut body: Bytes) -> Status {
    if body.len() < 4 {
        return Status::internal("the plugin sent a malformed error frame");
    }
    let code = Code::from_i32(body.get_i32_le());
    Status::new(code, String::from_utf8_lossy(&body).into_owned())
}

/// A frame of `kind` with no body: CANCEL (the caller gave up on call `id`), OPENED or END.
pub(crate) fn bare(kind: u8, id: u32) -> Bytes {
    let mut buf = start(kind, id, 0);
    buf[..4].copy_from_slice(&(HEAD as u32).to_le_bytes());
    buf.freeze()
}

/// The plugin's first frame: the services it serves over gRPC only.
pub(crate) fn services<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Bytes, Status> {
    let mut buf = start(SERVICES, 0, 64);
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            buf.put_u8(b'\n');
        }
        buf.put_slice(name.as_bytes());
    }
    finish(buf)
}

/// The names a SERVICES frame lists.
pub(crate) fn parse_services(body: &[u8]) -> impl Iterator<Item = String> + '_ {
    body.split(|b| *b == b'\n')
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
}

/// The receiver of stream `id` took `bytes` more.
pub(crate) fn window(id: u32, bytes: u32) -> Bytes {
    let mut buf = start(WINDOW, id, 4);
    buf.put_u32_le(bytes);
    buf[..4].copy_from_slice(&((HEAD + 4) as u32).to_le_bytes());
    buf.freeze()
}

/// The bytes a WINDOW frame grants (none when malformed).
pub(crate) fn parse_window(body: &[u8]) -> usize {
    match body {
        [a, b, c, d] => u32::from_le_bytes([*a, *b, *c, *d]) as usize,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use tokio_util::codec::Decoder as _;

    use super::*;

    struct Body(&'static [u8]);

    impl Outgoing for Body {
        fn encode_into(&self, _: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Status> {
            unreachable!("the native transport never uses tonic's buffer")
        }

        fn encode_native(&self, buf: &mut BytesMut) -> Result<(), Status> {
            buf.extend_from_slice(self.0);
            Ok(())
        }
    }

    fn decode(bytes: &[u8]) -> Option<Frame> {
        let mut buf = BytesMut::from(bytes);
        match FrameCodec::new(1 << 20).decode(&mut buf) {
            Ok(Some(Incoming::Frame(frame))) => Some(frame),
            _ => None,
        }
    }

    #[test]
    fn a_call_round_trips_through_the_reader_codec() {
        let call = call(7, "/p.S/M", &Body(b"req"), 16).unwrap();
        let frame = decode(&call).unwrap();
        assert_eq!((frame.kind, frame.id), (CALL, 7));
        let (path, request) = parse_call(frame.body).unwrap();
        assert_eq!((&path[..], &request[..]), (&b"/p.S/M"[..], &b"req"[..]));
    }

    #[test]
    fn errors_keep_their_code_and_message() {
        let status = Status::not_found("no value ✓");
        let frame = decode(&error(3, &status)).unwrap();
        assert_eq!((frame.kind, frame.id), (ERROR, 3));
        let back = parse_error(frame.body);
        assert_eq!(
            (back.code(), back.message()),
            (Code::NotFound, "no value ✓")
        );
        let frame = decode(&bare(CANCEL, 9)).unwrap();
        assert_eq!((frame.kind, frame.id, frame.body.len()), (CANCEL, 9, 0));
    }

    #[test]
    fn messages_over_the_limit_are_refused_naming_the_setting() {
        let err = call(1, "/p.S/M", &Body(&[0; 32]), 16).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(err.message().contains("max_message_size"), "{err:?}");
        let err = reply(1, &Body(&[0; 32]), 16).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
    }

    #[test]
    fn malformed_frames_are_refused_not_panicked_on() {
        // Shorter than a header, a call whose path runs past its end, a short error body.
        let mut short = BytesMut::from(&[2, 0, 0, 0, 1, 0, 0, 0, 0][..]);
        assert!(FrameCodec::new(16).decode(&mut short).is_err());
        assert!(parse_call(Bytes::from_static(&[10, 0, b'/'])).is_none());
        assert!(parse_call(Bytes::from_static(&[1])).is_none());
        assert_eq!(parse_error(Bytes::from_static(&[1])).code(), Code::Internal);
    }

    #[test]
    fn a_frame_over_the_limit_is_skipped_and_the_next_one_read() {
        let mut codec = FrameCodec::new(4);
        let big = reply(5, &Body(&[7; 70_000]), usize::MAX).unwrap();
        let next = reply(6, &Body(b"ok"), usize::MAX).unwrap();
        // Arriving in pieces: nothing of the big one is buffered.
        let mut buf = BytesMut::from(&big[..100]);
        match codec.decode(&mut buf).unwrap() {
            Some(Incoming::TooLarge { id, size, max }) => {
                assert_eq!((id, size, max), (5, 70_000, 4))
            }
            _ => panic!("not reported as too large"),
        }
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&big[100..]);
        buf.extend_from_slice(&next);
        match codec.decode(&mut buf).unwrap() {
            Some(Incoming::Frame(frame)) => {
                assert_eq!((frame.id, &frame.body[..]), (6, &b"ok"[..]))
            }
            _ => panic!("the next frame was lost"),
        }
    }
}
