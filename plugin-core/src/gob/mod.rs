//! Go's `encoding/gob`, as a serde format, and the `net/rpc` framing built on it.
//!
//! go-plugin's net/rpc protocol carries gob-encoded values over yamux streams. [`Encoder`] and
//! [`Decoder`] speak gob on one byte stream each way: type definitions are sent once per
//! stream, before the first value that needs them, and the decoder keeps the peer's.
//! [`netrpc`] adds net/rpc's request and response headers.
//!
//! ```
//! use plugin_core::gob::{Decoder, Encoder};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! #[serde(rename_all = "PascalCase")]
//! struct Point {
//!     x: i64,
//!     y: i64,
//! }
//!
//! let mut wire = Vec::new();
//! let mut enc = Encoder::new(&mut wire);
//! enc.encode(&Point { x: 22, y: 33 })?;
//! enc.encode(&Point { x: 0, y: 1 })?; // the type is not sent again
//!
//! let mut dec = Decoder::new(&wire[..]);
//! assert_eq!(dec.decode::<Point>()?, Point { x: 22, y: 33 });
//! assert_eq!(dec.decode::<Point>()?, Point { x: 0, y: 1 });
//! # Ok::<(), plugin_core::gob::GobError>(())
//! ```
//!
//! # Mapping Rust types to gob
//!
//! | Rust | gob / Go |
//! |------|----------|
//! | `bool` | `bool` |
//! | `i8`..`i64`, `char` | `int` (any Go signed integer) |
//! | `u8`..`u64` | `uint` (any Go unsigned integer) |
//! | `f32`, `f64` | `float` (float32/float64; always sent as float64) |
//! | `String`, `&str` | `string` |
//! | `Vec<u8>`, [`ByteBuf`](crate::ByteBuf) | `[]byte` |
//! | `Vec<T>`, sets | `[]T` |
//! | `[T; N]` and tuples of one type | `[N]T` |
//! | `HashMap`/`BTreeMap<K, V>` | `map[K]V` |
//! | structs with named fields | structs, fields matched by name (rename with serde) |
//! | `Option<T>`, `Box<T>` | `*T` (pointers are flattened; `None` is a nil pointer) |
//! | `()`, unit structs | `struct{}` |
//! | [`GobValue`] | `interface{}` holding one of gob's pre-registered basic types |
//!
//! Not supported, with an [`GobError::Unsupported`] error: enums (Go has none), tuple structs,
//! tuples of mixed types, `i128`/`u128`, complex numbers, and types whose `Deserialize` needs
//! a self-describing format (`#[serde(untagged)]`, `#[serde(flatten)]`, `serde_json::Value`).
//! A `GobEncoder`/`BinaryMarshaler` value from Go (such as `time.Time`) decodes as its bytes.
//!
//! # Types are traced from `Deserialize`
//!
//! A gob type definition lists every field of a struct with its type, including fields whose
//! value is absent. serde's `Serialize` does not describe absent values (an empty `Vec`, a
//! `None`), so [`Encoder::encode`] learns a type's shape from its `Deserialize`
//! implementation: encodable types are `Serialize + DeserializeOwned`, and both must agree.
//! Struct types are identified by name and field names.
//!
//! # Zero values
//!
//! Go omits struct fields that hold their zero value (0, `false`, `""`, empty slices and maps,
//! nil pointers and interfaces); the encoder does the same. When decoding, a field that the
//! peer's type defines but whose value was omitted is delivered as that type's zero value
//! (`None` for an `Option`), so plain `#[derive(Deserialize)]` structs work. A Rust field the
//! peer's type does not have at all is missing: give it `#[serde(default)]` (or make it an
//! `Option`), as Go leaves such fields untouched. (Go also omits a `-0.0` field, which then
//! arrives as `0.0`; this encoder sends it.) `()` accepts any value, as net/rpc peers send
//! placeholders (`struct{}`, `true`, a nil interface) for arguments and replies nobody reads.
//!
//! # Limits
//!
//! The decoder treats its input as hostile: every length is checked against [`Limits`] and
//! the bytes left in the message, nesting and the number of types are bounded, and malformed
//! input yields a [`GobError`], never a panic.

mod de;
mod error;
pub mod netrpc;
mod schema;
mod ser;
#[cfg(test)]
mod tests;
mod types;
mod value;
mod wire;

pub use de::Decoder;
pub use error::GobError;
pub use ser::Encoder;
pub use value::GobValue;

/// Bounds on what a [`Decoder`] accepts from its peer (and an [`Encoder`] produces).
///
/// ```
/// use plugin_core::gob::{Decoder, Limits};
/// let limits = Limits { max_message: 1 << 20, ..Limits::default() };
/// let dec = Decoder::with_limits(&[][..], limits);
/// # let _ = dec;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest message, in bytes (default 64 MiB). Go's own limit is 1 GiB.
    pub max_message: usize,
    /// The deepest nesting of values and types (default 100).
    pub max_depth: usize,
    /// The most type definitions one stream may carry (default 10 000).
    pub max_types: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 64 << 20,
            max_depth: 100,
            max_types: 10_000,
        }
    }
}
