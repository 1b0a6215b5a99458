//! gob type ids and type definitions (`wireType` and its parts, as in Go's encoding/gob).

use std::sync::Arc;

use super::GobError;
use super::wire::{put_bytes, put_int, put_uint, take_bytes, take_count, take_int, take_uint};

/// The predeclared type ids every gob stream knows.
pub(crate) const BOOL: i32 = 1;
pub(crate) const INT: i32 = 2;
pub(crate) const UINT: i32 = 3;
pub(crate) const FLOAT: i32 = 4;
pub(crate) const BYTES: i32 = 5;
pub(crate) const STRING: i32 = 6;
pub(crate) const COMPLEX: i32 = 7;
pub(crate) const INTERFACE: i32 = 8;
/// The lowest id a stream may define (Go's `firstUserId`); lower ones are reserved.
pub(crate) const FIRST_USER_ID: i32 = 64;

/// A field of a struct type: its name and its type id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireField {
    pub(crate) name: String,
    pub(crate) id: i32,
}

/// A type defined on the stream: one of the kinds of Go's `wireType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireType {
    /// `[len]elem`.
    Array { name: String, elem: i32, len: usize },
    /// `[]elem`.
    Slice { name: String, elem: i32 },
    /// A struct, fields in wire order.
    Struct {
        name: String,
        fields: Arc<[WireField]>,
    },
    /// `map[key]elem`.
    Map { name: String, key: i32, elem: i32 },
    /// A type that encodes itself (GobEncoder, BinaryMarshaler, TextMarshaler): its value is
    /// a byte string.
    Opaque { name: String },
}

impl WireType {
    /// The type's name as the peer gave it.
    pub(crate) fn name(&self) -> &str {
        match self {
            WireType::Array { name, .. }
            | WireType::Slice { name, .. }
            | WireType::Struct { name, .. }
            | WireType::Map { name, .. }
            | WireType::Opaque { name } => name,
        }
    }
}

/// Writes gob struct encodings: fields in increasing order, numbers delta-encoded.
struct StructOut<'a> {
    out: &'a mut Vec<u8>,
    last: i64,
}

impl<'a> StructOut<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        StructOut { out, last: -1 }
    }

    fn field(&mut self, n: i64) -> &mut Vec<u8> {
        put_uint(self.out, (n - self.last) as u64);
        self.last = n;
        self.out
    }

    /// A signed field, omitted when zero as gob does.
    fn int(&mut self, n: i64, v: i64) {
        if v != 0 {
            put_int(self.field(n), v);
        }
    }

    fn string(&mut self, n: i64, v: &str) {
        if !v.is_empty() {
            put_bytes(self.field(n), v.as_bytes());
        }
    }

    fn end(self) {
        self.out.push(0);
    }
}

fn common(out: &mut StructOut<'_>, name: &str, id: i32) {
    let buf = out.field(0);
    let mut c = StructOut::new(buf);
    c.string(0, name);
    c.int(1, i64::from(id));
    c.end();
}

/// Appends the encoding of `ty`'s `wireType` value, defining id `id`.
pub(crate) fn write_wire_type(out: &mut Vec<u8>, id: i32, ty: &WireType) {
    let mut w = StructOut::new(out);
    match ty {
        WireType::Array { name, elem, len } => {
            let mut s = StructOut::new(w.field(0));
            common(&mut s, name, id);
            s.int(1, i64::from(*elem));
            s.int(2, *len as i64);
            s.end();
        }
        WireType::Slice { name, elem } => {
            let mut s = StructOut::new(w.field(1));
            common(&mut s, name, id);
            s.int(1, i64::from(*elem));
            s.end();
        }
        WireType::Struct { name, fields } => {
            let mut s = StructOut::new(w.field(2));
            common(&mut s, name, id);
            if !fields.is_empty() {
                let buf = s.field(1);
                put_uint(buf, fields.len() as u64);
                for f in fields.iter() {
                    let mut fo = StructOut::new(buf);
                    fo.string(0, &f.name);
                    fo.int(1, i64::from(f.id));
                    fo.end();
                }
            }
            s.end();
        }
        WireType::Map { name, key, elem } => {
            let mut s = StructOut::new(w.field(3));
            common(&mut s, name, id);
            s.int(1, i64::from(*key));
            s.int(2, i64::from(*elem));
            s.end();
        }
        WireType::Opaque { name } => {
            let mut s = StructOut::new(w.field(4));
            common(&mut s, name, id);
            s.end();
        }
    }
    w.end();
}

/// Reads the fields of a struct encoding with a fixed schema of `count` fields, calling `f`
/// with each present field number.
fn read_struct(
    buf: &[u8],
    pos: &mut usize,
    count: i64,
    what: &str,
    mut f: impl FnMut(i64, &[u8], &mut usize) -> Result<(), GobError>,
) -> Result<(), GobError> {
    let mut field = -1i64;
    loop {
        let delta = take_uint(buf, pos)?;
        if delta == 0 {
            return Ok(());
        }
        if delta > (count - 1 - field) as u64 {
            return Err(GobError::Malformed(format!(
                "field number out of range in a {what} of a type definition"
            )));
        }
        field += delta as i64;
        f(field, buf, pos)?;
    }
}

fn read_type_id(buf: &[u8], pos: &mut usize) -> Result<i32, GobError> {
    let v = take_int(buf, pos)?;
    i32::try_from(v)
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| GobError::BadTypeId(format!("a type definition refers to type id {v}")))
}

fn read_string(buf: &[u8], pos: &mut usize, what: &'static str) -> Result<String, GobError> {
    let bytes = take_bytes(buf, pos, what)?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| GobError::Malformed(format!("{what} is not valid UTF-8")))
}

