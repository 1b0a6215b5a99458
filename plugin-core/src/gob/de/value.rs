//! The serde `Deserializer` for one gob value of a known wire type.

use std::io::Read;

use serde::de::value::SeqDeserializer;
use serde::de::{DeserializeSeed, Deserializer, Visitor};

use super::access::{Concrete, Elements, Entries, Fields, next_field};
use super::{Decoder, Kind};
use crate::gob::GobError;
use crate::gob::value::INTERFACE_PREFIX;
use crate::gob::wire::{take_bytes, take_count, take_float, take_int, take_uint};

/// Deserializes one value of type `id`; in `zero` mode, that type's zero value without
/// reading input (a field the peer omitted).
pub(super) struct ValueDe<'a, R> {
    dec: &'a mut Decoder<R>,
    id: i32,
    depth: usize,
    zero: bool,
}

impl<'a, R: Read> ValueDe<'a, R> {
    pub(super) fn at(
        dec: &'a mut Decoder<R>,
        id: i32,
        depth: usize,
        zero: bool,
    ) -> Result<Self, GobError> {
        if depth > dec.limits.max_depth {
            return Err(GobError::TooDeep {
                limit: dec.limits.max_depth,
            });
        }
        if zero {
            dec.zero_budget = dec.zero_budget.checked_sub(1).ok_or_else(|| {
                GobError::Malformed(
                    "the peer's types make zero values larger than the message limit".into(),
                )
            })?;
        }
        Ok(ValueDe {
            dec,
            id,
            depth,
            zero,
        })
    }

    fn mismatch(&self, rust: &'static str) -> GobError {
        GobError::Mismatch {
            wire: self.dec.describe(self.id),
            rust,
        }
    }

    fn uint(&mut self) -> Result<u64, GobError> {
        if self.zero {
            return Ok(0);
        }
        take_uint(&self.dec.buf, &mut self.dec.pos)
    }

    fn expect(&self, rust: &'static str, ok: impl Fn(&Kind) -> bool) -> Result<Kind, GobError> {
        let kind = self.dec.kind(self.id)?;
        if ok(&kind) {
            Ok(kind)
        } else {
            Err(self.mismatch(rust))
        }
    }

    fn int(&mut self, rust: &'static str) -> Result<i64, GobError> {
        self.expect(rust, |k| matches!(k, Kind::Int))?;
        if self.zero {
            return Ok(0);
        }
        take_int(&self.dec.buf, &mut self.dec.pos)
    }

    fn unsigned(&mut self, rust: &'static str) -> Result<u64, GobError> {
        self.expect(rust, |k| matches!(k, Kind::Uint))?;
        self.uint()
    }

    fn float(&mut self, rust: &'static str) -> Result<f64, GobError> {
        self.expect(rust, |k| matches!(k, Kind::Float))?;
        if self.zero {
            return Ok(0.0);
        }
        take_float(&self.dec.buf, &mut self.dec.pos)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, GobError> {
        if self.zero {
            return Ok(Vec::new());
        }
        Ok(take_bytes(&self.dec.buf, &mut self.dec.pos, "a byte string")?.to_vec())
    }

    fn string(&mut self) -> Result<String, GobError> {
        self.expect("a string", |k| matches!(k, Kind::String))?;
        String::from_utf8(self.bytes()?).map_err(|_| {
            GobError::Malformed("a string is not valid UTF-8 (receive it as bytes)".into())
        })
    }

    fn count(&mut self, what: &'static str) -> Result<usize, GobError> {
        if self.zero {
            return Ok(0);
        }
        take_count(&self.dec.buf, &mut self.dec.pos, what)
    }

    fn seq<'de, V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        let (elem, left) = match self.dec.kind(self.id)? {
            Kind::Slice { elem } => (elem, self.count("a slice")?),
            Kind::Array { elem, len } => {
                let n = if self.zero {
                    len
                } else {
                    self.count("an array")?
                };
                if n != len {
                    return Err(GobError::Malformed(format!(
                        "an array of length {len} was sent with {n} elements"
                    )));
                }
                (elem, n)
            }
            Kind::Bytes => {
                let bytes = self.bytes()?;
                return SeqDeserializer::<_, GobError>::new(bytes.into_iter())
                    .deserialize_any(visitor);
            }
            _ => return Err(self.mismatch("a sequence")),
        };
        let mut access = Elements {
            dec: self.dec,
            elem,
            left,
            depth: self.depth,
            zero: self.zero,
        };
        let value = visitor.visit_seq(&mut access)?;
        access.finish()?;
        Ok(value)
    }

    fn map<'de, V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        match self.dec.kind(self.id)? {
            Kind::Map { key, elem } => {
                let left = self.count("a map")?;
                let mut access = Entries {
                    dec: self.dec,
                    key,
                    elem,
                    left,
                    depth: self.depth,
                    zero: self.zero,
                };
                let value = visitor.visit_map(&mut access)?;
                access.finish()?;
                Ok(value)
            }
            Kind::Struct { fields } => {
                let next = if self.zero {
                    None
                } else {
                    next_field(&self.dec.buf, &mut self.dec.pos, -1, &fields)?
                };
                let mut access = Fields {
                    dec: self.dec,
                    fields,
                    index: 0,
                    next,
                    depth: self.depth,
                };
                let value = visitor.visit_map(&mut access)?;
                access.finish()?;
                Ok(value)
            }
            _ => Err(self.mismatch("a map or struct")),
        }
    }

    fn skip(self) -> Result<(), GobError> {
        if self.zero {
            return Ok(());
        }
        self.dec.skip_value(self.id, self.depth)
    }

    /// An interface value through `deserialize_any`: nil is a unit, else the concrete value.
    fn interface_any<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        if self.zero {
            return visitor.visit_unit();
        }
        let Some((_, id, end)) = self.dec.interface_header()? else {
            return visitor.visit_unit();
        };
        let value = self.dec.value(id, AnySeed(visitor), self.depth + 1)?;
        self.dec.check_end(end)?;
        Ok(value)
    }
}

