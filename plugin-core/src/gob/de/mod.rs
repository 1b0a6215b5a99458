//! The gob [`Decoder`]: reads messages, keeps the peer's type definitions, skips values.

mod access;
mod value;

use std::collections::HashMap;
use std::io::Read;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny};

use self::access::next_field;
use self::value::ValueDe;
use super::types::{self, WireField, WireType, read_wire_type};
use super::wire::{read_message, take_bytes, take_count, take_int, take_uint};
use super::{GobError, Limits};

/// Reads gob values from one stream, keeping the type definitions the peer sends.
///
/// Structs are matched by field name: fields the Rust type does not know are skipped, and
/// fields the peer's type has but did not send (Go omits zero values) are delivered as zero
/// values. Every length is checked against [`Limits`] and the input; malformed input is an
/// error. Messages are read with small reads; wrap a socket in a `BufReader`.
///
/// ```
/// use plugin_core::gob::{Decoder, GobError};
/// // Go's encoding of int 7, then the end of the stream.
/// let mut dec = Decoder::new(&[0x03, 0x04, 0x00, 0x0e][..]);
/// assert_eq!(dec.decode::<i32>()?, 7);
/// assert!(matches!(dec.decode::<i32>(), Err(GobError::EndOfStream)));
/// # Ok::<(), GobError>(())
/// ```
#[derive(Debug)]
pub struct Decoder<R> {
    input: R,
    limits: Limits,
    types: HashMap<i32, WireType>,
    buf: Vec<u8>,
    pos: usize,
    /// How many more zero values (of fields the peer omitted) this value may synthesize.
    zero_budget: usize,
}

/// A decoded type, by what its values look like.
#[derive(Clone)]
enum Kind {
    Bool,
    Int,
    Uint,
    Float,
    Bytes,
    String,
    Complex,
    Interface,
    Array { elem: i32, len: usize },
    Slice { elem: i32 },
    Struct { fields: Arc<[WireField]> },
    Map { key: i32, elem: i32 },
    Opaque,
}

impl<R: Read> Decoder<R> {
    /// A decoder reading from `input`, with default [`Limits`].
    pub fn new(input: R) -> Self {
        Self::with_limits(input, Limits::default())
    }

    /// A decoder reading from `input` within `limits`.
    pub fn with_limits(input: R, limits: Limits) -> Self {
        Decoder {
            input,
            limits,
            types: HashMap::new(),
            buf: Vec::new(),
            pos: 0,
            zero_budget: 0,
        }
    }

    /// Reads the next value (and the type definitions before it) as a `T`.
    ///
    /// At the end of the stream, before any byte of a new message, this is
    /// [`GobError::EndOfStream`].
    pub fn decode<T: DeserializeOwned>(&mut self) -> Result<T, GobError> {
        self.decode_seed(PhantomData)
    }

