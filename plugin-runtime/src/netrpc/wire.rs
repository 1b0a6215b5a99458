//! Reading gob's framing without decoding it: each net/rpc value (a header, a body) is one
//! value message preceded by the type definitions it needs, each message length-prefixed.
//! Read whole, asynchronously, the value is then decoded synchronously by the stream's
//! stateful [`Decoder`](plugin_core::gob::Decoder).

use std::io::{self, Read};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Writes `bytes` and flushes them.
pub(crate) async fn write_flush<W: AsyncWrite + Unpin>(
    io: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    io.write_all(bytes).await?;
    io.flush().await
}

/// The longest message accepted from a peer (as the gob decoder's default limit).
pub(crate) const MAX_MESSAGE: u64 = 64 << 20;

/// One gob value as sent: its type definitions, then the value message, length prefixes kept.
/// `None` when the stream ended cleanly before it.
pub(crate) async fn read_value<R: AsyncRead + Unpin>(io: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let mut first = [0u8; 1];
        match io.read(&mut first).await? {
            0 if out.is_empty() => return Ok(None),
            0 => return Err(truncated("a gob message")),
            _ => {}
        }
        let len = read_uint_rest(io, first[0], &mut out).await?;
        if len > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a gob message of {len} bytes exceeds the limit of {MAX_MESSAGE} bytes"),
            ));
        }
        let start = out.len();
        out.resize(start + len as usize, 0);
        io.read_exact(&mut out[start..])
            .await
            .map_err(|_| truncated("a gob message"))?;
        // A negative type id defines a type; the value message comes after its definitions.
        if message_type_id(&out[start..])? >= 0 {
            return Ok(Some(out));
        }
    }
}

fn truncated(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the stream ended in the middle of {what}"),
    )
}

/// The rest of a gob unsigned integer whose first byte is `first`; its bytes go to `out`.
async fn read_uint_rest<R: AsyncRead + Unpin>(
    io: &mut R,
    first: u8,
    out: &mut Vec<u8>,
) -> io::Result<u64> {
    out.push(first);
    if first < 0x80 {
        return Ok(u64::from(first));
    }
    let n = usize::from(first.wrapping_neg());
    if n > 8 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed gob input: an integer claims {n} bytes"),
        ));
    }
    let mut bytes = [0u8; 8];
    io.read_exact(&mut bytes[8 - n..])
        .await
        .map_err(|_| truncated("an integer"))?;
    out.extend_from_slice(&bytes[8 - n..]);
    Ok(u64::from_be_bytes(bytes))
}

/// The signed type id that opens a message.
fn message_type_id(message: &[u8]) -> io::Result<i64> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "malformed gob input: a message without a type id",
        )
    };
    let first = *message.first().ok_or_else(bad)?;
    let u = if first < 0x80 {
        u64::from(first)
    } else {
        let n = usize::from(first.wrapping_neg());
        if n > 8 || message.len() < 1 + n {
            return Err(bad());
        }
        let mut bytes = [0u8; 8];
        bytes[8 - n..].copy_from_slice(&message[1..=n]);
        u64::from_be_bytes(bytes)
    };
    Ok(if u & 1 == 1 {
        !(u >> 1) as i64
    } else {
        (u >> 1) as i64
    })
}

/// The type definitions among encoded messages, without the values: what must still reach
/// the peer when the values are dropped (the encoder counts those types as sent).
pub(crate) fn type_definitions(encoded: &[u8]) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut pos = 0;
    while pos < encoded.len() {
        let Some((len, header)) = uint_at(&encoded[pos..]) else {
            break;
        };
        let end = (pos + header)
            .saturating_add(len as usize)
            .min(encoded.len());
        let message = &encoded[pos..end];
        if message_type_id(&message[header..]).is_ok_and(|id| id < 0) {
            kept.extend_from_slice(message);
        }
        pos = end;
    }
    kept
}

