//! Byte strings for serde interfaces.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes that cross a serde codec as one block.
///
/// serde sees a `Vec<u8>` as a sequence, so codecs encode and decode it element by element; for
/// payloads of kilobytes and more that dominates the call. `ByteBuf` is serialized as a byte
/// string: length, then the bytes, copied at once.
///
/// ```
/// use plugin_core::{Bincode, ByteBuf, Codec};
/// let data = ByteBuf::from(vec![7u8; 1 << 20]);
/// let mut wire = Vec::new();
/// Bincode::encode(&data, &mut wire)?;
/// assert!(wire.len() < (1 << 20) + 8, "length prefix plus the bytes");
/// let back: ByteBuf = Bincode::decode(&wire)?;
/// assert_eq!(back, data);
/// # Ok::<(), plugin_core::CodecError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteBuf(pub Vec<u8>);

impl ByteBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        ByteBuf(Vec::new())
    }

    /// The bytes.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for ByteBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ByteBuf({} bytes)", self.0.len())
    }
}

impl Deref for ByteBuf {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for ByteBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl From<Vec<u8>> for ByteBuf {
    fn from(bytes: Vec<u8>) -> Self {
        ByteBuf(bytes)
    }
}

impl From<&[u8]> for ByteBuf {
    fn from(bytes: &[u8]) -> Self {
        ByteBuf(bytes.to_vec())
    }
}

impl From<ByteBuf> for Vec<u8> {
    fn from(bytes: ByteBuf) -> Self {
        bytes.0
    }
}

impl AsRef<[u8]> for ByteBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

struct ByteBufVisitor;

impl<'de> Visitor<'de> for ByteBufVisitor {
    type Value = ByteBuf;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v.as_bytes().to_vec()))
    }

    /// Formats without byte strings (JSON) send a sequence of numbers.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(b) = seq.next_element()? {
            bytes.push(b);
        }
        Ok(ByteBuf(bytes))
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteBuf, D::Error> {
        deserializer.deserialize_byte_buf(ByteBufVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bincode, Codec};

    #[test]
    fn round_trips_in_bincode_and_json() {
        let data = ByteBuf::from((0..=255u8).collect::<Vec<_>>());
        let mut wire = Vec::new();
        Bincode::encode(&data, &mut wire).unwrap();
        assert_eq!(Bincode::decode::<ByteBuf>(&wire).unwrap(), data);
        let json = serde_json::to_string(&data).unwrap();
        assert_eq!(serde_json::from_str::<ByteBuf>(&json).unwrap(), data);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut wire = Vec::new();
        Bincode::encode(&ByteBuf::from(vec![1u8; 100]), &mut wire).unwrap();
        assert!(Bincode::decode::<ByteBuf>(&wire[..50]).is_err());
    }
}
