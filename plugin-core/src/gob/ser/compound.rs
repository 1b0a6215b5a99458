//! Sequences, maps and structs: their parts are buffered, then written after a count (gob
//! counts come first) or, for structs, as delta-numbered fields without zero values.

use serde::Serialize;
use serde::ser;

use super::Ctx;
use super::value::{Elem, ValueSer};
use crate::gob::GobError;
use crate::gob::schema::Shape;
use crate::gob::wire::{put_uint, take_uint};

/// A slice, array or `[]byte`: elements are buffered, then sent after their count.
pub(super) struct Collection<'a, 'r> {
    pub(super) ctx: &'a mut Ctx<'r>,
    pub(super) out: &'a mut Vec<u8>,
    pub(super) kind: Elem<'a>,
    pub(super) len: Option<usize>,
    pub(super) count: usize,
    pub(super) buf: Vec<u8>,
}

impl Collection<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), GobError> {
        self.count += 1;
        match self.kind {
            Elem::Value(shape) => v.serialize(ValueSer {
                ctx: self.ctx,
                shape,
                out: &mut self.buf,
                field: false,
            }),
            Elem::Byte => {
                let mut one = Vec::new();
                v.serialize(ValueSer {
                    ctx: self.ctx,
                    shape: &Shape::Byte,
                    out: &mut one,
                    field: false,
                })?;
                let byte = u8::try_from(take_uint(&one, &mut 0)?).map_err(|_| {
                    GobError::ShapeMismatch {
                        serialized: "an element wider than u8".into(),
                        expected: "bytes".into(),
                    }
                })?;
                self.buf.push(byte);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<(), GobError> {
        if let Some(len) = self.len
            && len != self.count
        {
            return Err(GobError::ShapeMismatch {
                serialized: format!("{} elements", self.count),
                expected: format!("an array of {len}"),
            });
        }
        put_uint(self.out, self.count as u64);
        self.out.extend_from_slice(&self.buf);
        Ok(())
    }
}

impl ser::SerializeSeq for Collection<'_, '_> {
    type Ok = ();
    type Error = GobError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), GobError> {
        self.element(v)
    }

    fn end(self) -> Result<(), GobError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Collection<'_, '_> {
    type Ok = ();
    type Error = GobError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), GobError> {
        self.element(v)
    }

    fn end(self) -> Result<(), GobError> {
        self.finish()
    }
}

/// A map: entries are buffered, then sent after their count.
pub(super) struct MapSer<'a, 'r> {
    pub(super) ctx: &'a mut Ctx<'r>,
    pub(super) out: &'a mut Vec<u8>,
    pub(super) key: &'a Shape,
    pub(super) value: &'a Shape,
    pub(super) count: usize,
    pub(super) buf: Vec<u8>,
}

impl ser::SerializeMap for MapSer<'_, '_> {
    type Ok = ();
    type Error = GobError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), GobError> {
        self.count += 1;
        k.serialize(ValueSer {
            ctx: self.ctx,
            shape: self.key,
            out: &mut self.buf,
            field: false,
        })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), GobError> {
        v.serialize(ValueSer {
            ctx: self.ctx,
            shape: self.value,
            out: &mut self.buf,
            field: false,
        })
    }

    fn end(self) -> Result<(), GobError> {
        put_uint(self.out, self.count as u64);
        self.out.extend_from_slice(&self.buf);
        Ok(())
    }
}

/// A struct: fields with zero values are omitted, the rest sent by increasing field number.
pub(super) struct StructSer<'a, 'r> {
    pub(super) ctx: &'a mut Ctx<'r>,
    pub(super) out: &'a mut Vec<u8>,
    pub(super) fields: &'r [(&'static str, Shape)],
    pub(super) present: Vec<(usize, Vec<u8>)>,
}

impl ser::SerializeStruct for StructSer<'_, '_> {
    type Ok = ();
    type Error = GobError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), GobError> {
        let fields = self.fields;
        let Some(number) = fields.iter().position(|(n, _)| *n == name) else {
            return Err(GobError::ShapeMismatch {
                serialized: format!("field {name}"),
                expected: "no such field (is it skipped when deserializing?)".into(),
            });
        };
        let shape = &fields[number].1;
        let mut buf = Vec::new();
        self.ctx.omitted = false;
        v.serialize(ValueSer {
            ctx: self.ctx,
            shape,
            out: &mut buf,
            field: true,
        })?;
        if std::mem::take(&mut self.ctx.omitted) {
            return Ok(()); // a nil pointer field is omitted
        }
        // Structs and arrays are always sent; every other zero value encodes as one 0 byte
        // (0, false, "", empty slice or map, nil interface) and is omitted, as Go does.
        let always = matches!(
            shape.deref(),
            Shape::Struct(_) | Shape::Unit | Shape::Array(..)
        );
        if always || buf != [0] {
            self.present.push((number, buf));
        }
        Ok(())
    }

    fn end(mut self) -> Result<(), GobError> {
        self.present.sort_by_key(|(n, _)| *n);
        let mut last = -1i64;
        for (n, buf) in &self.present {
            let n = *n as i64;
            if n == last {
                return Err(GobError::ShapeMismatch {
                    serialized: format!("field {} twice", self.fields[n as usize].0),
                    expected: "each field once".into(),
                });
            }
            put_uint(self.out, (n - last) as u64);
            self.out.extend_from_slice(buf);
            last = n;
        }
        self.out.push(0);
        Ok(())
    }
}
