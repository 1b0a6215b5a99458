//! Reattaching to running plugins, and go-plugin's test mode.

use plugin_fixtures::kv::{self, KvPlugin};
use plugin_runtime::{Client, ClientConfig, Error, PluginExit, PluginSet, ReattachConfig};

use crate::common::*;

fn reattach_config(reattach: ReattachConfig) -> ClientConfig {
    ClientConfig::new(kv::handshake())
        .reattach(reattach)
        .plugins(PluginSet::new().with("kv", KvPlugin::host()))
}

#[tokio::test]
async fn a_second_host_reattaches_and_can_kill() {
    let first = Client::new(config(fixture("")).auto_mtls(false)).unwrap();
    let kv1 = kv(&first).await;
    put(&kv1, "shared", b"state").await;
    let reattach = first.reattach_config().unwrap();
    let pid = reattach.pid;

    // Through JSON, as a debug variable would carry it.
    let json = serde_json::to_string(&reattach).unwrap();
    let second = Client::new(reattach_config(serde_json::from_str(&json).unwrap())).unwrap();
    let kv2 = kv(&second).await;
    assert_eq!(get(&kv2, "shared").await, b"state");
    assert_eq!(second.reattach_config().unwrap(), reattach);

    second.kill().await;
    eventually("the reattached plugin was stopped", || first.exited()).await;
    assert!(!pid_alive(pid));
    first.kill().await;
}

#[tokio::test]
async fn a_reattached_plugin_that_dies_is_reported_as_gone() {
    let first = Client::new(config(fixture("")).auto_mtls(false)).unwrap();
    first.start().await.unwrap();
    let reattach = first.reattach_config().unwrap();
    let pid = reattach.pid;
    let second = Client::new(reattach_config(reattach)).unwrap();
    let kv2 = kv(&second).await;
    first.kill().await;
    eventually("the second host notices", || second.exited()).await;
    assert_eq!(second.exit(), Some(PluginExit::Vanished { pid }));
    get_fails_saying(
        &kv2,
        "k",
        &format!("is gone (process {pid} no longer exists)"),
    )
    .await;
    second.kill().await;
}

#[tokio::test]
async fn reattaching_to_nothing_is_process_not_found() {
    let gone = ReattachConfig {
        protocol: plugin_runtime::Protocol::Grpc,
        protocol_version: 1,
        addr: plugin_runtime::ReattachAddr {
            network: plugin_runtime::Network::Unix,
            address: "/nonexistent/plugin.sock".into(),
        },
        pid: 0,
        test: false,
    };
    let err = Client::new(reattach_config(gone))
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProcessNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("Reattachment process not found")
            || err.to_string().contains("reattachment process not found")
    );
}

#[tokio::test]
async fn test_mode_plugin_is_reattached_and_never_killed_by_the_host() {
    let mut cmd = tokio::process::Command::new(FIXTURE);
    cmd.env("FIXTURE_MODE", "test-mode")
        .env_remove("BASIC_PLUGIN");
    let mut plugin = TestModePlugin::start(cmd).await;
    let reattach = plugin.reattach["kv"].clone();
    assert!(reattach.test);
    assert_eq!(reattach.pid, plugin.pid());
    assert_eq!(reattach.protocol_version, 1);

    let host = reattach_client(reattach);
    let kv = kv(&host).await;
    put(&kv, "k", b"v").await;
    assert_eq!(get(&kv, "k").await, b"v");
    host.kill().await;
    assert!(plugin.is_running(), "test-mode plugins end themselves");

    // Closing stdin ends it (its own stop signal), cleanly.
    assert_eq!(plugin.stop().await.code(), Some(0));
}
