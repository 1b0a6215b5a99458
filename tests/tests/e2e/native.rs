//! The native transport between a Rust host and a Rust plugin: chosen by default, forced off
//! from either side, never offered to a go-plugin host.
//!
//! The interface scenarios themselves (unary calls, streams and callbacks of both encodings,
//! errors, panics, fingerprint mismatches, 64 concurrent callers, a plugin killed mid-call) run
//! on both transports where they are written: `on_both_transports!` in `interfaces`,
//! `lifecycle`, `streams` and `callbacks`. Here, a plugin forcing gRPC runs a sample of them.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use plugin_fixtures::kv::{GetRequest, Kv, PutRequest};
use plugin_runtime::{Client, Code};

use crate::common::*;
use crate::{callbacks, interfaces, streams};

on_both_transports!(a_call_past_its_deadline_fails_and_the_connection_goes_on);

#[tokio::test]
async fn a_rust_pair_speaks_native_unless_either_side_forces_grpc() {
    for transport in [Transport::Native, Transport::Grpc, Transport::PluginGrpc] {
        let client = client_on(transport, fixture(""));
        let kv = kv(&client).await;
        transport.check(&client).await;
        // The plugin saw the request only when the host made it.
        let asked = kv
            .get(GetRequest {
                key: format!("env:{}", plugin_runtime::env::RUST_NATIVE),
            })
            .await;
        match (transport, asked) {
            (Transport::Native | Transport::PluginGrpc, Ok(value)) => {
                assert_eq!(value.value, std::process::id().to_string().as_bytes())
            }
            (Transport::Grpc, Err(status)) => assert_eq!(status.code(), Code::NotFound),
            (transport, other) => panic!("{transport:?}: unexpected {other:?}"),
        }
        let key = unique("native");
        let mib: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        put(&kv, &key, &mib).await;
        assert_eq!(get(&kv, &key).await, mib);
        put(&kv, &key, b"").await;
        assert_eq!(get(&kv, &key).await, b"");
        // Still one plugin answering health checks, logs and shutdown over gRPC.
        client.ping().await.unwrap();
        client.kill().await;
        assert!(client.exited());
    }
}

/// Calls of every kind (unary, streaming and callbacks, both encodings) to a plugin that
/// refuses the native transport its host asks for.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plugin_that_forces_grpc_serves_every_kind_of_call_over_grpc() {
    let grpc = Transport::PluginGrpc;
    interfaces::serde_methods_take_several_arguments_and_a_struct(grpc).await;
    interfaces::protobuf_application_errors_arrive_as_a_status_code_and_message(grpc).await;
    streams::serde_round_trips_in_the_three_shapes(grpc).await;
    streams::protobuf_round_trips_in_the_three_shapes(grpc).await;
    callbacks::a_plugin_calls_back_64_times_at_once_with_and_without_automtls(grpc).await;
    callbacks::a_plugin_calls_a_passed_callback_64_times_at_once_with_and_without_automtls(grpc)
        .await;
    callbacks::protobuf::a_typed_callback_travels_in_a_request_field_to_a_rust_plugin(grpc).await;
}

#[tokio::test]
async fn native_works_inside_automtls_and_without_it() {
    for automtls in [true, false] {
        let client = Client::new(config(fixture("")).auto_mtls(automtls)).unwrap();
        let kv = kv(&client).await;
        Transport::Native.check(&client).await;
        let key = unique("tls");
        put(&kv, &key, b"secret").await;
        assert_eq!(get(&kv, &key).await, b"secret");
        client.kill().await;
    }
}

/// (That the plugin's side is cancelled too is `streams::the_call_timeout_cancels_a_slow_unary_call_in_the_plugin`.)
async fn a_call_past_its_deadline_fails_and_the_connection_goes_on(transport: Transport) {
    let config = config_on(transport, fixture("")).call_timeout(Duration::from_millis(300));
    let client = Client::new(config).unwrap();
    let kv: Arc<dyn Kv> = kv(&client).await;
    transport.check(&client).await;
    let late = kv
        .put(PutRequest {
            key: "sleep".into(),
            value: b"30000".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    put(&kv, "next", b"fine").await;
    assert_eq!(get(&kv, "next").await, b"fine");
    client.kill().await;
}

#[tokio::test]
async fn a_go_host_gets_grpc_even_with_the_variable_leaked_into_its_environment() {
    let dir = require_go!();
    let sockets = tempfile::tempdir().expect("a socket directory");
    let work = tempfile::tempdir().unwrap();
    // Our own pid: the plugin's parent is the Go host, so the request is not for it.
    let leaked = std::process::id().to_string();
    for value in [leaked.as_str(), "1"] {
        let out = Command::new(dir.join("go-kv-host"))
            .arg("ping")
            .current_dir(work.path())
            .env("PLUGIN_UNIX_SOCKET_DIR", sockets.path())
            .env("KV_PLUGIN", FIXTURE)
            .env("FIXTURE_MODE", "")
            .env_remove("KV_AUTOMTLS")
            .env_remove("KV_HOST_VERSIONS")
            .env_remove("FIXTURE_VERSIONS")
            .env(plugin_runtime::env::RUST_NATIVE, value)
            .output()
            .expect("go-kv-host runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "ok",
            "{stderr}"
        );
    }
}

/// Native only: over gRPC an oversized request resets its HTTP/2 stream and is reported as a
/// transport failure, a behaviour of its own.
#[tokio::test]
async fn a_native_message_over_the_limit_fails_its_call_only_naming_the_setting() {
    let mut cmd = fixture("");
    cmd.env("FIXTURE_BIG", "x".repeat(4096));
    let client = Client::new(config(cmd).max_message_size(1024)).unwrap();
    let kv = kv(&client).await;
    Transport::Native.check(&client).await;
    // Too large to send.
    let sent = kv
        .put(PutRequest {
            key: "big".into(),
            value: vec![1; 4096],
        })
        .await
        .unwrap_err();
    // Too large to receive: the plugin's reply is 4 KiB, skipped unread.
    let received = kv
        .get(GetRequest {
            key: "env:FIXTURE_BIG".into(),
        })
        .await
        .unwrap_err();
    for status in [&sent, &received] {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("max_message_size"), "{status:?}");
    }
    // The connection goes on.
    put(&kv, "small", b"fits").await;
    assert_eq!(get(&kv, "small").await, b"fits");
    client.kill().await;
}
