//! The serde `Serializer` for one value of a known shape.

use serde::Serialize;
use serde::ser::{Impossible, Serializer};

use super::Ctx;
use super::compound::{Collection, MapSer, StructSer};
use crate::gob::GobError;
use crate::gob::schema::Shape;
use crate::gob::value::{INTERFACE_PREFIX, shape_of_go_type};
use crate::gob::wire::{put_bytes, put_float, put_int, put_uint};

/// Serializes one value of `shape` into `out`.
pub(super) struct ValueSer<'a, 'r> {
    pub(super) ctx: &'a mut Ctx<'r>,
    pub(super) shape: &'a Shape,
    pub(super) out: &'a mut Vec<u8>,
    /// Directly a struct field's value: `None` here omits the field instead of failing.
    pub(super) field: bool,
}

impl<'a, 'r> ValueSer<'a, 'r> {
    fn mismatch(&self, serialized: &str) -> GobError {
        GobError::ShapeMismatch {
            serialized: serialized.into(),
            expected: self.shape.describe(self.ctx.registry),
        }
    }

    fn int(self, v: i64, what: &str) -> Result<(), GobError> {
        match self.shape {
            Shape::Int => {
                put_int(self.out, v);
                Ok(())
            }
            _ => Err(self.mismatch(what)),
        }
    }

    fn uint(self, v: u64, what: &str) -> Result<(), GobError> {
        match self.shape {
            Shape::Uint | Shape::Byte => {
                put_uint(self.out, v);
                Ok(())
            }
            _ => Err(self.mismatch(what)),
        }
    }

    fn float(self, v: f64, what: &str) -> Result<(), GobError> {
        match self.shape {
            Shape::Float => {
                put_float(self.out, v);
                Ok(())
            }
            _ => Err(self.mismatch(what)),
        }
    }

    fn collection(self, what: &str) -> Result<Collection<'a, 'r>, GobError> {
        let (kind, len) = match self.shape {
            Shape::Slice(elem) => (Elem::Value(elem), None),
            Shape::Array(elem, n) => (Elem::Value(elem), Some(*n)),
            Shape::Bytes => (Elem::Byte, None),
            _ => return Err(self.mismatch(what)),
        };
        Ok(Collection {
            ctx: self.ctx,
            out: self.out,
            kind,
            len,
            count: 0,
            buf: Vec::new(),
        })
    }
}

/// What a collection's elements are.
pub(super) enum Elem<'a> {
    Value(&'a Shape),
    /// `[]byte`: each `u8` element is one raw byte.
    Byte,
}

impl<'a, 'r> Serializer for ValueSer<'a, 'r> {
    type Ok = ();
    type Error = GobError;
    type SerializeSeq = Collection<'a, 'r>;
    type SerializeTuple = Collection<'a, 'r>;
    type SerializeTupleStruct = Impossible<(), GobError>;
    type SerializeTupleVariant = Impossible<(), GobError>;
    type SerializeMap = MapSer<'a, 'r>;
    type SerializeStruct = StructSer<'a, 'r>;
    type SerializeStructVariant = Impossible<(), GobError>;

    fn serialize_bool(self, v: bool) -> Result<(), GobError> {
        match self.shape {
            Shape::Bool => {
                put_uint(self.out, u64::from(v));
                Ok(())
            }
            _ => Err(self.mismatch("a bool")),
        }
    }

    fn serialize_i8(self, v: i8) -> Result<(), GobError> {
        self.int(v.into(), "an i8")
    }

    fn serialize_i16(self, v: i16) -> Result<(), GobError> {
        self.int(v.into(), "an i16")
    }

    fn serialize_i32(self, v: i32) -> Result<(), GobError> {
        self.int(v.into(), "an i32")
    }

    fn serialize_i64(self, v: i64) -> Result<(), GobError> {
        self.int(v, "an i64")
    }

    fn serialize_u8(self, v: u8) -> Result<(), GobError> {
        self.uint(v.into(), "a u8")
    }

    fn serialize_u16(self, v: u16) -> Result<(), GobError> {
        self.uint(v.into(), "a u16")
    }

    fn serialize_u32(self, v: u32) -> Result<(), GobError> {
        self.uint(v.into(), "a u32")
    }

    fn serialize_u64(self, v: u64) -> Result<(), GobError> {
        self.uint(v, "a u64")
    }

    fn serialize_f32(self, v: f32) -> Result<(), GobError> {
        self.float(v.into(), "an f32")
    }

