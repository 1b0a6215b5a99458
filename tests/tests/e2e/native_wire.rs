//! The native transport's wire against a peer that breaks its rules (a stranger on a plaintext
//! plugin's socket, or a confused host): every frame is answered with a status naming the
//! mistake or ignored, never a crash, and the plugin's own host is served throughout.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use plugin_runtime::{Client, Code};

use crate::common::*;

// The native wire (plugin-runtime/src/native/frame.rs): a preface, then
// `u32 LE length | u8 kind | u32 LE id | body`.
const PREFACE: &[u8] = b"RSNATV02";
const CALL: u8 = 1;
const ERROR: u8 = 3;
const CANCEL: u8 = 4;
const OPEN: u8 = 5;
const MSG: u8 = 7;
const END: u8 = 8;
const WINDOW: u8 = 9;
const SERVICES: u8 = 10;

fn frame(kind: u8, id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + body.len());
    out.extend(u32::try_from(5 + body.len()).unwrap().to_le_bytes());
    out.push(kind);
    out.extend(id.to_le_bytes());
    out.extend(body);
    out
}

/// A CALL or OPEN body: the path, then the request.
fn with_path(path: &str, request: &[u8]) -> Vec<u8> {
    let mut body = u16::try_from(path.len()).unwrap().to_le_bytes().to_vec();
    body.extend(path.as_bytes());
    body.extend(request);
    body
}

/// What a stranger gets for writing `wire` to the plugin's `socket`: how its read to the end
/// went (the plugin closing, or the 10 s read timeout), and the bytes it read.
async fn stranger(socket: String, wire: Vec<u8>) -> (Result<usize, std::io::ErrorKind>, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let mut s = UnixStream::connect(&socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(&wire);
        let mut reply = Vec::new();
        let read = s.read_to_end(&mut reply).map_err(|e| e.kind());
        (read, reply)
    })
    .await
    .unwrap()
}

/// Reads frames until one has come for each of `ids`; their kind and body by id.
fn answers(stream: &mut UnixStream, ids: &[u32]) -> HashMap<u32, (u8, Vec<u8>)> {
    let mut got = HashMap::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !ids.iter().all(|id| got.contains_key(id)) {
        let n = stream.read(&mut chunk).expect("the plugin answers");
        assert!(
            n > 0,
            "the plugin closed the connection; answers so far: {got:?}"
        );
        buf.extend(&chunk[..n]);
        while buf.len() >= 9 {
            let len = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
            if buf.len() < 4 + len {
                break;
            }
            let kind = buf[4];
            let id = u32::from_le_bytes(buf[5..9].try_into().unwrap());
            got.insert(id, (kind, buf[9..4 + len].to_vec()));
            buf.drain(..4 + len);
        }
    }
    got
}

/// An ERROR frame's code and message.
fn status(answer: &(u8, Vec<u8>)) -> (Code, String) {
    assert_eq!(answer.0, ERROR, "an error frame: {answer:?}");
    let code = i32::from_le_bytes(answer.1[..4].try_into().unwrap());
    (
        Code::from_i32(code),
        String::from_utf8_lossy(&answer.1[4..]).into_owned(),
    )
}

#[tokio::test]
async fn under_automtls_a_stranger_speaking_native_gets_nothing() {
    let client = client_on(Transport::Native, fixture(""));
    let kv = kv(&client).await;
    Transport::Native.check(&client).await;
    let socket = client.reattach_config().unwrap().addr.address;
    let mut wire = PREFACE.to_vec();
    wire.extend(frame(CALL, 1, &with_path("/proto.KV/Get", b"")));
    let (_, reply) = stranger(socket, wire).await;
    // The TLS layer refuses it before any native frame is read: at most a TLS alert record
    // (content type 21) comes back, never a frame.
    assert!(reply.is_empty() || reply[0] == 21, "{reply:?}");
    put(&kv, "after", b"2").await;
    assert_eq!(get(&kv, "after").await, b"2");
    client.kill().await;
}

