//! gob and net/rpc against Go's own encoding/gob and net/rpc (tests/go/cmd/gob-peer): every
//! case is written by Go and read by Rust, then written by Rust and read by Go.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::io::{BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use plugin_core::ByteBuf;
use plugin_core::gob::netrpc::{ClientCodec, RequestHeader, ResponseHeader, ServerCodec};
use plugin_core::gob::{Decoder, Encoder, GobError, GobValue};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::common::require_go;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inner {
    a: i64,
    b: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Outer {
    name: String,
    count: i64,
    ratio: f64,
    flag: bool,
    data: Vec<u8>,
    #[serde(rename = "In")]
    inner: Inner,
    list: Vec<Inner>,
    tags: HashMap<String, i32>,
    ptr: Option<Box<Inner>>,
    nil: Option<Inner>,
    zero: i32,
    words: Vec<String>,
    fixed: [i32; 3],
    small: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    val: i64,
    next: Option<Box<Node>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Specials {
    pos_inf: f64,
    neg_inf: f64,
    #[serde(rename = "NaN")]
    nan: f64,
    neg_zero: f64,
    tiny: f64,
    f32_inf: f32,
    f32_max: f32,
    #[serde(rename = "F32NaN")]
    f32_nan: f32,
}

fn inner(a: i64, b: &str) -> Inner {
    Inner { a, b: b.into() }
}

/// A Go peer process, killed and reaped if the test ends early.
struct Peer(Child);

impl Peer {
    fn spawn(dir: &Path, args: &[&str]) -> Peer {
        let child = Command::new(dir.join("gob-peer"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gob-peer starts");
        Peer(child)
    }

    fn pipes(&mut self) -> (BufReader<ChildStdout>, ChildStdin) {
        let out = self.0.stdout.take().expect("stdout piped");
        let input = self.0.stdin.take().expect("stdin piped");
        (BufReader::new(out), input)
    }

    /// Waits for a successful exit; returns its stderr.
    fn finish(mut self, what: &str) -> String {
        let child = std::mem::replace(
            &mut self.0,
            Command::new("true").spawn().expect("true runs"),
        );
        let out = child.wait_with_output().expect("gob-peer exits");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "{what}: gob-peer failed ({}): {stderr}",
            out.status
        );
        stderr
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Go writes `case` twice and Rust reads both; Rust writes `want` twice and Go reads both.
fn both_ways<T>(dir: &Path, case: &str, want: &T, same: impl Fn(&T, &T) -> bool)
where
    T: Serialize + DeserializeOwned + Debug,
{
    let out = Command::new(dir.join("gob-peer"))
        .args(["write", case])
        .output()
        .expect("gob-peer runs");
    assert!(
        out.status.success(),
        "gob-peer write {case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut dec = Decoder::new(&out.stdout[..]);
    for i in 0..2 {
        let got: T = dec
            .decode()
            .unwrap_or_else(|e| panic!("decoding Go's {case} #{i}: {e}"));
        assert!(
            same(&got, want),
            "Go's {case} #{i}: got {got:?}, want {want:?}"
        );
    }
    assert!(
        matches!(dec.decode::<T>(), Err(GobError::EndOfStream)),
        "{case}: two values only"
    );

    let mut wire = Vec::new();
    let mut enc = Encoder::new(&mut wire);
    enc.encode(want)
        .unwrap_or_else(|e| panic!("encoding {case}: {e}"));
    enc.encode(want)
        .unwrap_or_else(|e| panic!("encoding {case} again: {e}"));
    let mut peer = Peer::spawn(dir, &["read", case]);
    let mut stdin = peer.0.stdin.take().expect("stdin piped");
    stdin.write_all(&wire).expect("gob-peer reads its stdin");
    drop(stdin);
    peer.finish(&format!("Go reading Rust's {case}"));
}

fn eq<T: PartialEq>(a: &T, b: &T) -> bool {
    a == b
}

fn outer() -> Outer {
    Outer {
        name: "outer".into(),
        count: -5,
        ratio: 0.25,
        flag: true,
        data: b"data".to_vec(),
        inner: inner(7, "in"),
        list: vec![inner(1, "one"), inner(0, ""), inner(-3, "")],
        tags: HashMap::from([("t".to_string(), 1)]),
        ptr: Some(Box::new(inner(9, "ptr"))),
        nil: None,
        zero: 0,
        words: vec!["w".into()],
        fixed: [4, 5, 6],
        small: 255,
    }
}

/// Every case gob-peer knows, so a case added on one side only fails here.
const CASES: &[&str] = &[
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "int",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
    "specials",
    "string",
    "bytes",
    "ints",
    "strings",
    "array",
    "bytearray",
    "map",
    "nested_map",
    "outer",
    "zeros",
    "node",
    "iface",
    "empty_struct",
    "iface_all",
];

#[test]
fn gob_peer_and_this_test_know_the_same_cases() {
    let dir = require_go!();
    let out = Command::new(dir.join("gob-peer"))
        .arg("cases")
        .output()
        .expect("gob-peer runs");
    let mut go: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    go.sort();
    let mut ours: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    ours.sort();
    assert_eq!(go, ours);
}

#[test]
fn gob_basic_types_round_trip_with_go() {
    let dir = require_go!();
    both_ways(dir, "bool", &true, eq);
    both_ways(dir, "int8", &-128i8, eq);
    both_ways(dir, "int16", &-300i16, eq);
    both_ways(dir, "int32", &-70000i32, eq);
    both_ways(dir, "int64", &i64::MIN, eq);
    both_ways(dir, "int", &-1i64, eq);
    both_ways(dir, "uint8", &200u8, eq);
    both_ways(dir, "uint16", &65535u16, eq);
    both_ways(dir, "uint32", &4_000_000_000u32, eq);
    both_ways(dir, "uint64", &u64::MAX, eq);
    both_ways(dir, "float32", &1.5f32, eq);
    both_ways(dir, "float64", &-17.25f64, eq);
    both_ways(dir, "string", &"héllo, gob ✓".to_string(), eq);
    both_ways(dir, "bytes", &ByteBuf::from(vec![0, 1, 2, 255]), eq);
    both_ways(dir, "empty_struct", &(), eq);
}

#[test]
fn gob_special_floats_round_trip_with_go() {
    let dir = require_go!();
    let want = Specials {
        pos_inf: f64::INFINITY,
        neg_inf: f64::NEG_INFINITY,
        nan: f64::NAN,
        neg_zero: -0.0,
        tiny: 5e-324,
        f32_inf: f32::INFINITY,
        f32_max: f32::MAX,
        f32_nan: f32::NAN,
    };
    both_ways(dir, "specials", &want, |a, b| {
        a.pos_inf == b.pos_inf
            && a.neg_inf == b.neg_inf
            && a.nan.is_nan()
            && a.neg_zero == 0.0 // Go omits -0 as a zero field: it arrives as +0
            && a.tiny == b.tiny
            && a.f32_inf == b.f32_inf
            && a.f32_max == b.f32_max
            && a.f32_nan.is_nan()
    });
}

#[test]
fn gob_slices_arrays_and_maps_round_trip_with_go() {
    let dir = require_go!();
    both_ways(dir, "ints", &vec![1i64, -2, 3], eq);
    both_ways(
        dir,
        "strings",
        &vec!["a".to_string(), String::new(), "c".into()],
        eq,
    );
    both_ways(dir, "array", &[1i32, -2, 3], eq);
    both_ways(dir, "bytearray", &[1u8, 2, 3, 250], eq);
    let map = HashMap::from([("a".to_string(), 1i64), ("b".to_string(), -2)]);
    both_ways(dir, "map", &map, eq);
    let nested = BTreeMap::from([
        ("x".to_string(), vec![inner(1, "a"), inner(2, "")]),
        ("y".to_string(), Vec::new()),
    ]);
    both_ways(dir, "nested_map", &nested, eq);
}

#[test]
fn gob_structs_pointers_and_zero_fields_round_trip_with_go() {
    let dir = require_go!();
    both_ways(dir, "outer", &outer(), eq);
    let zeros = Outer {
        name: "z".into(),
        count: 0,
        ratio: 0.0,
        flag: false,
        data: Vec::new(),
        inner: inner(0, ""),
        list: Vec::new(),
        tags: HashMap::new(),
        ptr: None,
        nil: None,
        zero: 0,
        words: Vec::new(),
        fixed: [0; 3],
        small: 0,
    };
    both_ways(dir, "zeros", &zeros, eq);
    let node = Node {
        val: 1,
        next: Some(Box::new(Node {
            val: 2,
            next: Some(Box::new(Node {
                val: -3,
                next: None,
            })),
        })),
    };
    both_ways(dir, "node", &node, eq);
}

#[test]
fn gob_interface_values_round_trip_with_go() {
    let dir = require_go!();
    let kv = BTreeMap::from([
        ("key".to_string(), GobValue::String("k".into())),
        ("value".to_string(), GobValue::Bytes(b"v".to_vec().into())),
    ]);
    both_ways(dir, "iface", &kv, eq);
    let all = BTreeMap::from([
        ("int".to_string(), GobValue::Int(-1)),
        ("int8".into(), GobValue::Int8(-2)),
        ("int16".into(), GobValue::Int16(-3)),
        ("int32".into(), GobValue::Int32(-4)),
        ("int64".into(), GobValue::Int64(-5)),
        ("uint".into(), GobValue::Uint(1)),
        ("uint8".into(), GobValue::Uint8(2)),
        ("uint16".into(), GobValue::Uint16(3)),
        ("uint32".into(), GobValue::Uint32(4)),
        ("uint64".into(), GobValue::Uint64(5)),
        ("uintptr".into(), GobValue::Uintptr(6)),
        ("float32".into(), GobValue::Float32(0.5)),
        ("float64".into(), GobValue::Float64(2.5)),
        ("bool".into(), GobValue::Bool(true)),
        ("string".into(), GobValue::String("s".into())),
        ("bytes".into(), GobValue::Bytes(vec![1, 2].into())),
        ("ints".into(), GobValue::Ints(vec![1, -2])),
        (
            "strings".into(),
            GobValue::Strings(vec!["x".into(), "y".into()]),
        ),
        ("float64s".into(), GobValue::Float64s(vec![1.5])),
        ("bools".into(), GobValue::Bools(vec![true, false])),
        ("uint16s".into(), GobValue::Uint16s(vec![7])),
        ("nil".into(), GobValue::Nil),
    ]);
    both_ways(dir, "iface_all", &all, eq);
}

/// Rust is the net/rpc client of Go's `rpc.ServeConn`.
#[test]
fn netrpc_rust_client_calls_a_go_server() {
    let dir = require_go!();
    let mut peer = Peer::spawn(dir, &["rpc-server"]);
    let (out, input) = peer.pipes();
    let mut client = ClientCodec::new(out, input);
    let call = |method: &str, seq: u64| RequestHeader {
        service_method: method.into(),
        seq,
    };

    let args = BTreeMap::from([
        ("key".to_string(), GobValue::String("k".into())),
        ("value".to_string(), GobValue::Bytes(b"v".to_vec().into())),
    ]);
    client.write_request(&call("Plugin.Put", 0), &args).unwrap();
    let header = client.read_response_header().unwrap();
    assert_eq!(
        (
            header.service_method.as_str(),
            header.seq,
            header.error.as_str()
        ),
        ("Plugin.Put", 0, "")
    );
    assert_eq!(
        client.read_response_body::<GobValue>().unwrap(),
        GobValue::Nil
    );

    client
        .write_request(&call("Plugin.Get", 1), &"k".to_string())
        .unwrap();
    let header = client.read_response_header().unwrap();
    assert_eq!((header.seq, header.error.as_str()), (1, ""));
    assert_eq!(
        client.read_response_body::<ByteBuf>().unwrap(),
        ByteBuf::from(&b"v"[..])
    );

    client.write_request(&call("Plugin.Nope", 2), &()).unwrap();
    let header = client.read_response_header().unwrap();
    assert_eq!(
        (header.seq, header.error.as_str()),
        (2, "rpc: can't find method Plugin.Nope")
    );
    client.skip_response_body().unwrap();

    client
        .write_request(&call("Plugin.Fail", 3), &"x".to_string())
        .unwrap();
    let header = client.read_response_header().unwrap();
    assert_eq!((header.seq, header.error.as_str()), (3, "boom: x"));
    client.skip_response_body().unwrap();

    client
        .write_request(&call("Plugin.Get", u64::MAX), &"missing".to_string())
        .unwrap();
    let header = client.read_response_header().unwrap();
    assert_eq!(
        (header.seq, header.error.as_str()),
        (u64::MAX, "no key \"missing\"")
    );
    client.skip_response_body().unwrap();

    drop(client); // closes the server's stdin: ServeConn returns
    peer.finish("Go net/rpc server");
}

/// Rust is the net/rpc server of Go's `rpc.Client`.
#[test]
fn netrpc_go_client_calls_a_rust_server() {
    let dir = require_go!();
    let mut peer = Peer::spawn(dir, &["rpc-client"]);
    let (out, input) = peer.pipes();
    let mut server = ServerCodec::new(out, input);

    let put = server.read_request_header().unwrap();
    assert_eq!((put.service_method.as_str(), put.seq), ("Plugin.Put", 0));
    let args: HashMap<String, GobValue> = server.read_request_body().unwrap();
    assert_eq!(args.len(), 2, "{args:?}");
    assert_eq!(args["key"], GobValue::String("k".into()));
    assert_eq!(args["value"], GobValue::Bytes(b"v".to_vec().into()));
    server
        .write_response(&ResponseHeader::ok(&put), &GobValue::Nil)
        .unwrap();

    let get = server.read_request_header().unwrap();
    assert_eq!((get.service_method.as_str(), get.seq), ("Plugin.Get", 1));
    assert_eq!(server.read_request_body::<String>().unwrap(), "k");
    server
        .write_response(&ResponseHeader::ok(&get), &b"v".to_vec())
        .unwrap();

    let fail = server.read_request_header().unwrap();
    assert_eq!((fail.service_method.as_str(), fail.seq), ("Plugin.Fail", 2));
    server.skip_request_body().unwrap();
    server.write_error(&fail, "boom: x").unwrap();

    assert!(matches!(
        server.read_request_header(),
        Err(GobError::EndOfStream)
    ));
    drop(server);
    let stderr = peer.finish("Go net/rpc client");
    assert!(stderr.contains("rpc-client: ok"), "{stderr}");
}
