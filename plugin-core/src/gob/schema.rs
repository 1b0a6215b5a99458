//! A Rust type's gob shape, traced from its `Deserialize` implementation.
//!
//! gob type definitions list every struct field with its type, even for values that are
//! absent (empty, `None`); `Serialize` alone cannot tell those types, `Deserialize` can: the
//! tracer below is a `Deserializer` that answers every request with a zero value and records
//! what was asked for.

use std::collections::HashMap;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::GobError;
use super::value::INTERFACE_PREFIX;

/// How a Rust type is sent in gob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    Bool,
    Int,
    Uint,
    /// A `u8`: a `uint`, except that a slice of them is `[]byte`.
    Byte,
    Float,
    String,
    Bytes,
    Interface,
    /// `()` and unit structs: `struct{}`.
    Unit,
    /// `Option<T>`: a pointer, flattened on the wire.
    Ptr(Box<Shape>),
    Slice(Box<Shape>),
    Array(Box<Shape>, usize),
    Map(Box<Shape>, Box<Shape>),
    /// An index into [`Registry::structs`].
    Struct(usize),
}

impl Shape {
    /// The shape with pointers removed, as gob sends it.
    pub(crate) fn deref(&self) -> &Shape {
        match self {
            Shape::Ptr(inner) => inner.deref(),
            other => other,
        }
    }

    /// A short description for error messages.
    pub(crate) fn describe(&self, reg: &Registry) -> String {
        match self {
            Shape::Bool => "a bool".into(),
            Shape::Int => "a signed integer".into(),
            Shape::Uint | Shape::Byte => "an unsigned integer".into(),
            Shape::Float => "a float".into(),
            Shape::String => "a string".into(),
            Shape::Bytes => "bytes".into(),
            Shape::Interface => "an interface value (GobValue)".into(),
            Shape::Unit => "a unit".into(),
            Shape::Ptr(inner) => format!("an Option of {}", inner.describe(reg)),
            Shape::Slice(_) => "a sequence".into(),
            Shape::Array(_, n) => format!("an array of {n}"),
            Shape::Map(..) => "a map".into(),
            Shape::Struct(i) => format!("struct {}", reg.structs[*i].name),
        }
    }
}

/// A struct's fields, in declaration order.
#[derive(Debug)]
pub(crate) struct StructShape {
    pub(crate) name: &'static str,
    pub(crate) fields: Vec<(&'static str, Shape)>,
}

/// The struct shapes traced so far, identified by name and field names.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) structs: Vec<StructShape>,
    index: HashMap<(&'static str, &'static [&'static str]), usize>,
}

/// Bound on how deeply the tracer descends (Rust types are finite; this guards odd impls).
const MAX_TRACE_DEPTH: usize = 256;

/// Traces `T`'s shape, adding its structs to `reg`.
pub(crate) fn trace<T: de::DeserializeOwned>(reg: &mut Registry) -> Result<Shape, GobError> {
    let mut slot = None;
    T::deserialize(Tracer {
        reg,
        slot: &mut slot,
        minimal: false,
        depth: 0,
    })?;
    slot.ok_or_else(|| GobError::Unsupported("a type that reads nothing when deserialized".into()))
}

/// Answers requests with zero values, recording the requested shape in `slot`. In `minimal`
/// mode (a struct already traced or being traced) it only produces a value, as small as
/// possible: `None`, empty sequences and maps. That ends recursion in recursive types.
struct Tracer<'a> {
    reg: &'a mut Registry,
    slot: &'a mut Option<Shape>,
    minimal: bool,
    depth: usize,
}

impl<'a> Tracer<'a> {
    fn child<'b>(
        reg: &'b mut Registry,
        slot: &'b mut Option<Shape>,
        minimal: bool,
        depth: usize,
    ) -> Result<Tracer<'b>, GobError> {
        if depth > MAX_TRACE_DEPTH {
            return Err(GobError::Unsupported(format!(
                "a type nested more than {MAX_TRACE_DEPTH} levels deep"
            )));
        }
        Ok(Tracer {
            reg,
            slot,
            minimal,
            depth,
        })
    }
}