#[tokio::test]
async fn a_peer_breaking_the_native_protocol_gets_statuses_and_the_host_is_still_served() {
    // A plaintext plugin: a stranger reaches the native protocol, as it would reach gRPC.
    let client = Client::new(config_on(Transport::Native, fixture("")).auto_mtls(false)).unwrap();
    let kv = kv(&client).await;
    Transport::Native.check(&client).await;
    put(&kv, "before", b"1").await;
    let socket = client.reattach_config().unwrap().addr.address;

    let answers = tokio::task::spawn_blocking(move || {
        let mut s = UnixStream::connect(&socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut wire = PREFACE.to_vec();
        // Frames for calls that do not exist: ignored.
        wire.extend(frame(WINDOW, 90, &u32::MAX.to_le_bytes()));
        wire.extend(frame(WINDOW, 90, &[1]));
        wire.extend(frame(MSG, 91, b"junk"));
        wire.extend(frame(END, 92, b""));
        wire.extend(frame(CANCEL, 93, b""));
        // A unary method opened as a stream, and the other way round.
        wire.extend(frame(OPEN, 1, &with_path("/proto.KV/Get", b"")));
        wire.extend(frame(
            CALL,
            2,
            &with_path("/plugin.GRPCStdio/StreamStdio", b""),
        ));
        // go-plugin's streams, already taken by the plugin's host.
        wire.extend(frame(
            OPEN,
            3,
            &with_path("/plugin.GRPCBroker/StartStream", b""),
        ));
        wire.extend(frame(
            OPEN,
            4,
            &with_path("/plugin.GRPCStdio/StreamStdio", b""),
        ));
        // No such method; a path running past its frame; a request that does not decode.
        wire.extend(frame(CALL, 5, &with_path("/nope.X/Y", b"")));
        wire.extend(frame(CALL, 6, &[200, 0, b'/']));
        wire.extend(frame(CALL, 7, &with_path("/proto.KV/Get", &[0x0a, 0xff])));
        s.write_all(&wire).unwrap();
        let got = answers(&mut s, &[0, 1, 2, 3, 4, 5, 6, 7]);
        // A frame of an unknown kind ends the connection.
        s.write_all(&frame(200, 8, b"")).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        got
    })
    .await
    .unwrap();

    let expect = [
        (1, Code::Internal, "is a unary method, opened as a stream"),
        (
            2,
            Code::Internal,
            "is a streaming method, called as a unary one",
        ),
        (3, Code::AlreadyExists, "already open"),
        (4, Code::FailedPrecondition, "already called"),
        (5, Code::Unimplemented, "/nope.X/Y"),
        (6, Code::InvalidArgument, "malformed"),
        (7, Code::InvalidArgument, ""),
    ];
    for (id, code, words) in expect {
        let (got, message) = status(&answers[&id]);
        assert_eq!(got, code, "call {id}: {message}");
        assert!(message.contains(words), "call {id}: {message}");
    }
    // The plugin's first frame: no service of this plugin is served over gRPC only.
    assert_eq!(answers[&0], (SERVICES, Vec::new()));
    assert_eq!(answers.len(), 8, "stray ids were answered: {answers:?}");
    // The plugin's own host never noticed.
    assert_eq!(get(&kv, "before").await, b"1");
    client.ping().await.unwrap();
    client.kill().await;
}

#[tokio::test]
async fn a_peer_of_another_native_wire_version_is_refused_at_once() {
    let client = Client::new(config_on(Transport::Native, fixture("")).auto_mtls(false)).unwrap();
    let kv = kv(&client).await;
    let socket = client.reattach_config().unwrap().addr.address;
    let mut wire = b"RSNATV01".to_vec();
    wire.extend(frame(CALL, 1, &with_path("/proto.KV/Get", b"")));
    // Closed without a frame (the plugin logs which versions met).
    let (_, reply) = stranger(socket, wire).await;
    assert!(reply.is_empty(), "{reply:?}");
    put(&kv, "after", b"1").await;
    assert_eq!(get(&kv, "after").await, b"1");
    client.kill().await;
}

#[tokio::test]
async fn a_second_callbacks_session_is_refused_and_the_hosts_goes_on() {
    use plugin_runtime::PluginSet;
    use plugin_tests::brokered::{Tasks, TasksPlugin, handshake};
    // A plaintext plugin, so that a stranger reaches the socket at all.
    let client = Client::new(
        Transport::Native
            .config(
                handshake(),
                std::process::Command::new(env!("CARGO_BIN_EXE_broker-fixture")),
            )
            .plugins(PluginSet::new().with("tasks", TasksPlugin::host()))
            .auto_mtls(false),
    )
    .unwrap();
    let tasks = client.dispense::<dyn Tasks>("tasks").await.unwrap();
    Transport::Native.check(&client).await;
    // The first callback opens the host's session.
    let sink = std::sync::Arc::new(Doubler);
    assert_eq!(tasks.run(vec![1, 2], sink.clone()).await.unwrap(), 6);
    let socket = client.reattach_config().unwrap().addr.address;
    // Closed by the plugin at once (an adopted session would leave this read waiting).
    let reply = stranger(socket, b"RSNATVS2".to_vec()).await;
    assert_eq!(
        reply,
        (Ok(0), Vec::new()),
        "the stranger's session was not refused"
    );
    // Callbacks still reach the host through its own session.
    assert_eq!(tasks.run(vec![3, 4, 5], sink).await.unwrap(), 24);
    client.kill().await;
}
