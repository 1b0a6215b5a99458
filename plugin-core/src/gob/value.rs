//! `interface{}` values: [`GobValue`], for gob's pre-registered basic types.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema::Shape;

/// The newtype-struct name prefix by which [`GobValue`] tells the gob encoder and decoder
/// that it is an interface value; the Go type name follows it.
pub(crate) const INTERFACE_PREFIX: &str = "\u{0}gob-interface:";

macro_rules! gob_values {
    ($($variant:ident($ty:ty) = $go:literal, $doc:literal;)*) => {
        /// A Go `interface{}` value holding one of the types gob registers by itself.
        ///
        /// Go sends an interface value with the name of its concrete type; each variant is one
        /// such type, so values round-trip with their Go type (`int16` stays `int16`). Go's
        /// complex types have no variant. Other formats see the plain inner value.
        ///
        /// go-plugin's net/rpc KV example sends `map[string]interface{}`:
        ///
        /// ```
        /// use std::collections::BTreeMap;
        /// use plugin_core::gob::{Decoder, Encoder, GobValue};
        ///
        /// let mut args = BTreeMap::new();
        /// args.insert("key".to_string(), GobValue::String("hello".into()));
        /// args.insert("value".to_string(), GobValue::Bytes(b"world".to_vec().into()));
        /// let mut wire = Vec::new();
        /// Encoder::new(&mut wire).encode(&args)?;
        /// let back: BTreeMap<String, GobValue> = Decoder::new(&wire[..]).decode()?;
        /// assert_eq!(back, args);
        /// assert_eq!(back["value"].go_type(), "[]uint8");
        /// # Ok::<(), plugin_core::gob::GobError>(())
        /// ```
        #[derive(Debug, Clone, PartialEq, Default)]
        #[non_exhaustive]
        pub enum GobValue {
            /// A nil interface.
            #[default]
            Nil,
            $(
                #[doc = $doc]
                $variant($ty),
            )*
        }

        impl GobValue {
            /// The Go type name gob sends for this value (`""` for nil).
            pub fn go_type(&self) -> &'static str {
                match self {
                    GobValue::Nil => "",
                    $(GobValue::$variant(_) => $go,)*
                }
            }
        }

        impl Serialize for GobValue {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    GobValue::Nil => serializer.serialize_newtype_struct(INTERFACE_PREFIX, &()),
                    $(GobValue::$variant(v) => serializer.serialize_newtype_struct(
                        concat!("\u{0}gob-interface:", $go),
                        v,
                    ),)*
                }
            }
        }

        fn from_entry<'de, A: MapAccess<'de>>(name: &str, map: &mut A) -> Result<GobValue, A::Error> {
            match name {
                $($go => Ok(GobValue::$variant(map.next_value()?)),)*
                other => Err(de::Error::custom(format_args!(
                    "the interface value has Go type {other:?}, which GobValue does not hold \
                     (it holds gob's pre-registered basic types)"
                ))),
            }
        }
    };
}

gob_values! {
    Bool(bool) = "bool", "`bool`";
    Int(i64) = "int", "`int`";
    Int8(i8) = "int8", "`int8`";
    Int16(i16) = "int16", "`int16`";
    Int32(i32) = "int32", "`int32`";
    Int64(i64) = "int64", "`int64`";
    Uint(u64) = "uint", "`uint`";
    Uint8(u8) = "uint8", "`uint8`";
    Uint16(u16) = "uint16", "`uint16`";
    Uint32(u32) = "uint32", "`uint32`";
    Uint64(u64) = "uint64", "`uint64`";
    Uintptr(u64) = "uintptr", "`uintptr`";
    Float32(f32) = "float32", "`float32`";
    Float64(f64) = "float64", "`float64`";
    String(String) = "string", "`string`";
    Bytes(crate::ByteBuf) = "[]uint8", "`[]byte` (Go names it `[]uint8`)";
    Ints(Vec<i64>) = "[]int", "`[]int`";
    Int8s(Vec<i8>) = "[]int8", "`[]int8`";
    Int16s(Vec<i16>) = "[]int16", "`[]int16`";
    Int32s(Vec<i32>) = "[]int32", "`[]int32`";
    Int64s(Vec<i64>) = "[]int64", "`[]int64`";
    Uints(Vec<u64>) = "[]uint", "`[]uint`";
    Uint16s(Vec<u16>) = "[]uint16", "`[]uint16`";
    Uint32s(Vec<u32>) = "[]uint32", "`[]uint32`";
    Uint64s(Vec<u64>) = "[]uint64", "`[]uint64`";
    Uintptrs(Vec<u64>) = "[]uintptr", "`[]uintptr`";
    Float32s(Vec<f32>) = "[]float32", "`[]float32`";
    Float64s(Vec<f64>) = "[]float64", "`[]float64`";
    Bools(Vec<bool>) = "[]bool", "`[]bool`";
    Strings(Vec<String>) = "[]string", "`[]string`";
}

/// The gob shape of a pre-registered Go type name, if it is one GobValue can send.
pub(crate) fn shape_of_go_type(name: &str) -> Option<Shape> {
    let scalar = |n: &str| match n {
        "bool" => Some(Shape::Bool),
        "int" | "int8" | "int16" | "int32" | "int64" => Some(Shape::Int),
        "uint" | "uint16" | "uint32" | "uint64" | "uintptr" => Some(Shape::Uint),
        "uint8" => Some(Shape::Byte),
        "float32" | "float64" => Some(Shape::Float),
        "string" => Some(Shape::String),
        _ => None,
    };
    match name.strip_prefix("[]") {
        Some("uint8") => Some(Shape::Bytes),
        Some(elem) => scalar(elem).map(|s| Shape::Slice(Box::new(s))),
        None => scalar(name),
    }
}

impl<'de> Deserialize<'de> for GobValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(INTERFACE_PREFIX, ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = GobValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Go interface{} value")
    }

    /// gob: a nil interface.
    fn visit_unit<E: de::Error>(self) -> Result<GobValue, E> {
        Ok(GobValue::Nil)
    }

    /// gob: one entry, the concrete type's name and its value.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GobValue, A::Error> {
        let Some(name) = map.next_key::<String>()? else {
            return Ok(GobValue::Nil);
        };
        from_entry(&name, &mut map)
    }

    /// Other formats: infer the variant from the value.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<GobValue, D::Error> {
        d.deserialize_any(Inferred)
    }
}

/// Picks a variant for a value from a self-describing format.
struct Inferred;

impl<'de> Visitor<'de> for Inferred {
    type Value = GobValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a basic value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<GobValue, E> {
        Ok(GobValue::Nil)
    }

    fn visit_none<E: de::Error>(self) -> Result<GobValue, E> {
        Ok(GobValue::Nil)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<GobValue, E> {
        Ok(GobValue::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<GobValue, E> {
        Ok(GobValue::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<GobValue, E> {
        Ok(GobValue::Uint(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<GobValue, E> {
        Ok(GobValue::Float64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<GobValue, E> {
        Ok(GobValue::String(v.to_owned()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<GobValue, E> {
        Ok(GobValue::Bytes(v.into()))
    }
}