/// A gob unsigned integer at the start of `bytes`, and its length in bytes.
fn uint_at(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    if first < 0x80 {
        return Some((u64::from(first), 1));
    }
    let n = usize::from(first.wrapping_neg());
    if n > 8 || bytes.len() < 1 + n {
        return None;
    }
    let mut be = [0u8; 8];
    be[8 - n..].copy_from_slice(&bytes[1..=n]);
    Some((u64::from_be_bytes(be), 1 + n))
}

/// The bytes of whole values, handed to a stream's decoder one value at a time.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    buf: Vec<u8>,
    pos: usize,
}

impl Inbox {
    /// Replaces what is left (an undecoded remainder after a failed decode) with `value`.
    pub(crate) fn set(&mut self, value: Vec<u8>) {
        self.buf = value;
        self.pos = 0;
    }
}

impl Read for Inbox {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let rest = &self.buf[self.pos..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_core::gob::{Decoder, Encoder};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pair {
        #[serde(rename = "A")]
        a: String,
        #[serde(rename = "B")]
        b: u64,
    }

    #[tokio::test]
    async fn values_are_read_with_their_type_definitions() {
        let mut wire = Vec::new();
        let mut enc = Encoder::new(&mut wire);
        let big = Pair {
            a: "x".repeat(300),
            b: 1 << 40,
        };
        enc.encode(&big).unwrap();
        enc.encode(&Pair {
            a: "y".into(),
            b: 2,
        })
        .unwrap();
        enc.encode(&7u32).unwrap();
        let mut reader = &wire[..];
        let mut dec = Decoder::new(Inbox::default());
        let first = read_value(&mut reader).await.unwrap().unwrap();
        dec.get_mut().set(first);
        assert_eq!(dec.decode::<Pair>().unwrap(), big);
        dec.get_mut()
            .set(read_value(&mut reader).await.unwrap().unwrap());
        assert_eq!(dec.decode::<Pair>().unwrap().b, 2);
        dec.get_mut()
            .set(read_value(&mut reader).await.unwrap().unwrap());
        assert_eq!(dec.decode::<u32>().unwrap(), 7);
        assert!(read_value(&mut reader).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_nil_interface_is_a_value_any_method_can_skip() {
        // go-plugin's examples send `new(interface{})` to methods without arguments.
        let mut wire = Vec::new();
        let mut enc = Encoder::new(&mut wire);
        enc.encode(&plugin_core::gob::GobValue::Nil).unwrap();
        enc.encode(&true).unwrap();
        let mut reader = &wire[..];
        let mut dec = Decoder::new(Inbox::default());
        dec.get_mut()
            .set(read_value(&mut reader).await.unwrap().unwrap());
        dec.decode::<serde::de::IgnoredAny>().unwrap();
        dec.get_mut()
            .set(read_value(&mut reader).await.unwrap().unwrap());
        dec.decode::<serde::de::IgnoredAny>().unwrap();
    }

    #[tokio::test]
    async fn type_definitions_survive_dropped_values() {
        let mut enc = Encoder::new(Vec::new());
        enc.encode(&Pair {
            a: "dropped".into(),
            b: 1,
        })
        .unwrap();
        let kept = type_definitions(enc.get_mut());
        enc.get_mut().clear();
        enc.encode(&Pair {
            a: "kept".into(),
            b: 2,
        })
        .unwrap();
        let mut wire = kept;
        wire.extend_from_slice(enc.get_mut());
        let mut reader = &wire[..];
        let mut dec = Decoder::new(Inbox::default());
        dec.get_mut()
            .set(read_value(&mut reader).await.unwrap().unwrap());
        assert_eq!(dec.decode::<Pair>().unwrap().a, "kept");
        assert!(read_value(&mut reader).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_cut_stream_is_an_error_not_an_end() {
        let mut wire = Vec::new();
        Encoder::new(&mut wire)
            .encode(&"hello".to_string())
            .unwrap();
        let mut reader = &wire[..wire.len() - 2];
        let err = read_value(&mut reader).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn oversized_messages_are_refused() {
        // A length of 2^40 announced.
        let wire = [0xfb, 1, 0, 0, 0, 0];
        let err = read_value(&mut &wire[..]).await.unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }
}
