//! Start, call, kill: the plugin's whole life as the host sees it, the calls on both transports.

use std::path::Path;
use std::time::Duration;

use plugin_fixtures::kv::{self, PutRequest};
use std::os::unix::process::ExitStatusExt as _;

use plugin_runtime::{Code, Error, Network, PluginExit};

use crate::common::*;

on_both_transports!(
    round_trip_then_kill_leaves_nothing_behind,
    application_errors_arrive_as_their_status,
    a_plugin_dying_mid_call_fails_the_call_and_the_host_goes_on,
    a_panicking_method_fails_its_call_only,
    a_dispensed_interface_keeps_its_plugin_alive_after_the_client_is_dropped,
    calls_after_kill_say_the_host_killed_the_plugin,
    calls_after_the_plugin_exited_say_how_it_exited,
    large_values_round_trip,
);
on_both_transports!(multi_thread: many_concurrent_calls_share_one_connection);

async fn round_trip_then_kill_leaves_nothing_behind(transport: Transport) {
    let client = client_on(transport, fixture(""));
    client.start().await.unwrap();
    assert_eq!(client.negotiated_version(), Some(1));
    let reattach = client.reattach_config().unwrap();
    assert_eq!(reattach.addr.network, Network::Unix);
    let socket = reattach.addr.address.clone();
    assert!(
        Path::new(&socket).exists(),
        "socket {socket} exists while serving"
    );
    let pid = client.pid().unwrap();
    assert_eq!(reattach.pid, pid);

    let kv = kv(&client).await;
    transport.check(&client).await;
    let binary: Vec<u8> = (0..=255).collect();
    put(&kv, "bin", &binary).await;
    assert_eq!(get(&kv, "bin").await, binary);
    client.ping().await.unwrap();
    assert!(!client.exited());

    client.kill().await;
    assert!(client.exited(), "kill waits for the exit");
    assert!(
        matches!(client.exit(), Some(PluginExit::Killed { status: Some(s) }) if s.success()),
        "a graceful exit: {:?}",
        client.exit()
    );
    assert!(!pid_alive(pid), "the plugin was reaped");
    assert!(
        !Path::new(&socket).exists(),
        "the plugin removed its socket"
    );
    client.kill().await; // idempotent
    assert!(client.ping().await.is_err());
    let again = client.start().await.unwrap_err();
    assert!(matches!(again, Error::Killed { .. }), "{again:?}");
    assert!(
        again.to_string().contains("was killed by Client::kill"),
        "{again}"
    );
}

async fn application_errors_arrive_as_their_status(transport: Transport) {
    let client = client_on(transport, fixture(""));
    let kv = kv(&client).await;
    transport.check(&client).await;
    let err = kv
        .get(kv::GetRequest { key: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("nope"), "{err:?}");
    client.kill().await;
}

#[tokio::test]
async fn dropping_the_client_kills_the_plugin() {
    let client = client(fixture(""));
    client.start().await.unwrap();
    let pid = client.pid().unwrap();
    let socket = client.reattach_config().unwrap().addr.address;
    drop(client);
    eventually("the dropped client's plugin is gone", || !pid_alive(pid)).await;
    assert!(
        !Path::new(&socket).exists(),
        "the host removed the socket it left"
    );
}

#[tokio::test]
async fn a_plugin_that_ignores_shutdown_is_killed_after_the_grace_period() {
    let client = plugin_runtime::Client::new(
        config(fixture("stubborn")).kill_grace(Duration::from_millis(300)),
    )
    .unwrap();
    client.start().await.unwrap();
    let pid = client.pid().unwrap();
    let socket = client.reattach_config().unwrap().addr.address;
    client.kill().await;
    assert!(client.exited());
    assert!(!pid_alive(pid), "the stubborn plugin was force-killed");
    let exit = client.exit();
    assert!(
        matches!(&exit, Some(PluginExit::Killed { status: Some(s) }) if s.signal() == Some(9)),
        "{exit:?}"
    );
    assert_eq!(
        exit.map(|e| e.to_string()).as_deref(),
        Some("was killed by the host (Client::kill), ending with signal 9")
    );
    assert!(
        !Path::new(&socket).exists(),
        "the host removed the socket it left"
    );
}

#[tokio::test]
async fn kill_also_ends_what_the_plugin_started() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let mut cmd = fixture("grandchild");
    cmd.env("FIXTURE_PID_FILE", &pid_file);
    let client = client(cmd);
    client.start().await.unwrap();
    let grandchild: u32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(pid_alive(grandchild));
    client.kill().await;
    eventually("the plugin's own child is gone", || !pid_alive(grandchild)).await;
}