fn taken(slot: Option<Shape>, what: &str) -> Result<Shape, GobError> {
    slot.ok_or_else(|| {
        GobError::Unsupported(format!("{what} whose Deserialize reads no element type"))
    })
}

macro_rules! primitive {
    ($($method:ident => $shape:expr, $visit:ident($value:expr);)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
            *self.slot = Some($shape);
            visitor.$visit($value)
        }
    )*};
}

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = GobError;

    primitive! {
        deserialize_bool => Shape::Bool, visit_bool(false);
        deserialize_i8 => Shape::Int, visit_i8(0);
        deserialize_i16 => Shape::Int, visit_i16(0);
        deserialize_i32 => Shape::Int, visit_i32(0);
        deserialize_i64 => Shape::Int, visit_i64(0);
        deserialize_u8 => Shape::Byte, visit_u8(0);
        deserialize_u16 => Shape::Uint, visit_u16(0);
        deserialize_u32 => Shape::Uint, visit_u32(0);
        deserialize_u64 => Shape::Uint, visit_u64(0);
        deserialize_f32 => Shape::Float, visit_f32(0.0);
        deserialize_f64 => Shape::Float, visit_f64(0.0);
        deserialize_char => Shape::Int, visit_char('\0');
        deserialize_str => Shape::String, visit_str("");
        deserialize_string => Shape::String, visit_str("");
        deserialize_bytes => Shape::Bytes, visit_bytes(&[]);
        deserialize_byte_buf => Shape::Bytes, visit_bytes(&[]);
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GobError> {
        Err(GobError::Unsupported(
            "a type whose Deserialize needs a self-describing format (deserialize_any: \
             #[serde(untagged)], #[serde(flatten)], serde_json::Value); gob needs static types"
                .into(),
        ))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        *self.slot = Some(Shape::Unit);
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        if self.minimal {
            *self.slot = Some(Shape::Ptr(Box::new(Shape::Unit)));
            return visitor.visit_none();
        }
        let mut inner = None;
        let value =
            visitor.visit_some(Tracer::child(self.reg, &mut inner, false, self.depth + 1)?)?;
        *self.slot = Some(Shape::Ptr(Box::new(taken(inner, "an Option")?)));
        Ok(value)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        *self.slot = Some(Shape::Unit);
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        if name.starts_with(INTERFACE_PREFIX) {
            *self.slot = Some(Shape::Interface);
            return visitor.visit_unit();
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        if self.minimal {
            *self.slot = Some(Shape::Slice(Box::new(Shape::Unit)));
            return visitor.visit_seq(Elements {
                reg: self.reg,
                slots: Vec::new(),
                left: 0,
                minimal: true,
                depth: self.depth,
            });
        }
        let mut access = Elements {
            reg: self.reg,
            slots: Vec::new(),
            left: 1,
            minimal: false,
            depth: self.depth,
        };
        let value = visitor.visit_seq(&mut access)?;
        let elem = taken(access.slots.pop().flatten(), "a sequence")?;
        *self.slot = Some(match elem {
            Shape::Byte => Shape::Bytes,
            other => Shape::Slice(Box::new(other)),
        });
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        let minimal = self.minimal;
        let mut access = Elements {
            reg: self.reg,
            slots: Vec::new(),
            left: len,
            minimal,
            depth: self.depth,
        };
        let value = visitor.visit_seq(&mut access)?;
        let mut shapes = access.slots.into_iter();
        let first = shapes.next().flatten();
        let Some(elem) = first else {
            return Err(GobError::Unsupported(
                "zero-length arrays and tuples".into(),
            ));
        };
        if !minimal && shapes.any(|s| s.as_ref() != Some(&elem)) {
            return Err(GobError::Unsupported(
                "tuples of different element types (Go has no tuples; use a struct)".into(),
            ));
        }
        *self.slot = Some(Shape::Array(Box::new(elem), len));
        Ok(value)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, GobError> {
        Err(GobError::Unsupported(format!(
            "tuple struct {name} (gob matches fields by name; use named fields)"
        )))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        let mut access = Entries {
            reg: self.reg,
            key: None,
            value: None,
            left: usize::from(!self.minimal),
            depth: self.depth,
        };
        let value = visitor.visit_map(&mut access)?;
        *self.slot = Some(if self.minimal {
            Shape::Map(Box::new(Shape::Unit), Box::new(Shape::Unit))
        } else {
            Shape::Map(
                Box::new(taken(access.key, "a map")?),
                Box::new(taken(access.value, "a map")?),
            )
        });
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GobError> {
        let known = self.reg.index.get(&(name, fields)).copied();
        if self.minimal || known.is_some() {
            *self.slot = Some(known.map_or(Shape::Unit, Shape::Struct));
            let mut access = Fields {
                reg: self.reg,
                names: fields,
                shapes: Vec::new(),
                next: 0,
                minimal: true,
                depth: self.depth,
            };
            return visitor.visit_map(&mut access);
        }
        let index = self.reg.structs.len();
        self.reg.structs.push(StructShape {
            name,
            fields: Vec::new(),
        });
        self.reg.index.insert((name, fields), index);
        let mut access = Fields {
            reg: self.reg,
            names: fields,
            shapes: Vec::new(),
            next: 0,
            minimal: false,
            depth: self.depth,
        };
        let value = visitor.visit_map(&mut access)?;
        let mut traced = Vec::with_capacity(fields.len());
        for (name, shape) in fields.iter().zip(access.shapes) {
            traced.push((*name, taken(shape, "a struct field")?));
        }
        access.reg.structs[index].fields = traced;
        *self.slot = Some(Shape::Struct(index));
        Ok(value)
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
        *self.slot = Some(Shape::Unit);
        visitor.visit_unit()
    }

    fn deserialize_i128<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GobError> {
        Err(GobError::Unsupported(
            "i128 (gob integers have 64 bits)".into(),
        ))
    }

    fn deserialize_u128<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GobError> {
        Err(GobError::Unsupported(
            "u128 (gob integers have 64 bits)".into(),
        ))
    }
}

/// The elements of a traced sequence or tuple: `left` of them, each traced into a slot.
struct Elements<'a> {
    reg: &'a mut Registry,
    slots: Vec<Option<Shape>>,
    left: usize,
    minimal: bool,
    depth: usize,
}

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = GobError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GobError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut slot = None;
        let value = seed.deserialize(Tracer::child(
            self.reg,
            &mut slot,
            self.minimal,
            self.depth + 1,
        )?)?;
        self.slots.push(slot);
        Ok(Some(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The entries of a traced map: one, or none in minimal mode.
struct Entries<'a> {
    reg: &'a mut Registry,
    key: Option<Shape>,
    value: Option<Shape>,
    left: usize,
    depth: usize,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = GobError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GobError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(Tracer::child(
            self.reg,
            &mut self.key,
            false,
            self.depth + 1,
        )?)
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GobError> {
        seed.deserialize(Tracer::child(
            self.reg,
            &mut self.value,
            false,
            self.depth + 1,
        )?)
    }
}

/// The fields of a traced struct, offered by name.
struct Fields<'a> {
    reg: &'a mut Registry,
    names: &'static [&'static str],
    shapes: Vec<Option<Shape>>,
    next: usize,
    minimal: bool,
    depth: usize,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = GobError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GobError> {
        let Some(name) = self.names.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize(BorrowedStrDeserializer::<GobError>::new(name))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GobError> {
        self.next += 1;
        let mut slot = None;
        let value = seed.deserialize(Tracer::child(
            self.reg,
            &mut slot,
            self.minimal,
            self.depth + 1,
        )?)?;
        self.shapes.push(slot);
        Ok(value)
    }
}
