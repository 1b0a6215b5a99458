//! Unit tests: each encoding, the rules for zero values and unknown fields, and hostile input.

use std::collections::{BTreeMap, HashMap};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use super::types::{self, WireField, WireType, write_wire_type};
use super::wire::{put_bytes, put_int, put_message, put_uint};
use super::{Decoder, Encoder, GobError, GobValue, Limits};

fn encode<T: Serialize + DeserializeOwned>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    Encoder::new(&mut out).encode(v).expect("encodes");
    out
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GobError> {
    Decoder::new(bytes).decode()
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
    let bytes = encode(&v);
    assert_eq!(decode::<T>(&bytes).expect("decodes"), v);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Point {
    x: i64,
    y: i64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Everything {
    b: bool,
    i: i8,
    u: u32,
    f: f32,
    c: char,
    s: String,
    bytes: Vec<u8>,
    list: Vec<Point>,
    arr: [u16; 2],
    map: BTreeMap<String, Vec<i64>>,
    opt: Option<Box<Point>>,
    unit: (),
    any: GobValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tree {
    name: String,
    kids: Vec<Tree>,
    next: Option<Box<Tree>>,
}

#[test]
fn point_is_encoded_as_the_gob_documentation_shows() {
    let spec = [
        0x1f, 0xff, 0x81, 0x03, 0x01, 0x01, 0x05, 0x50, 0x6f, 0x69, 0x6e, 0x74, 0x01, 0xff, 0x82,
        0x00, 0x01, 0x02, 0x01, 0x01, 0x58, 0x01, 0x04, 0x00, 0x01, 0x01, 0x59, 0x01, 0x04, 0x00,
        0x00, 0x00, 0x07, 0xff, 0x82, 0x01, 0x2c, 0x01, 0x42, 0x00,
    ];
    assert_eq!(encode(&Point { x: 22, y: 33 }), spec);
    assert_eq!(decode::<Point>(&spec).unwrap(), Point { x: 22, y: 33 });
}

#[test]
fn type_definitions_are_sent_once_per_stream() {
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out);
    enc.encode(&Point { x: 22, y: 33 }).unwrap();
    let first = enc.get_mut().len();
    enc.encode(&Point { x: 22, y: 33 }).unwrap();
    assert_eq!(
        out.len() - first,
        8,
        "the second value is its message alone"
    );
    let mut dec = Decoder::new(&out[..]);
    assert_eq!(dec.decode::<Point>().unwrap(), Point { x: 22, y: 33 });
    assert_eq!(dec.decode::<Point>().unwrap(), Point { x: 22, y: 33 });
    assert!(matches!(dec.decode::<Point>(), Err(GobError::EndOfStream)));
}

#[test]
fn every_supported_type_round_trips() {
    round_trip(true);
    round_trip(-5i8);
    round_trip(i64::MIN);
    round_trip(u64::MAX);
    round_trip(200u8);
    round_trip(1.5f32);
    round_trip(f64::NEG_INFINITY);
    round_trip('✓');
    round_trip("text".to_string());
    round_trip(vec![1u8, 2, 3]);
    round_trip(crate::ByteBuf::from(vec![9u8; 300]));
    round_trip(vec!["a".to_string(), String::new()]);
    round_trip(vec![vec![1i32], vec![], vec![2, 3]]);
    round_trip([1u64, 2, 3]);
    round_trip((1i32, 2i32));
    round_trip(HashMap::from([(1i32, "one".to_string())]));
    round_trip(Some(3i16));
    round_trip(());
    round_trip(Point { x: 0, y: 0 });
    round_trip(Everything::default());
    round_trip(Everything {
        b: true,
        i: -1,
        u: 7,
        f: 0.5,
        c: 'x',
        s: "s".into(),
        bytes: vec![0, 255],
        list: vec![Point { x: 1, y: -1 }, Point { x: 0, y: 0 }],
        arr: [0, 9],
        map: BTreeMap::from([("k".to_string(), vec![-1]), ("e".to_string(), vec![])]),
        opt: Some(Box::new(Point { x: 5, y: 0 })),
        unit: (),
        any: GobValue::Ints(vec![1, 2]),
    });
    round_trip(Tree {
        name: "root".into(),
        kids: vec![Tree {
            name: "kid".into(),
            kids: vec![],
            next: None,
        }],
        next: Some(Box::new(Tree {
            name: "next".into(),
            kids: vec![],
            next: None,
        })),
    });
    for v in [
        GobValue::Nil,
        GobValue::Uint8(7),
        GobValue::Float32(1.25),
        GobValue::Strings(vec!["a".into()]),
    ] {
        round_trip(BTreeMap::from([("v".to_string(), v)]));
    }
}

#[test]
fn zero_fields_are_omitted_and_come_back_as_zero_values() {
    let zero = encode(&Everything::default());
    let set = encode(&Everything {
        s: "s".into(),
        ..Everything::default()
    });
    assert_eq!(
        set.len(),
        zero.len() + 3,
        "one more field: delta, length, byte"
    );
    // A struct with only zero fields is its end mark: the value message is id + 0.
    let mut enc_out = Vec::new();
    let mut enc = Encoder::new(&mut enc_out);
    enc.encode(&Point { x: 1, y: 1 }).unwrap();
    let before = enc.get_mut().len();
    enc.encode(&Point { x: 0, y: 0 }).unwrap();
    assert_eq!(&enc_out[before..], [0x03, 0xff, 0x82, 0x00]);
}

#[test]
fn missing_and_unknown_fields_follow_gobs_rules() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Wide {
        x: i64,
        extra: String,
        y: i64,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Narrow {
        y: i64,
        x: i64,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct WithNew {
        x: i64,
        added: i64,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct WithDefault {
        x: i64,
        #[serde(default)]
        added: i64,
        maybe: Option<String>,
    }
    // Unknown fields are skipped, order does not matter.
    let wide = encode(&Wide {
        x: 1,
        extra: "skip me".into(),
        y: 2,
    });
    assert_eq!(decode::<Narrow>(&wide).unwrap(), Narrow { y: 2, x: 1 });
    // A field the peer's type has but omitted (zero) is a zero value, not missing.
    let zero_y = encode(&Wide {
        x: 1,
        extra: String::new(),
        y: 0,
    });
    assert_eq!(decode::<Narrow>(&zero_y).unwrap(), Narrow { y: 0, x: 1 });
    // A field the peer's type lacks needs #[serde(default)] or Option.
    let point = encode(&Point { x: 1, y: 2 });
    let err = decode::<WithNew>(&point).unwrap_err();
    assert!(err.to_string().contains("missing field `Added`"), "{err}");
    assert_eq!(
        decode::<WithDefault>(&point).unwrap(),
        WithDefault {
            x: 1,
            added: 0,
            maybe: None
        }
    );
}

#[test]
fn wrong_kinds_and_ranges_are_errors_naming_both_sides() {
    let err = decode::<i32>(&encode(&"s".to_string())).unwrap_err();
    assert!(
        matches!(&err, GobError::Mismatch { wire, rust: "i32" } if wire == "string"),
        "{err}"
    );
    let err = decode::<i8>(&encode(&300i64)).unwrap_err();
    assert!(
        matches!(err, GobError::OutOfRange { rust: "i8", .. }),
        "{err}"
    );
    let err = decode::<u64>(&encode(&-1i64)).unwrap_err();
    assert!(matches!(err, GobError::Mismatch { .. }), "{err}");
    let err = decode::<f32>(&encode(&1e300f64)).unwrap_err();
    assert!(
        matches!(err, GobError::OutOfRange { rust: "f32", .. }),
        "{err}"
    );
    // `()` accepts anything, as net/rpc placeholders need.
    decode::<()>(&encode(&Point { x: 1, y: 2 })).unwrap();
    let err = decode::<BTreeMap<String, GobValue>>(&encode(&BTreeMap::from([(
        "k".to_string(),
        Point { x: 1, y: 2 },
    )])))
    .unwrap_err();
    assert!(matches!(err, GobError::Mismatch { .. }), "{err}");
}

#[test]
fn unsupported_rust_types_are_refused_before_writing() {
    #[derive(Serialize, Deserialize)]
    enum E {
        A,
    }
    #[derive(Serialize, Deserialize)]
    struct Tuple(i32, i32);
    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Untagged {
        I(i32),
    }
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out);
    assert!(matches!(enc.encode(&E::A), Err(GobError::Unsupported(_))));
    assert!(matches!(
        enc.encode(&Tuple(1, 2)),
        Err(GobError::Unsupported(_))
    ));
    assert!(matches!(
        enc.encode(&Untagged::I(1)),
        Err(GobError::Unsupported(_))
    ));
    assert!(matches!(
        enc.encode(&(1i32, "x".to_string())),
        Err(GobError::Unsupported(_))
    ));
    assert!(matches!(enc.encode(&1i128), Err(GobError::Unsupported(_))));
    assert!(matches!(
        enc.encode(&None::<i32>),
        Err(GobError::NilPointer)
    ));
    assert!(matches!(
        enc.encode(&vec![Some(1i32), None]),
        Err(GobError::NilPointer)
    ));
    assert!(enc.get_mut().is_empty(), "nothing written");
    // A failure after a type was assigned an id leaves the stream consistent.
    assert!(matches!(
        enc.encode(&vec![vec![Some(1i32), None]]),
        Err(GobError::NilPointer)
    ));
    enc.encode(&vec![vec![Some(1i32)]]).unwrap();
    assert_eq!(decode::<Vec<Vec<i32>>>(&out).unwrap(), vec![vec![1]]);
}

#[test]
fn serialize_and_deserialize_must_agree() {
    #[derive(Serialize, Deserialize)]
    struct Skips {
        #[serde(skip_deserializing)]
        a: i32,
        b: i32,
    }
    let err = Encoder::new(Vec::new())
        .encode(&Skips { a: 1, b: 2 })
        .unwrap_err();
    assert!(matches!(err, GobError::ShapeMismatch { .. }), "{err}");
}

/// A message holding the definition of type `id`.
fn def(id: i32, ty: &WireType) -> Vec<u8> {
    let mut msg = Vec::new();
    put_int(&mut msg, -i64::from(id));
    write_wire_type(&mut msg, id, ty);
    let mut out = Vec::new();
    put_message(&mut out, &msg);
    out
}

fn message(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_message(&mut out, body);
    out
}

fn strukt(fields: &[(&str, i32)]) -> WireType {
    WireType::Struct {
        name: "T".into(),
        fields: fields
            .iter()
            .map(|(n, id)| WireField {
                name: (*n).into(),
                id: *id,
            })
            .collect::<Vec<_>>()
            .into(),
    }
}

#[test]
fn truncated_input_is_an_error_at_every_length() {
    let full = encode(&Everything {
        s: "s".into(),
        list: vec![Point { x: 1, y: 2 }],
        map: BTreeMap::from([("k".to_string(), vec![1])]),
        any: GobValue::Strings(vec!["x".into()]),
        ..Everything::default()
    });
    decode::<Everything>(&full).unwrap();
    for len in 0..full.len() {
        let err = decode::<Everything>(&full[..len]).unwrap_err();
        if len == 0 {
            assert!(matches!(err, GobError::EndOfStream));
        } else {
            assert!(matches!(err, GobError::Truncated { .. }), "at {len}: {err}");
        }
    }
}

#[test]
fn corrupted_input_never_panics() {
    let full = encode(&Everything {
        s: "s".into(),
        list: vec![Point { x: 1, y: 2 }],
        map: BTreeMap::from([("k".to_string(), vec![1])]),
        opt: Some(Box::new(Point { x: 3, y: 4 })),
        any: GobValue::Bytes(vec![1].into()),
        ..Everything::default()
    });
    for i in 0..full.len() {
        for b in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xf8, 0xfe, 0xff] {
            let mut bad = full.clone();
            bad[i] = b;
            let _ = decode::<Everything>(&bad);
            let _ = decode::<IgnoredAny>(&bad);
            let _ = decode::<BTreeMap<String, GobValue>>(&bad);
        }
    }
}

#[test]
fn huge_lengths_are_refused_without_allocating() {
    // A string claiming 2^40 bytes in a small message.
    let mut body = vec![];
    put_int(&mut body, i64::from(types::STRING));
    body.push(0);
    put_uint(&mut body, 1 << 40);
    let err = decode::<String>(&message(&body)).unwrap_err();
    assert!(
        matches!(err, GobError::CountTooLarge { count, .. } if count == 1 << 40),
        "{err}"
    );
    // A message longer than the limit.
    let limits = Limits {
        max_message: 16,
        ..Limits::default()
    };
    let long = encode(&"x".repeat(100));
    let err = Decoder::with_limits(&long[..], limits)
        .decode::<String>()
        .unwrap_err();
    assert!(matches!(err, GobError::TooLarge { limit: 16, .. }), "{err}");
    assert!(matches!(
        Encoder::with_limits(Vec::new(), limits).encode(&"x".repeat(100)),
        Err(GobError::TooLarge { .. })
    ));
    // An array type of 2^40 zero elements, omitted from a struct: no 2^40 loop.
    let mut stream = def(
        65,
        &WireType::Array {
            name: String::new(),
            elem: types::INT,
            len: 1 << 40,
        },
    );
    stream.extend(def(66, &strukt(&[("A", 65)])));
    let mut body = vec![];
    put_int(&mut body, 66);
    body.push(0);
    stream.extend(message(&body));
    let err = decode::<serde_json::Value>(&stream).unwrap_err();
    assert!(matches!(err, GobError::Malformed(_)), "{err}");
}

#[test]
fn deep_nesting_is_refused() {
    // [][][]...int, 200 deep, with a value nested as deep.
    let mut stream = Vec::new();
    let mut elem = types::INT;
    for id in 65..265 {
        stream.extend(def(
            id,
            &WireType::Slice {
                name: String::new(),
                elem,
            },
        ));
        elem = id;
    }
    let mut body = vec![];
    put_int(&mut body, i64::from(elem));
    body.push(0);
    body.extend(std::iter::repeat_n(1u8, 200));
    body.push(0);
    stream.extend(message(&body));
    assert!(matches!(
        decode::<serde_json::Value>(&stream),
        Err(GobError::TooDeep { limit: 100 })
    ));
    assert!(matches!(
        decode::<IgnoredAny>(&stream),
        Err(GobError::TooDeep { limit: 100 })
    ));
}

#[test]
fn recursive_types_are_bounded() {
    // type T struct { X T }: legal as a definition, but a value nests without end.
    let mut stream = def(65, &strukt(&[("X", 65)]));
    let mut body = vec![];
    put_int(&mut body, 65);
    body.extend(std::iter::repeat_n(1u8, 500)); // field X, X, X, ...
    body.extend(std::iter::repeat_n(0u8, 501));
    stream.extend(message(&body));
    assert!(matches!(
        decode::<serde_json::Value>(&stream),
        Err(GobError::TooDeep { .. })
    ));
    assert!(matches!(
        decode::<IgnoredAny>(&stream),
        Err(GobError::TooDeep { .. })
    ));
    // An omitted X is a zero T, whose X is a zero T...: also bounded.
    let mut stream = def(65, &strukt(&[("X", 65)]));
    let mut body = vec![];
    put_int(&mut body, 65);
    body.push(0);
    stream.extend(message(&body));
    assert!(matches!(
        decode::<serde_json::Value>(&stream),
        Err(GobError::TooDeep { .. })
    ));
}

#[test]
fn bad_type_ids_are_refused() {
    let value = |id: i64| {
        let mut body = vec![];
        put_int(&mut body, id);
        body.push(0);
        body.push(0);
        message(&body)
    };
    assert!(matches!(
        decode::<IgnoredAny>(&value(99)),
        Err(GobError::BadTypeId(_))
    ));
    assert!(matches!(
        decode::<IgnoredAny>(&value(1 << 40)),
        Err(GobError::BadTypeId(_))
    ));
    assert!(matches!(
        decode::<serde_json::Value>(&value(7)),
        Err(GobError::Unsupported(_))
    ));
    let slice = WireType::Slice {
        name: String::new(),
        elem: types::INT,
    };
    let reserved = [def(5, &slice), value(5)].concat();
    assert!(matches!(
        decode::<IgnoredAny>(&reserved),
        Err(GobError::BadTypeId(_))
    ));
    let twice = [def(70, &slice), def(70, &slice), value(70)].concat();
    assert!(matches!(
        decode::<IgnoredAny>(&twice),
        Err(GobError::BadTypeId(_))
    ));
    let mut huge = vec![];
    put_int(&mut huge, -(1 << 40));
    assert!(matches!(
        decode::<IgnoredAny>(&message(&huge)),
        Err(GobError::BadTypeId(_))
    ));
    // Definitions that refer to undefined ids fail when used.
    let dangling = [
        def(
            70,
            &WireType::Slice {
                name: String::new(),
                elem: 80,
            },
        ),
        {
            let mut body = vec![];
            put_int(&mut body, 70);
            body.extend([0, 1, 0]);
            message(&body)
        },
    ]
    .concat();
    assert!(matches!(
        decode::<IgnoredAny>(&dangling),
        Err(GobError::BadTypeId(_))
    ));
    // Definitions without their value.
    assert!(matches!(
        decode::<IgnoredAny>(&def(70, &slice)),
        Err(GobError::Truncated { .. })
    ));
    // More definitions than allowed.
    let limits = Limits {
        max_types: 3,
        ..Limits::default()
    };
    let many: Vec<u8> = (65..70).flat_map(|id| def(id, &slice)).collect();
    let err = Decoder::with_limits(&many[..], limits)
        .decode::<IgnoredAny>()
        .unwrap_err();
    assert!(matches!(err, GobError::TooManyTypes { limit: 3 }), "{err}");
}

#[test]
fn malformed_values_are_refused() {
    // A bool of 2; a singleton whose delta is not 0; trailing bytes; a bad field number.
    let with = |id: i32, rest: &[u8]| {
        let mut body = vec![];
        put_int(&mut body, i64::from(id));
        body.extend_from_slice(rest);
        message(&body)
    };
    assert!(matches!(
        decode::<bool>(&with(types::BOOL, &[0, 2])),
        Err(GobError::Malformed(_))
    ));
    assert!(matches!(
        decode::<bool>(&with(types::BOOL, &[1, 1])),
        Err(GobError::Malformed(_))
    ));
    assert!(matches!(
        decode::<bool>(&with(types::BOOL, &[0, 1, 9])),
        Err(GobError::Malformed(_))
    ));
    let point = def(65, &strukt(&[("X", types::INT)]));
    let bad_field = [point, with(65, &[2, 1, 0])].concat();
    assert!(matches!(
        decode::<IgnoredAny>(&bad_field),
        Err(GobError::Malformed(_))
    ));
    let mut bad_utf8 = vec![0];
    put_bytes(&mut bad_utf8, &[0xff, 0xfe]);
    assert!(matches!(
        decode::<String>(&with(types::STRING, &bad_utf8)),
        Err(GobError::Malformed(_))
    ));
    // An interface value whose length is wrong, and one of an unknown Go type.
    let map = def(
        65,
        &WireType::Map {
            name: String::new(),
            key: types::STRING,
            elem: types::INTERFACE,
        },
    );
    let iface = |name: &str, len: u8| {
        let mut v = vec![0, 1];
        put_bytes(&mut v, b"k");
        put_bytes(&mut v, name.as_bytes());
        put_int(&mut v, i64::from(types::INT));
        v.extend([len, 0, 2]);
        [map.clone(), with(65, &v)].concat()
    };
    decode::<BTreeMap<String, GobValue>>(&iface("int", 2)).unwrap();
    assert!(matches!(
        decode::<BTreeMap<String, GobValue>>(&iface("int", 1)),
        Err(GobError::CountTooLarge { .. } | GobError::Malformed(_))
    ));
    let err = decode::<BTreeMap<String, GobValue>>(&iface("main.Thing", 2)).unwrap_err();
    assert!(err.to_string().contains("main.Thing"), "{err}");
    // Anything can still skip it.
    decode::<IgnoredAny>(&iface("main.Thing", 2)).unwrap();
}

#[test]
fn netrpc_headers_and_bodies_share_one_stream_per_direction() {
    use super::netrpc::{ClientCodec, RequestHeader, ResponseHeader, ServerCodec};
    let mut requests = Vec::new();
    let mut client = ClientCodec::new(&[][..], &mut requests);
    for (seq, key) in [(0u64, "a"), (1, "b"), (2, "c")] {
        let header = RequestHeader {
            service_method: "Plugin.Get".into(),
            seq,
        };
        client.write_request(&header, &key.to_string()).unwrap();
    }
    let mut responses = Vec::new();
    let mut server = ServerCodec::new(&requests[..], &mut responses);
    for (seq, key) in [(0u64, "a"), (1, "b"), (2, "c")] {
        let header = server.read_request_header().unwrap();
        assert_eq!(
            (header.seq, header.service_method.as_str()),
            (seq, "Plugin.Get")
        );
        if seq == 1 {
            server.skip_request_body().unwrap();
            server.write_error(&header, "no such key").unwrap();
        } else {
            assert_eq!(server.read_request_body::<String>().unwrap(), key);
            server
                .write_response(&ResponseHeader::ok(&header), &key.as_bytes().to_vec())
                .unwrap();
        }
    }
    assert!(matches!(
        server.read_request_header(),
        Err(GobError::EndOfStream)
    ));
    let mut client = ClientCodec::new(&responses[..], Vec::new());
    for (seq, key) in [(0u64, "a"), (1, "b"), (2, "c")] {
        let header = client.read_response_header().unwrap();
        assert_eq!(header.seq, seq);
        if seq == 1 {
            assert_eq!(header.error, "no such key");
            client.skip_response_body().unwrap();
        } else {
            assert_eq!(header.error, "");
            assert_eq!(
                client.read_response_body::<Vec<u8>>().unwrap(),
                key.as_bytes()
            );
        }
    }
    assert!(matches!(
        client.read_response_header(),
        Err(GobError::EndOfStream)
    ));
}

#[test]
fn gob_values_are_plain_values_in_other_formats() {
    let v = vec![
        GobValue::String("s".into()),
        GobValue::Int16(-2),
        GobValue::Nil,
    ];
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(json, r#"["s",-2,null]"#);
    let back: Vec<GobValue> = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back,
        vec![
            GobValue::String("s".into()),
            GobValue::Int(-2),
            GobValue::Nil
        ]
    );
}