fn read_common(buf: &[u8], pos: &mut usize) -> Result<String, GobError> {
    let mut name = String::new();
    read_struct(buf, pos, 2, "CommonType", |n, buf, pos| {
        match n {
            0 => name = read_string(buf, pos, "a type name")?,
            _ => {
                take_int(buf, pos)?;
            }
        }
        Ok(())
    })?;
    Ok(name)
}

/// Parses a `wireType` value at `*pos`.
pub(crate) fn read_wire_type(buf: &[u8], pos: &mut usize) -> Result<WireType, GobError> {
    let mut result = None;
    read_struct(buf, pos, 7, "wireType", |kind, buf, pos| {
        if result.is_some() {
            return Err(GobError::Malformed(
                "a type definition has two kinds".into(),
            ));
        }
        let mut name = String::new();
        let (mut a, mut b) = (0i32, 0i32);
        let mut len = 0usize;
        let mut fields = Vec::new();
        let count = match kind {
            0 | 3 => 3,
            1 | 2 => 2,
            _ => 1,
        };
        read_struct(buf, pos, count, "type definition", |n, buf, pos| {
            match (kind, n) {
                (_, 0) => name = read_common(buf, pos)?,
                (2, 1) => {
                    let nfields = take_count(buf, pos, "a struct type's field list")?;
                    fields.reserve(nfields);
                    for _ in 0..nfields {
                        let mut f = WireField {
                            name: String::new(),
                            id: 0,
                        };
                        read_struct(buf, pos, 2, "fieldType", |n, buf, pos| {
                            match n {
                                0 => f.name = read_string(buf, pos, "a field name")?,
                                _ => f.id = read_type_id(buf, pos)?,
                            }
                            Ok(())
                        })?;
                        if f.id == 0 {
                            return Err(GobError::BadTypeId(format!(
                                "field {:?} of a struct type has no type id",
                                f.name
                            )));
                        }
                        fields.push(f);
                    }
                }
                (0, 2) => {
                    let v = take_int(buf, pos)?;
                    len = usize::try_from(v).map_err(|_| {
                        GobError::Malformed(format!("an array type has length {v}"))
                    })?;
                }
                (_, 1) => a = read_type_id(buf, pos)?,
                (_, _) => b = read_type_id(buf, pos)?,
            }
            Ok(())
        })?;
        let missing = |what: &str| GobError::BadTypeId(format!("a type definition has no {what}"));
        result = Some(match kind {
            0 if a == 0 => return Err(missing("element type")),
            0 => WireType::Array { name, elem: a, len },
            1 if a == 0 => return Err(missing("element type")),
            1 => WireType::Slice { name, elem: a },
            2 => WireType::Struct {
                name,
                fields: fields.into(),
            },
            3 if a == 0 || b == 0 => return Err(missing("key or element type")),
            3 => WireType::Map {
                name,
                key: a,
                elem: b,
            },
            _ => WireType::Opaque { name },
        });
        Ok(())
    })?;
    result.ok_or_else(|| GobError::Malformed("a type definition names no kind".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_definitions_match_the_spec_example() {
        // The `Point` definition from encoding/gob's documentation, after "1f ff 81".
        let spec = [
            0x03, 0x01, 0x01, 0x05, 0x50, 0x6f, 0x69, 0x6e, 0x74, 0x01, 0xff, 0x82, 0x00, 0x01,
            0x02, 0x01, 0x01, 0x58, 0x01, 0x04, 0x00, 0x01, 0x01, 0x59, 0x01, 0x04, 0x00, 0x00,
            0x00,
        ];
        let ty = WireType::Struct {
            name: "Point".into(),
            fields: vec![
                WireField {
                    name: "X".into(),
                    id: INT,
                },
                WireField {
                    name: "Y".into(),
                    id: INT,
                },
            ]
            .into(),
        };
        let mut out = Vec::new();
        write_wire_type(&mut out, 65, &ty);
        assert_eq!(out, spec);
        let mut pos = 0;
        assert_eq!(read_wire_type(&spec, &mut pos).unwrap(), ty);
        assert_eq!(pos, spec.len());
    }

    #[test]
    fn every_kind_round_trips() {
        let kinds = [
            WireType::Array {
                name: "[3]int".into(),
                elem: INT,
                len: 3,
            },
            WireType::Array {
                name: String::new(),
                elem: INT,
                len: 0,
            },
            WireType::Slice {
                name: "[]string".into(),
                elem: STRING,
            },
            WireType::Map {
                name: "map[string]interface {}".into(),
                key: STRING,
                elem: INTERFACE,
            },
            WireType::Struct {
                name: "Empty".into(),
                fields: Vec::new().into(),
            },
            WireType::Opaque {
                name: "time.Time".into(),
            },
        ];
        for ty in kinds {
            let mut out = Vec::new();
            write_wire_type(&mut out, 70, &ty);
            let mut pos = 0;
            assert_eq!(read_wire_type(&out, &mut pos).unwrap(), ty);
            assert_eq!(pos, out.len());
        }
    }

    #[test]
    fn malformed_definitions_are_errors() {
        let bad: [&[u8]; 7] = [
            &[],                             // nothing
            &[0x00],                         // no kind
            &[0x08, 0x00],                   // field 7 of wireType
            &[0x02, 0x00, 0x00],             // slice without an element type
            &[0x02, 0x02, 0x03, 0x00, 0x00], // slice of type id -2
            &[0x03, 0x02, 0xFF, 0x00, 0x00], // field count beyond the input
            &[0x02, 0x01, 0x01, 0x05, b'a'], // truncated name
        ];
        for b in bad {
            assert!(read_wire_type(b, &mut 0).is_err(), "{b:?}");
        }
    }
}
