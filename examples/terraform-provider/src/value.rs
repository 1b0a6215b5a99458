//! Terraform values on the wire: the msgpack encoding of `cty` values that `DynamicValue`
//! carries, for the flat objects of string and number attributes this provider uses.
//!
//! Terraform encodes an object as a msgpack map from attribute name to value, `null` as msgpack
//! nil, and a value not known until apply ("known after apply") as a msgpack extension (type 0,
//! or type 12 when it carries refinements). Decoding goes through `rmpv`.

use std::collections::BTreeMap;

use crate::proto::DynamicValue;

/// One attribute's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Not set.
    Null,
    /// Known only after apply.
    Unknown,
    /// A `string`.
    String(String),
    /// A `number` (this provider's numbers are whole).
    Number(i64),
}

impl Value {
    /// The string, when this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, when this is a known number.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// A string value, or null for `None`.
    pub fn opt_string(s: Option<String>) -> Value {
        s.map_or(Value::Null, Value::String)
    }
}

/// An object value: attribute name to value. A missing attribute reads as null (and equals
/// one set to null).
#[derive(Debug, Clone, Default)]
pub struct Object(BTreeMap<String, Value>);

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        let names = self.0.keys().chain(other.0.keys());
        names
            .into_iter()
            .all(|name| self.get(name) == other.get(name))
    }
}

impl Eq for Object {}

/// Why a `DynamicValue` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The msgpack bytes are malformed.
    #[error("the value is not valid msgpack")]
    Msgpack(#[source] rmpv::decode::Error),
    /// The JSON bytes are malformed.
    #[error("the value is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// Not an object (a map from attribute names).
    #[error("expected an object, got {0}")]
    NotAnObject(String),
    /// An attribute of a type this provider does not use.
    #[error("attribute {name:?} has an unsupported value {value}")]
    Unsupported {
        /// The attribute.
        name: String,
        /// Its value, as msgpack shows it.
        value: String,
    },
}

/// An unknown value as cty writes it: a fixext1 of extension type 0 holding one zero byte.
fn unknown() -> rmpv::Value {
    rmpv::Value::Ext(0, vec![0])
}

impl Object {
    /// An empty object (every attribute null).
    pub fn new() -> Self {
        Object::default()
    }

    /// Decodes a `DynamicValue`: `Ok(None)` for a null object (no prior state, a destroy).
    pub fn decode(value: Option<&DynamicValue>) -> Result<Option<Object>, ValueError> {
        let Some(value) = value else { return Ok(None) };
        if value.msgpack.is_empty() && !value.json.is_empty() {
            let json: serde_json::Value =
                serde_json::from_slice(&value.json).map_err(ValueError::Json)?;
            return Object::from_json(&json);
        }
        if value.msgpack.is_empty() {
            return Ok(None);
        }
        let decoded =
            rmpv::decode::read_value(&mut &value.msgpack[..]).map_err(ValueError::Msgpack)?;
        let map = match decoded {
            rmpv::Value::Nil => return Ok(None),
            rmpv::Value::Map(map) => map,
            other => return Err(ValueError::NotAnObject(other.to_string())),
        };
        let mut object = Object::new();
        for (name, value) in map {
            let Some(name) = name.as_str() else {
                return Err(ValueError::NotAnObject(name.to_string()));
            };
            let value = match attribute(&value) {
                Some(value) => value,
                None => {
                    return Err(ValueError::Unsupported {
                        name: name.to_owned(),
                        value: value.to_string(),
                    });
                }
            };
            object.0.insert(name.to_owned(), value);
        }
        Ok(Some(object))
    }

    /// Reads a JSON object, as stored in Terraform's state file (`UpgradeResourceState`).
    pub fn from_json(json: &serde_json::Value) -> Result<Option<Object>, ValueError> {
        let map = match json {
            serde_json::Value::Null => return Ok(None),
            serde_json::Value::Object(map) => map,
            other => return Err(ValueError::NotAnObject(other.to_string())),
        };
        let mut object = Object::new();
        for (name, value) in map {
            let value = match value {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::String(s) => Value::String(s.clone()),
                serde_json::Value::Number(n) if n.as_i64().is_some() => {
                    Value::Number(n.as_i64().unwrap_or_default())
                }
                other => {
                    return Err(ValueError::Unsupported {
                        name: name.clone(),
                        value: other.to_string(),
                    });
                }
            };
            object.0.insert(name.clone(), value);
        }
        Ok(Some(object))
    }

