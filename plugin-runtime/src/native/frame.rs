//! The native wire format. The client first sends [`PREFACE`]; then both sides send frames:
//!
//! ```text
//! u32 LE  length of what follows
//! u8      kind: CALL, REPLY, ERROR or CANCEL
//! u32 LE  call id, chosen by the client
//! ...     body: CALL:  u16 LE path length, path (`/package.Service/Method`), request bytes
//!               REPLY: the reply bytes
//!               ERROR: i32 LE status code, UTF-8 message
//!               CANCEL: nothing (the caller gave up; the plugin drops the call)
//! ```
//!
//! Request and reply bytes are the interface's own encoding, as on gRPC, written straight
//! after the header: one buffer per frame, no copy on either side.

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use tokio_util::codec::Decoder;
use tonic::{Code, Status};

use crate::transport::codec::Outgoing;

/// What a native connection starts with (HTTP/2's preface starts `PRI *`).
pub(crate) const PREFACE: &[u8; 8] = b"RSNATV01";

pub(crate) const CALL: u8 = 1;
pub(crate) const REPLY: u8 = 2;
pub(crate) const ERROR: u8 = 3;
pub(crate) const CANCEL: u8 = 4;

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

/// A call of `path` with `request`.
pub(crate) fn call(
    id: u32,
    path: &str,
    request: &dyn Outgoing,
    max: usize,
) -> Result<Bytes, Status> {
    let path_len = u16::try_from(path.len())
        .map_err(|_| Status::invalid_argument("a method path over 64 KiB"))?;
    let mut buf = start(CALL, id, 2 + path.len() + request.size_hint().max(64));
    buf.put_u16_le(path_len);
    buf.put_slice(path.as_bytes());
    let before = buf.len();
    request.encode_native(&mut buf)?;
    check_size("request", buf.len() - before, max)?;
    finish(buf)
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
    let mut buf = start(REPLY, id, message.size_hint().max(64));
    message.encode_native(&mut buf)?;
    check_size("reply", buf.len() - 4 - HEAD, max)?;
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

/// The caller gave up on call `id`.
pub(crate) fn cancel(id: u32) -> Bytes {
    let mut buf = start(CANCEL, id, 0);
    buf[..4].copy_from_slice(&(HEAD as u32).to_le_bytes());
    buf.freeze()
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
        let frame = decode(&cancel(9)).unwrap();
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