    fn serialize_f64(self, v: f64) -> Result<(), GobError> {
        self.float(v, "an f64")
    }

    fn serialize_char(self, v: char) -> Result<(), GobError> {
        self.int(i64::from(u32::from(v)), "a char")
    }

    fn serialize_str(self, v: &str) -> Result<(), GobError> {
        match self.shape {
            Shape::String => {
                put_bytes(self.out, v.as_bytes());
                Ok(())
            }
            _ => Err(self.mismatch("a string")),
        }
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), GobError> {
        match self.shape {
            Shape::Bytes => {
                put_bytes(self.out, v);
                Ok(())
            }
            _ => Err(self.mismatch("bytes")),
        }
    }

    fn serialize_none(self) -> Result<(), GobError> {
        match self.shape {
            Shape::Ptr(_) if self.field => {
                self.ctx.omitted = true;
                Ok(())
            }
            Shape::Ptr(_) => Err(GobError::NilPointer),
            _ => Err(self.mismatch("None")),
        }
    }

    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), GobError> {
        match self.shape {
            Shape::Ptr(inner) => v.serialize(ValueSer {
                ctx: self.ctx,
                shape: inner,
                out: self.out,
                field: self.field,
            }),
            _ => Err(self.mismatch("Some")),
        }
    }

    fn serialize_unit(self) -> Result<(), GobError> {
        match self.shape {
            Shape::Unit => {
                self.out.push(0);
                Ok(())
            } // struct{}: just the end mark
            _ => Err(self.mismatch("a unit")),
        }
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), GobError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), GobError> {
        Err(unsupported_enum(name))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<(), GobError> {
        let Some(go_type) = name.strip_prefix(INTERFACE_PREFIX) else {
            return v.serialize(self);
        };
        if *self.shape != Shape::Interface {
            return Err(self.mismatch("an interface value"));
        }
        if go_type.is_empty() {
            put_uint(self.out, 0); // nil
            return Ok(());
        }
        let shape = shape_of_go_type(go_type).ok_or_else(|| {
            GobError::Unsupported(format!("interface values of Go type {go_type}"))
        })?;
        let id = self.ctx.type_id(&shape)?;
        put_bytes(self.out, go_type.as_bytes());
        put_int(self.out, i64::from(id));
        let mut inner = vec![0]; // the concrete value is a singleton
        v.serialize(ValueSer {
            ctx: self.ctx,
            shape: &shape,
            out: &mut inner,
            field: false,
        })?;
        put_bytes(self.out, &inner);
        Ok(())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), GobError> {
        Err(unsupported_enum(name))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Collection<'a, 'r>, GobError> {
        self.collection("a sequence")
    }

    fn serialize_tuple(self, _: usize) -> Result<Collection<'a, 'r>, GobError> {
        self.collection("a tuple")
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, GobError> {
        Err(GobError::Unsupported(format!(
            "tuple struct {name} (gob matches fields by name; use named fields)"
        )))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, GobError> {
        Err(unsupported_enum(name))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<MapSer<'a, 'r>, GobError> {
        match self.shape {
            Shape::Map(key, value) => Ok(MapSer {
                ctx: self.ctx,
                out: self.out,
                key,
                value,
                count: 0,
                buf: Vec::new(),
            }),
            _ => Err(self.mismatch("a map")),
        }
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<StructSer<'a, 'r>, GobError> {
        match self.shape {
            Shape::Struct(index) => Ok(StructSer {
                fields: &self.ctx.registry.structs[*index].fields,
                ctx: self.ctx,
                out: self.out,
                present: Vec::new(),
            }),
            Shape::Unit => Ok(StructSer {
                fields: &[],
                ctx: self.ctx,
                out: self.out,
                present: Vec::new(),
            }),
            _ => Err(self.mismatch(&format!("struct {name}"))),
        }
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, GobError> {
        Err(unsupported_enum(name))
    }

    fn serialize_i128(self, _: i128) -> Result<(), GobError> {
        Err(GobError::Unsupported(
            "i128 (gob integers have 64 bits)".into(),
        ))
    }

    fn serialize_u128(self, _: u128) -> Result<(), GobError> {
        Err(GobError::Unsupported(
            "u128 (gob integers have 64 bits)".into(),
        ))
    }
}

fn unsupported_enum(name: &str) -> GobError {
    GobError::Unsupported(format!(
        "enum {name} (Go has no enums; use a struct, or GobValue for interface{{}})"
    ))
}