    /// The attribute `name` (null when absent).
    pub fn get(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or(&Value::Null)
    }

    /// Sets the attribute `name`.
    pub fn set(&mut self, name: &str, value: Value) -> &mut Self {
        self.0.insert(name.to_owned(), value);
        self
    }

    /// Encodes the object with exactly the attributes `names` (Terraform rejects an object
    /// missing one of its type's attributes or carrying another).
    pub fn encode(&self, names: &[&str]) -> DynamicValue {
        let map = names
            .iter()
            .map(|name| {
                let value = match self.get(name) {
                    Value::Null => rmpv::Value::Nil,
                    Value::Unknown => unknown(),
                    Value::String(s) => rmpv::Value::from(s.as_str()),
                    Value::Number(n) => rmpv::Value::from(*n),
                };
                (rmpv::Value::from(*name), value)
            })
            .collect();
        encode(&rmpv::Value::Map(map))
    }
}

/// The `DynamicValue` of a null object (a resource that no longer exists).
pub fn null() -> DynamicValue {
    encode(&rmpv::Value::Nil)
}

/// The `DynamicValue` of a plain string (a function's result).
pub fn string(s: &str) -> DynamicValue {
    encode(&rmpv::Value::from(s))
}

/// One attribute's msgpack value, or `None` for a kind this provider has no use for.
fn attribute(value: &rmpv::Value) -> Option<Value> {
    match *value {
        rmpv::Value::Nil => Some(Value::Null),
        rmpv::Value::Ext(0 | 12, _) => Some(Value::Unknown),
        rmpv::Value::String(ref s) => s.as_str().map(|s| Value::String(s.to_owned())),
        rmpv::Value::Integer(n) => n.as_i64().map(Value::Number),
        // cty writes whole numbers as integers, but a float is a number too.
        rmpv::Value::F64(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(Value::Number(f as i64)),
        _ => None,
    }
}

/// Decodes a plain string argument; `None` for anything else.
pub fn decode_string(value: &DynamicValue) -> Option<String> {
    match rmpv::decode::read_value(&mut &value.msgpack[..]) {
        Ok(rmpv::Value::String(s)) => s.into_str(),
        _ => None,
    }
}

fn encode(value: &rmpv::Value) -> DynamicValue {
    let mut msgpack = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut msgpack, value);
    DynamicValue {
        msgpack,
        json: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_round_trip_with_nulls_and_unknowns() {
        let mut object = Object::new();
        object
            .set("key", Value::String("k".into()))
            .set("version", Value::Unknown)
            .set("id", Value::Number(3));
        let wire = object.encode(&["id", "key", "sensitive_value", "version"]);
        let back = Object::decode(Some(&wire)).unwrap().unwrap();
        assert_eq!(back.get("key"), &Value::String("k".into()));
        assert_eq!(back.get("version"), &Value::Unknown);
        assert_eq!(back.get("id"), &Value::Number(3));
        assert_eq!(back.get("sensitive_value"), &Value::Null);
    }

    #[test]
    fn unknowns_are_written_as_cty_writes_them() {
        let mut object = Object::new();
        object.set("v", Value::Unknown);
        // fixmap of 1, fixstr "v", fixext1 type 0 with one zero byte.
        let wire = object.encode(&["v"]);
        assert_eq!(&wire.msgpack[..3], &[0x81, 0xa1, b'v']);
        assert_eq!(wire.msgpack[3], 0xd4);
        assert_eq!(wire.msgpack[4], 0);
    }

    #[test]
    fn refined_unknowns_and_whole_floats_are_read() {
        let raw = rmpv::Value::Map(vec![
            ("a".into(), rmpv::Value::Ext(12, vec![0x80])),
            ("b".into(), rmpv::Value::F64(2.0)),
        ]);
        let wire = encode(&raw);
        let back = Object::decode(Some(&wire)).unwrap().unwrap();
        assert_eq!(back.get("a"), &Value::Unknown);
        assert_eq!(back.get("b"), &Value::Number(2));
    }

    #[test]
    fn null_and_malformed_values_are_told_apart() {
        assert!(Object::decode(Some(&null())).unwrap().is_none());
        assert!(Object::decode(None).unwrap().is_none());
        let bad = DynamicValue {
            msgpack: vec![0x81, 0xa1],
            json: vec![],
        };
        assert!(Object::decode(Some(&bad)).is_err());
        assert!(matches!(
            Object::decode(Some(&string("x"))),
            Err(ValueError::NotAnObject(_))
        ));
    }
}
