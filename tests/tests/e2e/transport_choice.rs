//! How a Rust pair's transport is chosen beyond on/off: per plugin version on either side (as
//! go-plugin's versioned plugin sets choose per version), and HTTP/2 opened beside the native
//! transport only for a hand-written tonic client.

use plugin_fixtures::kv::{self, KvPlugin};
use std::sync::Arc;

use plugin_runtime::{Client, ClientConfig, PluginSet, Protocol};

use crate::common::*;

/// Our KV fixture serving versions 1 and 2, version 1 kept to gRPC by its set.
fn two_versions() -> std::process::Command {
    let mut cmd = fixture("");
    cmd.env("FIXTURE_VERSIONS", "1,2")
        .env("FIXTURE_GRPC_ONLY_VERSIONS", "1");
    cmd
}

fn set() -> PluginSet {
    PluginSet::new().with("kv", KvPlugin::host())
}

/// A host negotiating `version` (its set for it given by `host_set`).
async fn host_of(version: u32, host_set: PluginSet) -> Client {
    let client = Client::new(
        ClientConfig::new(kv::handshake())
            .command(two_versions())
            .versioned_plugins(version, host_set),
    )
    .unwrap();
    client.start().await.unwrap();
    assert_eq!(client.negotiated_version(), Some(version));
    client
}

/// What the client speaks, checked on its protocol, its connection and a call.
async fn assert_speaks(client: &Client, version: u32, native: bool) {
    let expected = if native {
        Protocol::RustNative
    } else {
        Protocol::Grpc
    };
    assert_eq!(client.protocol(), Some(expected), "version {version}");
    assert_eq!(client.connection().await.unwrap().is_native(), native);
    let kv = kv(client).await;
    assert_eq!(get(&kv, "version").await, version.to_string().as_bytes());
    put(&kv, "k", b"v").await;
    assert_eq!(get(&kv, "k").await, b"v");
    client.ping().await.unwrap();
}

#[tokio::test]
async fn a_plugin_keeps_one_version_on_grpc_and_speaks_native_in_the_other() {
    for (version, native) in [(1, false), (2, true)] {
        let client = host_of(version, set()).await;
        assert_speaks(&client, version, native).await;
        // The reattach config says what was spoken, so a later host speaks it too.
        let reattach = client.reattach_config().unwrap();
        assert_eq!(reattach.protocol, client.protocol().unwrap());
        client.kill().await;
    }
}

#[tokio::test]
async fn a_host_keeps_one_version_on_grpc_though_the_plugin_offers_native() {
    let client = host_of(2, set().native_transport(false)).await;
    assert_speaks(&client, 2, false).await;
    client.kill().await;
    // The same host set with the native transport on (the default) gets it.
    let client = host_of(2, set()).await;
    assert_speaks(&client, 2, true).await;
    client.kill().await;
}

#[tokio::test]
async fn a_host_whose_every_version_keeps_to_grpc_does_not_ask() {
    let client = host_of(2, set().native_transport(false)).await;
    let kv = kv(&client).await;
    // The plugin never saw the request: the variable is not set in its environment.
    let asked = kv
        .get(plugin_fixtures::kv::GetRequest {
            key: format!("env:{}", plugin_runtime::env::RUST_NATIVE),
        })
        .await;
    assert_eq!(asked.unwrap_err().code(), plugin_runtime::Code::NotFound);
    client.kill().await;
}

#[tokio::test]
async fn a_hand_written_tonic_client_beside_the_native_transport_gets_http2() {
    let client = client_on(Transport::Native, fixture(""));
    client.start().await.unwrap();
    Transport::Native.check(&client).await;
    let conn = client.connection().await.unwrap();
    assert!(conn.is_native());
    // HTTP/2 is connected on this first use, and serves what the plugin registered.
    let mut health = tonic_health::pb::health_client::HealthClient::new(conn.channel());
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: plugin_runtime::GRPC_HEALTH_SERVICE.into(),
        })
        .await
        .expect("a health check over HTTP/2");
    assert_eq!(
        answer.into_inner().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    // The native transport goes on beside it.
    let kv = kv(&client).await;
    put(&kv, "after", b"1").await;
    assert_eq!(get(&kv, "after").await, b"1");
    client.kill().await;
}

#[tokio::test]
async fn a_hand_written_tonic_service_is_called_over_grpc_beside_the_native_transport() {
    // The plugin serves `proto.KV` with a hand-written tonic service: the generated client's
    // calls to it go over gRPC, everything of go-plugin's (health, stdio, shutdown) natively.
    let cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hand-written-plugin"));
    let client = client_on(Transport::Native, cmd);
    let kv = kv(&client).await;
    Transport::Native.check(&client).await;
    assert_eq!(get(&kv, "k").await, b"hand-written:k");
    put(&kv, "k", b"v").await;
    client.ping().await.unwrap();
    client.kill().await;
    assert!(client.exited());
}

#[tokio::test]
async fn callbacks_travel_on_the_transport_of_their_connection() {
    use plugin_tests::brokered::{Tasks, TasksPlugin};
    capture_logs();
    for transport in [Transport::Native, Transport::Grpc] {
        let name = format!("broker-fixture-{}", unique("callbacks"));
        let client = Client::new(
            transport
                .config(
                    plugin_tests::brokered::handshake(),
                    std::process::Command::new(env!("CARGO_BIN_EXE_broker-fixture")),
                )
                .plugins(PluginSet::new().with("tasks", TasksPlugin::host()))
                .name(name.clone()),
        )
        .unwrap();
        let tasks = client.dispense::<dyn Tasks>("tasks").await.unwrap();
        transport.check(&client).await;
        let sum = tasks.run(vec![1, 2, 3], Arc::new(Doubler)).await.unwrap();
        assert_eq!(sum, 12);
        // The plugin says how it dialled the host's sink (its log reaches the host's).
        let said = |words: &str| logs_of(&name).iter().any(|e| e.message.contains(words));
        let expected = if transport.is_native() {
            "callback dialled on the native transport"
        } else {
            "callback dialled over gRPC"
        };
        eventually(expected, || said(expected)).await;
        client.kill().await;
        let other = if transport.is_native() {
            "callback dialled over gRPC"
        } else {
            "callback dialled on the native transport"
        };
        assert!(!said(other), "{transport:?}: {other}");
    }
}