#[tokio::test]
async fn managed_clients_are_cleaned_up_together() {
    let a = plugin_runtime::Client::new(config(fixture("")).managed(true)).unwrap();
    let b = plugin_runtime::Client::new(config(fixture("")).managed(true)).unwrap();
    a.start().await.unwrap();
    b.start().await.unwrap();
    let pids = [a.pid().unwrap(), b.pid().unwrap()];
    plugin_runtime::cleanup_clients().await;
    assert!(plugin_runtime::cleanup_started());
    assert!(a.exited() && b.exited());
    assert!(pids.iter().all(|p| !pid_alive(*p)));
}

async fn a_plugin_dying_mid_call_fails_the_call_and_the_host_goes_on(transport: Transport) {
    let client = client_on(transport, fixture(""));
    let kv = kv(&client).await;
    transport.check(&client).await;
    let pid = client.pid().unwrap();
    let err = put_exit(&kv).await;
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("exited") || err.message().contains("connection"),
        "{err:?}"
    );
    eventually("the crashed plugin is noticed", || client.exited()).await;
    assert!(!pid_alive(pid));
    let socket = client.reattach_config().unwrap().addr.address;
    // Later calls fail fast too.
    assert!(kv.get(kv::GetRequest { key: "x".into() }).await.is_err());
    client.kill().await;
    assert!(
        !Path::new(&socket).exists(),
        "the host removed the socket it left"
    );
}

async fn many_concurrent_calls_share_one_connection(transport: Transport) {
    let client = client_on(transport, fixture(""));
    let kv = kv(&client).await;
    transport.check(&client).await;
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let kv = kv.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                let value = vec![i as u8; 1000 + i];
                put(&kv, &key, &value).await;
                assert_eq!(get(&kv, &key).await, value);
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
    client.kill().await;
}

