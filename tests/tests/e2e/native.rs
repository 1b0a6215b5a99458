//! The native transport between a Rust host and a Rust plugin: chosen by default, forced off
//! from either side, never offered to a go-plugin host; and the interface cases on both
//! transports side by side.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use plugin_fixtures::kv::{GetRequest, Kv, PutRequest};
use plugin_runtime::{CallError, Client, ClientConfig, Code, Error, PluginSet, Protocol};
use plugin_tests::interfaces::{
    Echo, EchoPlugin, EchoRequest, JobError, Jobs, JobsPlugin, Task, handshake,
};

use crate::common::*;

const SERDE_FIXTURE: &str = env!("CARGO_BIN_EXE_serde-fixture");
const SERDE_FIXTURE_V2: &str = env!("CARGO_BIN_EXE_serde-fixture-v2");

/// Only guards against a hang; no test depends on how fast anything is.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Both transports, by whether the host asks for the native one.
const TRANSPORTS: [bool; 2] = [true, false];

/// The protocol a host asking (or not) for the native transport must end up on.
fn expected(native: bool) -> Protocol {
    if native {
        Protocol::RustNative
    } else {
        Protocol::Grpc
    }
}

fn serde_host(program: &str, native: bool) -> Client {
    Client::new(
        ClientConfig::new(handshake())
            .command(Command::new(program))
            .native_transport(native)
            .plugins(
                PluginSet::new()
                    .with("jobs", JobsPlugin::host())
                    .with("echo", EchoPlugin::host()),
            ),
    )
    .expect("valid config")
}

async fn jobs(client: &Client) -> Arc<dyn Jobs> {
    client.dispense::<dyn Jobs>("jobs").await.expect("dispense")
}

async fn echo(client: &Client) -> Arc<dyn Echo> {
    client.dispense::<dyn Echo>("echo").await.expect("dispense")
}

fn task(id: u64) -> Task {
    Task {
        id,
        tags: vec![format!("tag-{id}")],
        payload: (0..=255).cycle().take(id as usize * 7).collect(),
    }
}

fn request(text: &str) -> EchoRequest {
    EchoRequest {
        text: text.into(),
        ..Default::default()
    }
}

/// Checks which transport the client's calls take.
async fn assert_transport(client: &Client, native: bool) {
    assert_eq!(client.protocol(), Some(expected(native)));
    let conn = client.connection().await.expect("a connection");
    assert_eq!(conn.is_native(), native);
}