    /// Reads the next value with a serde `DeserializeSeed`.
    pub fn decode_seed<'de, S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, GobError> {
        // A failed value leaves the rest of its message unread; it cannot be resumed.
        self.buf.clear();
        self.pos = 0;
        let id = self.type_sequence(false)?.ok_or(GobError::EndOfStream)?;
        self.zero_budget = self.limits.max_message;
        let value = self.value(id, seed, 0)?;
        if self.pos != self.buf.len() {
            return Err(GobError::Malformed(format!(
                "{} bytes are left in the message after the value",
                self.buf.len() - self.pos
            )));
        }
        Ok(value)
    }

    /// Reads the next value and discards it.
    pub fn skip(&mut self) -> Result<(), GobError> {
        self.decode::<IgnoredAny>().map(|_| ())
    }

    /// The underlying reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.input
    }

    /// Returns the underlying reader.
    pub fn into_inner(self) -> R {
        self.input
    }

    /// Reads type definitions until a value's type id; `None` at a clean end of stream.
    /// Inside an interface value the definitions share the current message.
    fn type_sequence(&mut self, interface: bool) -> Result<Option<i32>, GobError> {
        let mut first = true;
        loop {
            if self.pos == self.buf.len() {
                match read_message(&mut self.input, self.limits.max_message)? {
                    Some(msg) => {
                        self.buf = msg;
                        self.pos = 0;
                    }
                    None if first && !interface => return Ok(None),
                    None => {
                        return Err(GobError::Truncated {
                            what: "a type sequence (definitions without their value)",
                        });
                    }
                }
            }
            let id = take_int(&self.buf, &mut self.pos)?;
            if id >= 0 {
                return i32::try_from(id)
                    .map(Some)
                    .map_err(|_| GobError::BadTypeId(format!("a value has type id {id}")));
            }
            self.define(id)?;
            if self.pos < self.buf.len() {
                if !interface {
                    return Err(GobError::Malformed(
                        "extra data after a type definition".into(),
                    ));
                }
                take_uint(&self.buf, &mut self.pos)?;
            }
            first = false;
        }
    }

    /// Reads the definition of type `-negated`.
    fn define(&mut self, negated: i64) -> Result<(), GobError> {
        let id = negated
            .checked_neg()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| GobError::BadTypeId(format!("a definition of type id {negated}")))?;
        if id < types::FIRST_USER_ID {
            return Err(GobError::BadTypeId(format!(
                "a definition of reserved type id {id}"
            )));
        }
        if self.types.contains_key(&id) {
            return Err(GobError::BadTypeId(format!(
                "a second definition of type id {id}"
            )));
        }
        if self.types.len() >= self.limits.max_types {
            return Err(GobError::TooManyTypes {
                limit: self.limits.max_types,
            });
        }
        let ty = read_wire_type(&self.buf, &mut self.pos)?;
        self.types.insert(id, ty);
        Ok(())
    }

    fn kind(&self, id: i32) -> Result<Kind, GobError> {
        Ok(match id {
            types::BOOL => Kind::Bool,
            types::INT => Kind::Int,
            types::UINT => Kind::Uint,
            types::FLOAT => Kind::Float,
            types::BYTES => Kind::Bytes,
            types::STRING => Kind::String,
            types::COMPLEX => Kind::Complex,
            types::INTERFACE => Kind::Interface,
            _ => match self.types.get(&id) {
                Some(WireType::Array { elem, len, .. }) => Kind::Array {
                    elem: *elem,
                    len: *len,
                },
                Some(WireType::Slice { elem, .. }) => Kind::Slice { elem: *elem },
                Some(WireType::Struct { fields, .. }) => Kind::Struct {
                    fields: fields.clone(),
                },
                Some(WireType::Map { key, elem, .. }) => Kind::Map {
                    key: *key,
                    elem: *elem,
                },
                Some(WireType::Opaque { .. }) => Kind::Opaque,
                None => {
                    return Err(GobError::BadTypeId(format!(
                        "type id {id} is used but was never defined"
                    )));
                }
            },
        })
    }

    fn describe(&self, id: i32) -> String {
        match id {
            types::BOOL => "bool".into(),
            types::INT => "int".into(),
            types::UINT => "uint".into(),
            types::FLOAT => "float".into(),
            types::BYTES => "[]byte".into(),
            types::STRING => "string".into(),
            types::COMPLEX => "complex".into(),
            types::INTERFACE => "interface value".into(),
            _ => match self.types.get(&id) {
                Some(WireType::Struct { name, .. }) => format!("struct {name}"),
                Some(WireType::Slice { .. }) => "slice".into(),
                Some(WireType::Array { len, .. }) => format!("array of {len}"),
                Some(WireType::Map { .. }) => "map".into(),
                Some(t @ WireType::Opaque { .. }) => format!("self-encoded {}", t.name()),
                None => format!("type {id}"),
            },
        }
    }

    /// Decodes a value as it appears at the top of a message or in an interface: a struct,
    /// or any other value as the single field 0 of a struct.
    fn value<'de, S: DeserializeSeed<'de>>(
        &mut self,
        id: i32,
        seed: S,
        depth: usize,
    ) -> Result<S::Value, GobError> {
        if !matches!(self.kind(id)?, Kind::Struct { .. }) {
            let delta = take_uint(&self.buf, &mut self.pos)?;
            if delta != 0 {
                return Err(GobError::Malformed(format!(
                    "a non-struct value starts with field delta {delta} instead of 0"
                )));
            }
        }
        seed.deserialize(ValueDe::at(self, id, depth, false)?)
    }

    /// Reads an interface value's header: `None` for nil, else the concrete type's name and
    /// id and the position where its value ends.
    fn interface_header(&mut self) -> Result<Option<(String, i32, usize)>, GobError> {
        let n = take_uint(&self.buf, &mut self.pos)?;
        if n == 0 {
            return Ok(None);
        }
        if n > 1024 {
            return Err(GobError::Malformed(format!(
                "an interface type name of {n} bytes (gob allows 1024)"
            )));
        }
        let n = n as usize;
        let name = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or(GobError::Truncated {
                what: "an interface type name",
            })?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| GobError::Malformed("an interface type name is not UTF-8".into()))?;
        self.pos += n;
        let id = self.type_sequence(true)?.ok_or(GobError::Truncated {
            what: "an interface value",
        })?;
        let len = take_count(&self.buf, &mut self.pos, "an interface value")?;
        Ok(Some((name, id, self.pos + len)))
    }

    /// Checks that an interface value ended where its length said.
    fn check_end(&self, end: usize) -> Result<(), GobError> {
        if self.pos != end {
            return Err(GobError::Malformed(format!(
                "an interface value's length is off by {} bytes",
                end as i64 - self.pos as i64
            )));
        }
        Ok(())
    }

    /// Skips a value of type `id`.
    fn skip_value(&mut self, id: i32, depth: usize) -> Result<(), GobError> {
        if depth > self.limits.max_depth {
            return Err(GobError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        match self.kind(id)? {
            Kind::Bool | Kind::Int | Kind::Uint | Kind::Float => {
                take_uint(&self.buf, &mut self.pos)?;
            }
            Kind::Complex => {
                take_uint(&self.buf, &mut self.pos)?;
                take_uint(&self.buf, &mut self.pos)?;
            }
            Kind::Bytes | Kind::String | Kind::Opaque => {
                take_bytes(&self.buf, &mut self.pos, "a byte string")?;
            }
            Kind::Interface => {
                if let Some((_, _, end)) = self.interface_header()? {
                    self.pos = end;
                }
            }
            Kind::Slice { elem } | Kind::Array { elem, .. } => {
                let n = take_count(&self.buf, &mut self.pos, "a slice or array")?;
                for _ in 0..n {
                    self.skip_value(elem, depth + 1)?;
                }
            }
            Kind::Map { key, elem } => {
                let n = take_count(&self.buf, &mut self.pos, "a map")?;
                for _ in 0..n {
                    self.skip_value(key, depth + 1)?;
                    self.skip_value(elem, depth + 1)?;
                }
            }
            Kind::Struct { fields } => {
                let mut field = -1i64;
                while let Some(next) = next_field(&self.buf, &mut self.pos, field, &fields)? {
                    self.skip_value(fields[next].id, depth + 1)?;
                    field = next as i64;
                }
            }
        }
        Ok(())
    }
}
