//! What the plugin writes and logs, as the host receives it.

use plugin_fixtures::kv;
use plugin_runtime::Client;
use tracing::Level;

use crate::common::*;

#[tokio::test]
async fn stdout_and_stderr_after_the_handshake_reach_the_sync_writers_byte_exact() {
    let (out, err) = (SharedBuf::default(), SharedBuf::default());
    let client = Client::new(
        config(fixture(""))
            .sync_stdout(out.clone())
            .sync_stderr(err.clone()),
    )
    .unwrap();
    let kv = kv(&client).await;
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    put(&kv, "stdout", &binary).await;
    put(&kv, "stderr", b"to stderr\nwith two lines\n").await;
    put(&kv, "child-stdout", b"from a child process").await;
    client.kill().await;
    let mut expected = binary.clone();
    expected.extend_from_slice(b"from a child process");
    assert_eq!(out.bytes(), expected);
    assert_eq!(err.bytes(), b"to stderr\nwith two lines\n");
}

#[tokio::test]
async fn without_sync_writers_the_plugins_stdout_and_stderr_are_logged() {
    capture_logs();
    let name = unique("unsynced");
    let client = Client::new(config(fixture("")).name(&name)).unwrap();
    let kv = kv(&client).await;
    put(&kv, "stderr", b"eprintln after the handshake\n").await;
    put(&kv, "stdout", b"println after the handshake\n").await;
    client.kill().await;
    let events = logs_of(&name);
    for line in [
        "eprintln after the handshake",
        "println after the handshake",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.message.contains(line) && e.level == Level::DEBUG),
            "{line:?} is logged at debug: {events:#?}"
        );
    }
}

#[test]
fn a_host_without_a_tracing_subscriber_prints_the_plugins_logs_and_panics() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bare-host"))
        .arg(FIXTURE)
        .args([
            "log-warn=low on disk",
            "stderr=raw line\n",
            "panic=on purpose",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    for expected in [
        "[WARN] plugin fixture-plugin: low on disk ",
        " answer=42 source=rust ",
        "[DEBUG] plugin fixture-plugin: raw line",
        "[ERROR] plugin fixture-plugin: panic: fixture panics on purpose: on purpose",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
    assert!(
        stdout.contains("panicked while serving the call: fixture panics on purpose: on purpose"),
        "{stdout}"
    );
}

#[tokio::test]
async fn plugin_logs_become_host_events_at_their_level_with_their_fields() {
    capture_logs();
    let name = unique("logs");
    let raw = SharedBuf::default();
    let client = Client::new(config(fixture("")).name(&name).stderr(raw.clone())).unwrap();
    let kv = kv(&client).await;
    assert_logs_at_their_levels(&kv, &client, "message at", "rust").await;
    // The raw copy has the hclog JSON lines.
    let text = raw.text();
    let line = text
        .lines()
        .find(|l| l.contains("message at log-warn"))
        .unwrap_or_else(|| panic!("raw stderr: {text}"));
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(json["@level"], "warn");
    assert_eq!(json["answer"], 42);
    let ts = json["@timestamp"].as_str().unwrap();
    let fraction = ts.split('.').nth(1).unwrap();
    assert_eq!(fraction.len(), 7, "six digits then Z: {ts}");
}

#[tokio::test]
async fn a_panic_in_the_plugin_is_logged_at_error() {
    capture_logs();
    let name = unique("panic");
    let client = Client::new(config(fixture("")).name(&name)).unwrap();
    let kv = kv(&client).await;
    let _ = kv
        .put(kv::PutRequest {
            key: "panic".into(),
            value: b"on purpose".to_vec(),
        })
        .await;
    client.kill().await;
    let events = logs_of(&name);
    let panic = events
        .iter()
        .find(|e| e.message.starts_with("panic: fixture panics on purpose"))
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(panic.level, Level::ERROR);
    assert!(
        events
            .iter()
            .any(|e| e.message.contains("panicked at") && e.level == Level::ERROR),
        "the lines after a panic stay at error: {events:#?}"
    );
}

#[tokio::test]
async fn plain_stderr_lines_are_logged_by_their_prefix_and_panics_switch_to_error() {
    capture_logs();
    let name = unique("plain");
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c").arg(
        "echo '[WARN] disk almost full' >&2; echo 'just chatter' >&2; \
         echo 'panic: oh no' >&2; echo 'goroutine 1 [running]:' >&2; exit 2",
    );
    let client = Client::new(config(sh).name(&name)).unwrap();
    assert!(client.start().await.is_err());
    let events = logs_of(&name);
    let level_of = |m: &str| {
        events
            .iter()
            .find(|e| e.message == m)
            .unwrap_or_else(|| panic!("{m:?} not in {events:#?}"))
            .level
    };
    assert_eq!(level_of("[WARN] disk almost full"), Level::WARN);
    assert_eq!(level_of("just chatter"), Level::DEBUG);
    assert_eq!(level_of("panic: oh no"), Level::ERROR);
    assert_eq!(level_of("goroutine 1 [running]:"), Level::ERROR);
}