#[tokio::test]
async fn a_rust_pair_speaks_native_unless_the_host_forces_grpc() {
    for native in TRANSPORTS {
        let client = Client::new(config(fixture("")).native_transport(native)).unwrap();
        let kv = kv(&client).await;
        assert_transport(&client, native).await;
        // The plugin saw the request only when the host made it.
        let asked = kv
            .get(GetRequest {
                key: format!("env:{}", plugin_runtime::env::RUST_NATIVE),
            })
            .await;
        match (native, asked) {
            (true, Ok(value)) => assert_eq!(value.value, std::process::id().to_string().as_bytes()),
            (false, Err(status)) => assert_eq!(status.code(), Code::NotFound),
            (native, other) => panic!("native={native}: unexpected {other:?}"),
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

#[tokio::test]
async fn a_plugin_that_forces_grpc_is_spoken_to_over_grpc() {
    let client = client(fixture("grpc-only"));
    let kv = kv(&client).await;
    assert_transport(&client, false).await;
    let key = unique("forced");
    put(&kv, &key, b"v").await;
    assert_eq!(get(&kv, &key).await, b"v");
    client.kill().await;
}

#[tokio::test]
async fn native_works_inside_automtls_and_without_it() {
    for automtls in [true, false] {
        let client = Client::new(config(fixture("")).auto_mtls(automtls)).unwrap();
        let kv = kv(&client).await;
        assert_transport(&client, true).await;
        let key = unique("tls");
        put(&kv, &key, b"secret").await;
        assert_eq!(get(&kv, &key).await, b"secret");
        client.kill().await;
    }
}

#[tokio::test]
async fn protobuf_errors_and_panics_fail_only_their_call_on_both_transports() {
    for native in TRANSPORTS {
        let client = Client::new(config(fixture("")).native_transport(native)).unwrap();
        let kv = kv(&client).await;
        assert_transport(&client, native).await;
        let missing = kv
            .get(GetRequest {
                key: "absent".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
        assert!(
            missing.message().contains("no value for key"),
            "{missing:?}"
        );
        let panicked = kv
            .put(PutRequest {
                key: "panic".into(),
                value: b"on purpose".to_vec(),
            })
            .await
            .unwrap_err();
        assert_eq!(panicked.code(), Code::Internal, "{panicked:?}");
        assert!(panicked.message().contains("panicked"), "{panicked:?}");
        // The connection survived both.
        put(&kv, "after", b"ok").await;
        assert_eq!(get(&kv, "after").await, b"ok");
        client.kill().await;
    }
}

#[tokio::test]
async fn serde_calls_and_application_errors_on_both_transports() {
    for native in TRANSPORTS {
        let client = serde_host(SERDE_FIXTURE, native);
        let jobs = jobs(&client).await;
        assert_transport(&client, native).await;
        let report = jobs.run("ab".into(), 3, task(42)).await.unwrap();
        assert_eq!(report.text, "ababab");
        assert_eq!(report.task, task(42));
        let error = JobError::Refused("too busy".into());
        assert_eq!(jobs.fail(error.clone()).await, Err(error));
        let echo = echo(&client).await;
        let err = echo
            .echo(EchoRequest {
                fail_code: Code::FailedPrecondition as i32,
                ..request("empty")
            })
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::FailedPrecondition);
        assert_eq!(err.message, "empty");
        client.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_callers_on_both_transports() {
    for native in TRANSPORTS {
        let client = serde_host(SERDE_FIXTURE, native);
        let jobs = jobs(&client).await;
        let echo = echo(&client).await;
        assert_transport(&client, native).await;
        let tasks: Vec<_> = (0..64u64)
            .map(|i| {
                let (jobs, echo) = (jobs.clone(), echo.clone());
                tokio::spawn(async move {
                    for round in 0..10 {
                        let report = jobs.run(format!("{i}.{round},"), 2, task(i)).await.unwrap();
                        assert_eq!(report.text, format!("{i}.{round},{i}.{round},"));
                        assert_eq!(report.task, task(i));
                        let text = format!("echo {i} {round}");
                        assert_eq!(echo.echo(request(&text)).await.unwrap().text, text);
                    }
                })
            })
            .collect();
        for t in futures::future::join_all(tasks).await {
            t.unwrap();
        }
        client.kill().await;
    }
}

#[tokio::test]
async fn a_call_in_flight_fails_with_the_plugins_end_on_both_transports() {
    for native in TRANSPORTS {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("in-call");
        let client = serde_host(SERDE_FIXTURE, native);
        let jobs = jobs(&client).await;
        assert_transport(&client, native).await;
        let pid = client.pid().unwrap();
        let call = tokio::spawn({
            let (jobs, marker) = (jobs.clone(), marker.clone());
            async move { jobs.block(marker).await }
        });
        eventually("the plugin is inside the call", || marker.exists()).await;
        // SAFETY: kill(2) on the plugin this test started.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
        let result = tokio::time::timeout(HANG_GUARD, call)
            .await
            .expect("the call ends")
            .unwrap();
        match result {
            Err(JobError::Call(why)) => assert!(why.contains("was killed by signal 9"), "{why}"),
            other => panic!("native={native}: expected a call failure, got {other:?}"),
        }
        // Later calls fail at once, saying so.
        assert!(matches!(
            jobs.run("x".into(), 1, task(1)).await,
            Err(JobError::Call(_))
        ));
        client.kill().await;
    }
}

/// (That the plugin's side is cancelled too is `streams::the_call_timeout_cancels_a_slow_unary_call_in_the_plugin`,
/// which runs on the native transport by default.)
#[tokio::test]
async fn a_call_past_its_deadline_fails_and_the_connection_goes_on() {
    for native in TRANSPORTS {
        let client = Client::new(
            config(fixture(""))
                .native_transport(native)
                .call_timeout(Duration::from_millis(300)),
        )
        .unwrap();
        let kv: Arc<dyn Kv> = kv(&client).await;
        assert_transport(&client, native).await;
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
}

#[tokio::test]
async fn a_fingerprint_mismatch_is_refused_at_dispense_on_both_transports() {
    for native in TRANSPORTS {
        let client = serde_host(SERDE_FIXTURE_V2, native);
        match client.dispense::<dyn Jobs>("jobs").await.err() {
            Some(Error::Call(CallError::FingerprintMismatch { interface, .. })) => {
                assert_eq!(interface, "plugin.Jobs");
            }
            other => panic!("native={native}: expected a fingerprint mismatch, got {other:?}"),
        }
        assert_eq!(client.protocol(), Some(expected(native)));
        client.kill().await;
    }
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
    assert_transport(&client, true).await;
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
