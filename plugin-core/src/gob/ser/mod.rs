//! The gob [`Encoder`]: a serde `Serializer` directed by the value's traced shape.

mod compound;
mod value;

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;
use serde::de::DeserializeOwned;

use self::value::ValueSer;
use super::schema::{Registry, Shape, trace};
use super::types::{self, WireField, WireType};
use super::wire::{put_int, put_message};
use super::{GobError, Limits};

/// Writes gob values to one stream, sending each type's definition once, before the first
/// value that needs it (as Go's `gob.Encoder` does).
///
/// Each [`encode`](Encoder::encode) writes whole messages with one `write_all` and then
/// flushes; wrap a socket in a `BufWriter` to keep that to one write.
///
/// ```
/// use plugin_core::gob::Encoder;
/// let mut wire = Vec::new();
/// let mut enc = Encoder::new(&mut wire);
/// enc.encode(&7i64)?;
/// assert_eq!(wire, [0x03, 0x04, 0x00, 0x0e]); // length 3, type int, singleton, 7
/// # Ok::<(), plugin_core::gob::GobError>(())
/// ```
#[derive(Debug)]
pub struct Encoder<W> {
    out: W,
    limits: Limits,
    registry: Registry,
    types: TypeTable,
}

impl<W: Write> Encoder<W> {
    /// An encoder writing to `out`, with default [`Limits`].
    pub fn new(out: W) -> Self {
        Self::with_limits(out, Limits::default())
    }

    /// An encoder writing to `out`; messages longer than `limits.max_message` are refused.
    pub fn with_limits(out: W, limits: Limits) -> Self {
        Encoder {
            out,
            limits,
            registry: Registry::default(),
            types: TypeTable::default(),
        }
    }

    /// Writes `value` as one gob value, preceded by the definitions of types not yet sent.
    ///
    /// The type's shape comes from its `Deserialize` implementation (see the
    /// [module documentation](super)). On error nothing is written and the stream stays usable.
    pub fn encode<T: Serialize + DeserializeOwned>(&mut self, value: &T) -> Result<(), GobError> {
        let shape = trace::<T>(&mut self.registry)?;
        let mark = self.types.next;
        let result = self.encode_shaped(&shape, value);
        if result.is_err() {
            self.types.rollback(mark);
        }
        result
    }

    fn encode_shaped<T: Serialize + ?Sized>(
        &mut self,
        shape: &Shape,
        value: &T,
    ) -> Result<(), GobError> {
        let mut ctx = Ctx {
            registry: &self.registry,
            types: &mut self.types,
            defs: Vec::new(),
            omitted: false,
        };
        let id = ctx.type_id(shape)?;
        let mut msg = Vec::new();
        put_int(&mut msg, i64::from(id));
        if !matches!(shape.deref(), Shape::Struct(_) | Shape::Unit) {
            msg.push(0); // a non-struct value travels as a struct's single field 0
        }
        value.serialize(ValueSer {
            ctx: &mut ctx,
            shape,
            out: &mut msg,
            field: false,
        })?;
        if msg.len() > self.limits.max_message {
            return Err(GobError::TooLarge {
                len: msg.len() as u64,
                limit: self.limits.max_message,
            });
        }
        let mut all = ctx.defs;
        put_message(&mut all, &msg);
        self.out.write_all(&all).map_err(GobError::Io)?;
        self.out.flush().map_err(GobError::Io)
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The type ids this stream has defined, by shape.
#[derive(Debug)]
struct TypeTable {
    ids: HashMap<Shape, i32>,
    next: i32,
}

impl Default for TypeTable {
    fn default() -> Self {
        TypeTable {
            ids: HashMap::new(),
            next: types::FIRST_USER_ID + 1,
        }
    }
}

impl TypeTable {
    /// Forgets the ids assigned since `mark`: their definitions were never written.
    fn rollback(&mut self, mark: i32) {
        self.ids.retain(|_, id| *id < mark);
        self.next = mark;
    }
}

struct Ctx<'r> {
    registry: &'r Registry,
    types: &'r mut TypeTable,
    /// Definition messages to write before the value's message.
    defs: Vec<u8>,
    /// Set when a struct field's value was `None`.
    omitted: bool,
}

impl Ctx<'_> {
    /// The id of `shape`'s gob type, defining it (and what it refers to) if new.
    fn type_id(&mut self, shape: &Shape) -> Result<i32, GobError> {
        let shape = shape.deref();
        let builtin = match shape {
            Shape::Bool => types::BOOL,
            Shape::Int => types::INT,
            Shape::Uint | Shape::Byte => types::UINT,
            Shape::Float => types::FLOAT,
            Shape::Bytes => types::BYTES,
            Shape::String => types::STRING,
            Shape::Interface => types::INTERFACE,
            _ => 0,
        };
        if builtin != 0 {
            return Ok(builtin);
        }
        if let Some(id) = self.types.ids.get(shape) {
            return Ok(*id);
        }
        let id = self.types.next;
        self.types.next = id
            .checked_add(1)
            .ok_or_else(|| GobError::Unsupported("more than 2^31 types on one stream".into()))?;
        // Registered before its parts, so a recursive struct refers to itself.
        self.types.ids.insert(shape.clone(), id);
        let def = match shape {
            Shape::Slice(elem) => WireType::Slice {
                name: String::new(),
                elem: self.type_id(elem)?,
            },
            Shape::Array(elem, len) => WireType::Array {
                name: String::new(),
                elem: self.type_id(elem)?,
                len: *len,
            },
            Shape::Map(key, elem) => WireType::Map {
                name: String::new(),
                key: self.type_id(key)?,
                elem: self.type_id(elem)?,
            },
            Shape::Struct(index) => {
                let st = &self.registry.structs[*index];
                let mut fields = Vec::with_capacity(st.fields.len());
                for (name, shape) in &st.fields {
                    fields.push(WireField {
                        name: (*name).to_owned(),
                        id: self.type_id(shape)?,
                    });
                }
                WireType::Struct {
                    name: st.name.to_owned(),
                    fields: fields.into(),
                }
            }
            _ => WireType::Struct {
                name: "struct {}".into(),
                fields: Vec::new().into(),
            },
        };
        let mut msg = Vec::new();
        put_int(&mut msg, -i64::from(id));
        types::write_wire_type(&mut msg, id, &def);
        put_message(&mut self.defs, &msg);
        Ok(id)
    }
}
