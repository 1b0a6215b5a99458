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
        let (value, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map_err(|e| decode_error(e.to_string()))?;
        if used != bytes.len() {
            return Err(decode_error(format!(
                "{} trailing bytes after the value",
                bytes.len() - used
            )));
        }
        Ok(value)
    }
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
}