/// Runs a visitor on a value through `deserialize_any`.
struct AnySeed<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for AnySeed<V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_any(self.0)
    }
}

macro_rules! signed {
    ($($method:ident: $ty:ty => $visit:ident, $rust:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
            let v = self.int($rust)?;
            let v = <$ty>::try_from(v).map_err(|_| GobError::OutOfRange { value: v.to_string(), rust: $rust })?;
            visitor.$visit(v)
        }
    )*};
}

macro_rules! unsigned {
    ($($method:ident: $ty:ty => $visit:ident, $rust:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
            let v = self.unsigned($rust)?;
            let v = <$ty>::try_from(v).map_err(|_| GobError::OutOfRange { value: v.to_string(), rust: $rust })?;
            visitor.$visit(v)
        }
    )*};
}

impl<'de, R: Read> Deserializer<'de> for ValueDe<'_, R> {
    type Error = GobError;

    signed! {
        deserialize_i8: i8 => visit_i8, "i8";
        deserialize_i16: i16 => visit_i16, "i16";
        deserialize_i32: i32 => visit_i32, "i32";
        deserialize_i64: i64 => visit_i64, "i64";
    }

    unsigned! {
        deserialize_u8: u8 => visit_u8, "u8";
        deserialize_u16: u16 => visit_u16, "u16";
        deserialize_u32: u32 => visit_u32, "u32";
        deserialize_u64: u64 => visit_u64, "u64";
    }

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        match self.dec.kind(self.id)? {
            Kind::Bool => self.deserialize_bool(visitor),
            Kind::Int => visitor.visit_i64(self.int("an integer")?),
            Kind::Uint => visitor.visit_u64(self.uint()?),
            Kind::Float => visitor.visit_f64(self.float("a float")?),
            Kind::Bytes | Kind::Opaque => visitor.visit_byte_buf(self.bytes()?),
            Kind::String => visitor.visit_string(self.string()?),
            Kind::Complex => Err(GobError::Unsupported("complex numbers".into())),
            Kind::Interface => self.interface_any(visitor),
            Kind::Array { .. } | Kind::Slice { .. } => self.seq(visitor),
            Kind::Map { .. } | Kind::Struct { .. } => self.map(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        self.expect("a bool", |k| matches!(k, Kind::Bool))?;
        match self.uint()? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            v => Err(GobError::Malformed(format!("a bool has the value {v}"))),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        let v = self.float("f32")?;
        if v.is_finite() && v.abs() > f64::from(f32::MAX) {
            return Err(GobError::OutOfRange {
                value: v.to_string(),
                rust: "f32",
            });
        }
        visitor.visit_f32(v as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        visitor.visit_f64(self.float("f64")?)
    }

    fn deserialize_char<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        let v = self.int("a char")?;
        let c = u32::try_from(v)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| GobError::OutOfRange {
                value: v.to_string(),
                rust: "char",
            })?;
        visitor.visit_char(c)
    }

    fn deserialize_str<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        visitor.visit_string(self.string()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, GobError> {
        self.expect("bytes", |k| matches!(k, Kind::Bytes | Kind::Opaque))?;
        visitor.visit_byte_buf(self.bytes()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        if self.zero {
            return visitor.visit_none();
        }
        visitor.visit_some(self)
    }

    /// `()` accepts any value (net/rpc peers send `struct{}`, `true` or nil interfaces as
    /// placeholder arguments and replies).
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        self.skip()?;
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        if name != INTERFACE_PREFIX {
            return visitor.visit_newtype_struct(self);
        }
        self.expect("an interface value (GobValue)", |k| {
            matches!(k, Kind::Interface)
        })?;
        if self.zero {
            return visitor.visit_unit();
        }
        let Some((go_type, id, end)) = self.dec.interface_header()? else {
            return visitor.visit_unit();
        };
        let value = visitor.visit_map(Concrete {
            dec: &mut *self.dec,
            name: Some(go_type),
            id,
            depth: self.depth + 1,
        })?;
        self.dec.check_end(end)?;
        Ok(value)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        self.seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        self.seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        self.seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        self.map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GobError> {
        self.map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, GobError> {
        Err(GobError::Unsupported(format!(
            "enum {name} (Go has no enums; use a struct, or GobValue for interface{{}})"
        )))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        self.skip()?;
        visitor.visit_unit()
    }
}
