//! gob's primitive encodings (unsigned and signed integers, floats, byte strings) and its
//! message framing: every message is preceded by its length as an unsigned integer.

use std::io::{ErrorKind, Read};

use super::GobError;

/// Appends `v` as a gob unsigned integer: below 128 one byte, otherwise the negated byte
/// count followed by the minimal big-endian bytes.
pub(crate) fn put_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
        return;
    }
    let bytes = v.to_be_bytes();
    let skip = (v.leading_zeros() / 8) as usize;
    let n = 8 - skip;
    out.push((n as u8).wrapping_neg());
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends `v` as a gob signed integer: bit 0 says whether the rest is complemented.
pub(crate) fn put_int(out: &mut Vec<u8>, v: i64) {
    let u = if v < 0 {
        ((!v as u64) << 1) | 1
    } else {
        (v as u64) << 1
    };
    put_uint(out, u);
}

/// Appends `v` as gob sends every float: the float64 bits, byte-reversed, as an unsigned.
pub(crate) fn put_float(out: &mut Vec<u8>, v: f64) {
    put_uint(out, v.to_bits().swap_bytes());
}

/// Appends a byte string (string or `[]byte`): the count, then the bytes.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends `msg` framed as one gob message (length prefix, then the bytes).
pub(crate) fn put_message(out: &mut Vec<u8>, msg: &[u8]) {
    put_bytes(out, msg);
}

/// Reads a gob unsigned integer at `*pos`.
pub(crate) fn take_uint(buf: &[u8], pos: &mut usize) -> Result<u64, GobError> {
    let first = *buf
        .get(*pos)
        .ok_or(GobError::Truncated { what: "an integer" })?;
    *pos += 1;
    if first < 0x80 {
        return Ok(u64::from(first));
    }
    let n = usize::from(first.wrapping_neg());
    if n > 8 {
        return Err(GobError::Malformed(format!(
            "an unsigned integer claims {n} bytes; gob integers have at most 8"
        )));
    }
    let bytes = buf
        .get(*pos..*pos + n)
        .ok_or(GobError::Truncated { what: "an integer" })?;
    *pos += n;
    Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Reads a gob signed integer at `*pos`.
pub(crate) fn take_int(buf: &[u8], pos: &mut usize) -> Result<i64, GobError> {
    let u = take_uint(buf, pos)?;
    Ok(if u & 1 == 1 {
        !((u >> 1) as i64)
    } else {
        (u >> 1) as i64
    })
}

/// Reads a gob float at `*pos`.
pub(crate) fn take_float(buf: &[u8], pos: &mut usize) -> Result<f64, GobError> {
    Ok(f64::from_bits(take_uint(buf, pos)?.swap_bytes()))
}

/// Reads a count that announces at least one byte per item, refusing counts larger than the
/// bytes left in `buf`: a peer cannot make us allocate for data it did not send.
pub(crate) fn take_count(
    buf: &[u8],
    pos: &mut usize,
    what: &'static str,
) -> Result<usize, GobError> {
    let n = take_uint(buf, pos)?;
    let remaining = buf.len().saturating_sub(*pos);
    if n > remaining as u64 {
        return Err(GobError::CountTooLarge {
            what,
            count: n,
            remaining,
        });
    }
    Ok(n as usize)
}

/// Reads a byte string (count, then bytes) at `*pos`.
pub(crate) fn take_bytes<'b>(
    buf: &'b [u8],
    pos: &mut usize,
    what: &'static str,
) -> Result<&'b [u8], GobError> {
    let n = take_count(buf, pos, what)?;
    let bytes = &buf[*pos..*pos + n];
    *pos += n;
    Ok(bytes)
}

