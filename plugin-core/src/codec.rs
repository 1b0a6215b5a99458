//! How serde interfaces put their values on the wire.
//!
//! A codec is a type, chosen per interface by `#[plugin_interface(codec = ...)]`; [`Bincode`]
//! (bincode 2, standard configuration) is the default. Protobuf interfaces do not use a codec:
//! their messages are `prost` messages, encoded as protoc-generated code does.

use std::io::Write;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Encoding failed.
    #[error("{codec} could not encode the value: {reason}")]
    Encode {
        /// The codec's name.
        codec: &'static str,
        /// The encoder's message.
        reason: String,
    },
    /// Decoding failed: the bytes do not match the expected type.
    #[error(
        "{codec} could not decode a value of type {ty}: {reason}; host and plugin were probably \
         built from different versions of the interface"
    )]
    Decode {
        /// The codec's name.
        codec: &'static str,
        /// The expected type.
        ty: &'static str,
        /// The decoder's message.
        reason: String,
    },
}

/// Encodes and decodes the arguments and results of serde interfaces.
///
/// ```
/// use plugin_core::{Bincode, Codec};
/// let mut buf = Vec::new();
/// Bincode::encode(&("hello", 3u32), &mut buf)?;
/// let (s, n): (String, u32) = Bincode::decode(&buf)?;
/// assert_eq!((s.as_str(), n), ("hello", 3));
/// # Ok::<(), plugin_core::CodecError>(())
/// ```
pub trait Codec: Send + Sync + 'static {
    /// A short name for messages (`bincode`).
    const NAME: &'static str;

    /// Writes `value` to `out`.
    fn encode<T: Serialize + ?Sized, W: Write>(value: &T, out: W) -> Result<(), CodecError>;

    /// Reads a `T` from exactly `bytes`; trailing bytes are an error.
    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError>;
}

/// bincode 2 with its standard (varint) configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bincode;

impl Codec for Bincode {
    const NAME: &'static str = "bincode";

    fn encode<T: Serialize + ?Sized, W: Write>(value: &T, mut out: W) -> Result<(), CodecError> {
        bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard())
            .map(|_| ())
            .map_err(|e| CodecError::Encode {
                codec: Self::NAME,
                reason: e.to_string(),
            })
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
        let decode_error = |reason: String| CodecError::Decode {
            codec: Self::NAME,
            ty: std::any::type_name::<T>(),
            reason,
        };
        // bincode trusts a string's or byte buffer's length prefix for its allocation, up to
        // the configured limit (none in `standard()`): ten bytes from a peer could ask for
        // exabytes and abort the process. Those lengths only count bytes the message must then
        // hold, so a limit that grows with the message (16 times it, 16 MiB at least; 256
        // times past 256 MiB) refuses a lie early and never a true value.
        let decoded = if bytes.len() <= TIER_1 {
            decode_within::<T, { TIER_1.saturating_mul(16) }>(bytes)
        } else if bytes.len() <= TIER_2 {
            decode_within::<T, { TIER_2.saturating_mul(16) }>(bytes)
        } else if bytes.len() <= TIER_3 {
            decode_within::<T, { TIER_3.saturating_mul(16) }>(bytes)
        } else {
            decode_within::<T, { TIER_3.saturating_mul(256) }>(bytes)
        };
        let (value, used) = decoded.map_err(|e| match e {
            bincode::error::DecodeError::LimitExceeded => decode_error(format!(
                "a length in the message claims more bytes than its {} bytes hold",
                bytes.len()
            )),
            e => decode_error(e.to_string()),
        })?;
        if used != bytes.len() {
            return Err(decode_error(format!(
                "{} trailing bytes after the value",
                bytes.len() - used
            )));
        }
        Ok(value)
    }
}

// Message sizes where the decode limit steps up: 1 MiB, 16 MiB, 256 MiB.
const TIER_1: usize = 1 << 20;
const TIER_2: usize = 1 << 24;
const TIER_3: usize = 1 << 28;

/// bincode's standard configuration, with lengths in the message trusted up to `LIMIT` bytes
/// in all.
fn decode_within<T: DeserializeOwned, const LIMIT: usize>(
    bytes: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    let config = bincode::config::standard().with_limit::<LIMIT>();
    bincode::serde::decode_from_slice(bytes, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        let err = Bincode::decode::<(String, Vec<u64>)>(&[0xff; 9]).unwrap_err();
        assert!(matches!(err, CodecError::Decode { .. }), "{err}");
        let mut buf = Vec::new();
        Bincode::encode(&7u8, &mut buf).unwrap();
        buf.push(0);
        assert!(Bincode::decode::<u8>(&buf).is_err());
    }

    /// Found by fuzzing (`fuzz/corpus/codec/regression-length-prefix-*`): a length prefix of
    /// u64::MAX made bincode panic on the capacity, 2^40 abort on the allocation.
    #[test]
    fn a_length_prefix_beyond_the_message_is_an_error_not_an_allocation() {
        for huge in [u64::MAX, 1 << 40, 1 << 33] {
            let mut wire = vec![0xfd];
            wire.extend_from_slice(&huge.to_le_bytes());
            for err in [
                Bincode::decode::<crate::ByteBuf>(&wire).unwrap_err(),
                Bincode::decode::<String>(&wire).unwrap_err(),
                Bincode::decode::<(u8, String)>(&[&[7][..], &wire].concat()).unwrap_err(),
            ] {
                assert!(
                    err.to_string().contains("claims more bytes than its"),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn values_longer_than_a_small_message_still_decode() {
        let long = "x".repeat(3 << 20);
        let mut wire = Vec::new();
        Bincode::encode(&(long.as_str(), vec![0u64; 1 << 16]), &mut wire).unwrap();
        let (back, zeros): (String, Vec<u64>) = Bincode::decode(&wire).unwrap();
        assert_eq!((back, zeros.len()), (long, 1 << 16));
    }
}
