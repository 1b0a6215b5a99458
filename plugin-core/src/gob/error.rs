//! What can go wrong encoding or decoding gob.

use std::fmt::Display;

/// A gob stream could not be encoded or decoded.
///
/// Decoding errors name the defect in the input; the stream is unusable after one (gob has no
/// resynchronization point), so a connection should be closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GobError {
    /// Reading or writing the underlying stream failed.
    #[error("gob stream I/O failed")]
    Io(#[source] std::io::Error),
    /// The stream ended cleanly where a new value would start (the peer closed it).
    #[error("the gob stream ended (the peer closed it)")]
    EndOfStream,
    /// The input ended in the middle of an item.
    #[error(
        "gob input ended in the middle of {what}: the peer sent a truncated message or closed \
         the stream early"
    )]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A message is longer than [`Limits::max_message`](super::Limits::max_message).
    #[error(
        "a gob message of {len} bytes exceeds the limit of {limit} bytes; raise \
         Limits::max_message if the peer legitimately sends values this large"
    )]
    TooLarge {
        /// The announced length.
        len: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A count announces more items than there are bytes left in the message.
    #[error(
        "malformed gob input: {what} announces {count} items but only {remaining} bytes are left \
         in the message"
    )]
    CountTooLarge {
        /// What was being counted.
        what: &'static str,
        /// The announced count.
        count: u64,
        /// The bytes left.
        remaining: usize,
    },
    /// Values or types nest deeper than [`Limits::max_depth`](super::Limits::max_depth).
    #[error(
        "gob values nest deeper than the limit of {limit} levels; raise Limits::max_depth if \
         the data is legitimately this deep"
    )]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// The peer defined more types than [`Limits::max_types`](super::Limits::max_types).
    #[error("the peer defined more than {limit} gob types on one stream; raise Limits::max_types")]
    TooManyTypes {
        /// The configured limit.
        limit: usize,
    },
    /// A value refers to a type id the peer never defined, or defines a reserved or duplicate id.
    #[error("malformed gob input: {0}")]
    BadTypeId(String),
    /// The bytes do not follow the gob grammar.
    #[error("malformed gob input: {0}")]
    Malformed(String),
    /// The peer sent a value of another kind than the Rust type expects.
    #[error(
        "the peer sent a gob {wire} where the Rust type expects {rust}; both sides must use \
         compatible types (gob matches struct fields by name, integers by signedness)"
    )]
    Mismatch {
        /// The kind on the wire.
        wire: String,
        /// What the Rust type asked for.
        rust: &'static str,
    },
    /// An integer or float does not fit the Rust type.
    #[error("the gob value {value} does not fit in {rust}; use a wider Rust type")]
    OutOfRange {
        /// The value, printed.
        value: String,
        /// The Rust type.
        rust: &'static str,
    },
    /// A Rust type or Go feature has no gob counterpart here.
    #[error("not supported by gob: {0}")]
    Unsupported(String),
    /// `None` outside a struct field: gob, like Go, cannot send a nil pointer there.
    #[error(
        "gob cannot encode None at the top level, in a slice or in a map (Go cannot send a nil \
         pointer there); only Option struct fields may be None"
    )]
    NilPointer,
    /// The value's `Serialize` does not match the shape its `Deserialize` describes.
    #[error(
        "the value serialized {serialized} where its Deserialize implementation expects \
         {expected}; gob needs Serialize and Deserialize of a type to agree"
    )]
    ShapeMismatch {
        /// What `Serialize` produced.
        serialized: String,
        /// What the traced `Deserialize` expects.
        expected: String,
    },
    /// An error raised by a `Serialize` or `Deserialize` implementation.
    #[error("{0}")]
    Custom(String),
}

impl serde::ser::Error for GobError {
    fn custom<T: Display>(msg: T) -> Self {
        GobError::Custom(msg.to_string())
    }
}

impl serde::de::Error for GobError {
    fn custom<T: Display>(msg: T) -> Self {
        GobError::Custom(msg.to_string())
    }
}