/// Reads one framed message from `r`: `Ok(None)` at a clean end of stream (no byte of a new
/// message read), an error for a truncated one or one longer than `limit`.
pub(crate) fn read_message<R: Read>(r: &mut R, limit: usize) -> Result<Option<Vec<u8>>, GobError> {
    let mut first = [0u8; 1];
    loop {
        match r.read(&mut first) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(GobError::Io(e)),
        }
    }
    let mut prefix = vec![first[0]];
    if first[0] >= 0x80 {
        let n = usize::from(first[0].wrapping_neg()).min(9);
        let mut rest = vec![0u8; n];
        read_exact(r, &mut rest, "a message length")?;
        prefix.extend_from_slice(&rest);
    }
    let len = take_uint(&prefix, &mut 0)?;
    if len == 0 {
        return Err(GobError::Malformed("an empty message (length 0)".into()));
    }
    if len > limit as u64 {
        return Err(GobError::TooLarge { len, limit });
    }
    // Grow with the data that arrives instead of trusting the announced length up front.
    let mut msg = Vec::with_capacity((len as usize).min(64 * 1024));
    r.take(len).read_to_end(&mut msg).map_err(GobError::Io)?;
    if msg.len() as u64 != len {
        return Err(GobError::Truncated { what: "a message" });
    }
    Ok(Some(msg))
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], what: &'static str) -> Result<(), GobError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => GobError::Truncated { what },
        _ => GobError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uint(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_uint(&mut out, v);
        out
    }

    fn int(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_int(&mut out, v);
        out
    }

    #[test]
    fn unsigned_integers_match_the_spec_examples() {
        assert_eq!(uint(0), [0x00]);
        assert_eq!(uint(7), [0x07]);
        assert_eq!(uint(256), [0xFE, 0x01, 0x00]);
        assert_eq!(
            uint(u64::MAX),
            [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        for v in [0, 1, 127, 128, 255, 256, 65535, 1 << 40, u64::MAX] {
            assert_eq!(take_uint(&uint(v), &mut 0).unwrap(), v);
        }
    }

    #[test]
    fn signed_integers_match_the_spec_examples() {
        assert_eq!(int(-129), [0xFE, 0x01, 0x01]);
        assert_eq!(int(22), [0x2C]);
        for v in [0, 1, -1, 63, -64, 64, i64::MIN, i64::MAX] {
            assert_eq!(take_int(&int(v), &mut 0).unwrap(), v);
        }
    }

    #[test]
    fn floats_are_byte_reversed() {
        let mut out = Vec::new();
        put_float(&mut out, 17.0);
        assert_eq!(out, [0xFE, 0x31, 0x40]);
        for v in [
            0.0,
            -0.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ] {
            let mut out = Vec::new();
            put_float(&mut out, v);
            assert_eq!(take_float(&out, &mut 0).unwrap().to_bits(), v.to_bits());
        }
        let mut out = Vec::new();
        put_float(&mut out, f64::NAN);
        assert!(take_float(&out, &mut 0).unwrap().is_nan());
    }

    #[test]
    fn malformed_integers_are_errors() {
        assert!(matches!(
            take_uint(&[], &mut 0),
            Err(GobError::Truncated { .. })
        ));
        assert!(matches!(
            take_uint(&[0xFE, 0x01], &mut 0),
            Err(GobError::Truncated { .. })
        ));
        assert!(matches!(
            take_uint(&[0xF7; 10], &mut 0),
            Err(GobError::Malformed(_))
        ));
    }

    #[test]
    fn counts_beyond_the_input_are_refused() {
        let mut buf = uint(1 << 40);
        buf.extend_from_slice(b"abc");
        assert!(matches!(
            take_bytes(&buf, &mut 0, "a string"),
            Err(GobError::CountTooLarge { count, remaining: 3, .. }) if count == 1 << 40
        ));
    }

    #[test]
    fn messages_are_framed_and_limited() {
        let mut stream = Vec::new();
        put_message(&mut stream, b"hello");
        let mut r = &stream[..];
        assert_eq!(read_message(&mut r, 16).unwrap().unwrap(), b"hello");
        assert!(read_message(&mut r, 16).unwrap().is_none(), "clean end");
        assert!(matches!(
            read_message(&mut &stream[..], 4),
            Err(GobError::TooLarge { len: 5, limit: 4 })
        ));
        assert!(matches!(
            read_message(&mut &stream[..3], 16),
            Err(GobError::Truncated { .. })
        ));
        // A 2^62-byte announcement with nothing behind it: refused by the limit, no allocation.
        let mut huge = uint(1 << 62);
        huge.push(1);
        assert!(matches!(
            read_message(&mut &huge[..], 64 << 20),
            Err(GobError::TooLarge { .. })
        ));
        assert!(matches!(
            read_message(&mut &[0u8][..], 16),
            Err(GobError::Malformed(_))
        ));
        assert!(matches!(
            read_message(&mut &[0xFEu8][..], 16),
            Err(GobError::Truncated { .. })
        ));
    }
}