async fn a_panicking_method_fails_its_call_only(transport: Transport) {
    let client = client_on(transport, fixture(""));
    let kv = kv(&client).await;
    transport.check(&client).await;
    let err = kv
        .put(PutRequest {
            key: "panic".into(),
            value: b"boom".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert!(
        err.message()
            .contains("panicked while serving the call: fixture panics on purpose: boom"),
        "the panic's own message reaches the host: {err:?}"
    );
    put(&kv, "after", b"still serving").await;
    client.kill().await;
}

async fn a_dispensed_interface_keeps_its_plugin_alive_after_the_client_is_dropped(
    transport: Transport,
) {
    let client = client_on(transport, fixture(""));
    let kv = kv(&client).await;
    transport.check(&client).await;
    let pid = client.pid().unwrap();
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pid_alive(pid), "the interface still holds the plugin");
    put(&kv, "kept", b"alive").await;
    assert_eq!(get(&kv, "kept").await, b"alive");
    drop(kv);
    eventually("the plugin of the last dropped handle is gone", || {
        !pid_alive(pid)
    })
    .await;
}

async fn calls_after_kill_say_the_host_killed_the_plugin(transport: Transport) {
    let client = client_on(transport, fixture(""));
    let kv = kv(&client).await;
    transport.check(&client).await;
    client.kill().await;
    let err = kv
        .get(kv::GetRequest { key: "k".into() })
        .await
        .unwrap_err();
    assert!(
        err.message()
            .contains("was killed by the host (Client::kill)"),
        "{err:?}"
    );
    let err = dispense_error(&client).await;
    assert!(matches!(err, Error::Killed { .. }), "{err:?}");
}

async fn calls_after_the_plugin_exited_say_how_it_exited(transport: Transport) {
    let client = client_on(transport, fixture(""));
    let kv = kv(&client).await;
    transport.check(&client).await;
    let during = put_exit(&kv).await;
    assert!(
        during.message().contains("exited with status 3"),
        "the call it died in: {during:?}"
    );
    let after = kv
        .get(kv::GetRequest { key: "k".into() })
        .await
        .unwrap_err();
    assert!(
        after.message().contains("exited with status 3"),
        "a later call: {after:?}"
    );
    assert!(
        matches!(client.exit(), Some(PluginExit::Exited(s)) if s.code() == Some(3)),
        "{:?}",
        client.exit()
    );
    let ping = client.ping().await.unwrap_err();
    assert!(ping.to_string().contains("exited with status 3"), "{ping}");
    client.kill().await;
}

#[tokio::test]
async fn using_a_client_whose_start_failed_says_why_it_failed() {
    let client = client(fixture("exit-early"));
    let first = client.start().await.unwrap_err();
    assert!(
        matches!(first, Error::ExitedBeforeHandshake { .. }),
        "{first:?}"
    );
    let err = dispense_error(&client).await;
    assert!(matches!(err, Error::StartFailed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("failed to start") && text.contains("exited with status 7"),
        "{text}"
    );
}

async fn large_values_round_trip(transport: Transport) {
    let client = client_on(transport, fixture(""));
    let kv = kv(&client).await;
    transport.check(&client).await;
    let big: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    put(&kv, "big", &big).await;
    assert_eq!(get(&kv, "big").await, big);
    client.kill().await;
}

#[tokio::test]
async fn skip_host_env_keeps_only_the_commands_own_environment() {
    let get_env = |kv: std::sync::Arc<dyn kv::Kv>, name: &'static str| async move {
        kv.get(kv::GetRequest {
            key: format!("env:{name}"),
        })
        .await
        .map(|r| String::from_utf8_lossy(&r.value).into_owned())
    };
    for skip in [false, true] {
        let mut cmd = fixture("");
        cmd.env("EXPLICIT_FOR_PLUGIN", "yes");
        let client = plugin_runtime::Client::new(config(cmd).skip_host_env(skip)).unwrap();
        let kv = kv(&client).await;
        assert_eq!(
            get_env(kv.clone(), "EXPLICIT_FOR_PLUGIN").await.unwrap(),
            "yes"
        );
        assert_eq!(get_env(kv.clone(), "BASIC_PLUGIN").await.unwrap(), "hello");
        assert_eq!(
            get_env(kv.clone(), "PLUGIN_PROTOCOL_VERSIONS")
                .await
                .unwrap(),
            "1"
        );
        assert_eq!(
            get_env(kv.clone(), "PLUGIN_MIN_PORT").await.unwrap(),
            "10000"
        );
        let path = get_env(kv.clone(), "PATH").await;
        assert_eq!(
            path.is_err(),
            skip,
            "host PATH passed only without skip_host_env"
        );
        client.kill().await;
    }
}

#[tokio::test]
async fn a_start_cancelled_half_way_kills_what_it_launched_and_says_so() {
    let client = client(fixture("silent"));
    let cancelled = tokio::time::timeout(Duration::from_millis(300), client.start()).await;
    assert!(cancelled.is_err(), "the silent plugin never answers");
    let pid = client.pid().expect("it was launched");
    eventually("the launched plugin is killed", || !pid_alive(pid)).await;
    let err = dispense_error(&client).await;
    assert!(matches!(err, Error::StartFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("the start was cancelled"), "{err}");
}
