//! Load: thousands of concurrent calls on one client, dozens of plugins under one host, and a
//! plugin flooding its stdout and stderr while it serves. Nothing may fail, hang or be left.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures::future::join_all;
use plugin_runtime::{Client, ClientConfig, PluginSet};
use plugin_tests::interfaces::{Echo, EchoPlugin, EchoRequest, Jobs, JobsPlugin, Task, handshake};
use tokio::task::JoinSet;

use crate::common::{config, fixture, get, kv, pid_alive};

const SERDE_FIXTURE: &str = env!("CARGO_BIN_EXE_serde-fixture");
const FLOOD_FIXTURE: &str = env!("CARGO_BIN_EXE_flood-fixture");
const FLOOD_HOST: &str = env!("CARGO_BIN_EXE_flood-host");
const SOAK_HOST: &str = env!("CARGO_BIN_EXE_soak-host");

/// Calls in flight at once on one client.
const CONCURRENT_CALLS: u64 = 10_000;
/// Plugins under one host at once.
const PLUGINS: usize = 64;
/// Only guards against a hang; no test depends on how fast anything is.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// The socket directory is empty and the plugin process is gone (a zombie counts as gone).
async fn assert_gone(pids: &[u32], sockets: &Path) {
    crate::common::eventually("every plugin process exits", || {
        pids.iter().all(|&pid| !pid_alive(pid))
    })
    .await;
    let left: Vec<_> = std::fs::read_dir(sockets)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in {}: {left:?}", sockets.display());
}

fn serde_host(sockets: &Path) -> Client {
    Client::new(
        ClientConfig::new(handshake())
            .command({
                let mut plugin = Command::new(SERDE_FIXTURE);
                plugin.env("TMPDIR", sockets);
                plugin
            })
            .plugins(
                PluginSet::new()
                    .with("jobs", JobsPlugin::host())
                    .with("echo", EchoPlugin::host()),
            )
            .unix_socket_dir(sockets),
    )
    .expect("valid config")
}

/// Every call is spawned before any is awaited; each answer must be its own call's.
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_concurrent_calls_on_one_client_all_succeed_both_encodings() {
    let sockets = tempfile::tempdir().unwrap();
    let client = serde_host(sockets.path());
    let jobs = client.dispense::<dyn Jobs>("jobs").await.unwrap();
    let echo = client.dispense::<dyn Echo>("echo").await.unwrap();

    // serde
    let mut calls = JoinSet::new();
    for i in 0..CONCURRENT_CALLS {
        let jobs = jobs.clone();
        calls.spawn(async move {
            let task = Task {
                id: i,
                tags: vec![format!("t{i}")],
                payload: i.to_le_bytes().to_vec(),
            };
            let times = (i % 3 + 1) as u32;
            let report = jobs.run(i.to_string(), times, task.clone()).await;
            (i, times, task, report)
        });
    }
    let answers = tokio::time::timeout(HANG_GUARD, calls.join_all())
        .await
        .expect("10,000 serde calls finish");
    assert_eq!(answers.len() as u64, CONCURRENT_CALLS);
    for (i, times, task, report) in answers {
        let report = report.unwrap_or_else(|e| panic!("serde call {i} failed: {e:?}"));
        assert_eq!(
            report.text,
            i.to_string().repeat(times as usize),
            "call {i}"
        );
        assert_eq!(report.task, task, "call {i}");
    }

    // protobuf
    let mut calls = JoinSet::new();
    for i in 0..CONCURRENT_CALLS {
        let echo = echo.clone();
        calls.spawn(async move {
            let text = format!("echo {i} {}", "x".repeat((i % 64) as usize));
            let reply = echo
                .echo(EchoRequest {
                    text: text.clone(),
                    ..Default::default()
                })
                .await;
            (i, text, reply)
        });
    }
    let answers = tokio::time::timeout(HANG_GUARD, calls.join_all())
        .await
        .expect("10,000 protobuf calls finish");
    assert_eq!(answers.len() as u64, CONCURRENT_CALLS);
    for (i, text, reply) in answers {
        let reply = reply.unwrap_or_else(|e| panic!("protobuf call {i} failed: {e:?}"));
        assert_eq!(reply.text, text, "call {i}");
    }

    // Still fine afterwards: the same interfaces answer, the plugin is the same process.
    let pid = client.pid().expect("a running plugin");
    let report = jobs.run(
        "after".into(),
        2,
        Task {
            id: 1,
            tags: vec![],
            payload: vec![],
        },
    );
    assert_eq!(report.await.unwrap().pid, pid);
    client.ping().await.expect("the plugin still answers pings");
    assert!(!client.exited());
    client.kill().await;
    assert_gone(&[pid], sockets.path()).await;
}

/// 64 plugins started at once, each called, all killed at once: every process and socket
/// directory is gone.
#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_plugins_under_one_host_start_answer_and_leave_nothing() {
    let sockets = tempfile::tempdir().unwrap();
    let clients: Vec<Client> = (0..PLUGINS)
        .map(|_| {
            // The plugin's own temporary files land there too, so the check covers them.
            let mut plugin = fixture("");
            plugin.env("TMPDIR", sockets.path());
            Client::new(config(plugin).unix_socket_dir(sockets.path())).unwrap()
        })
        .collect();
    let started = tokio::time::timeout(
        HANG_GUARD,
        join_all(clients.iter().map(|client| async move {
            let kv = kv(client).await;
            let pid: u32 = String::from_utf8(get(&kv, "pid").await)
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                Some(pid),
                client.pid(),
                "each client reaches its own plugin"
            );
            pid
        })),
    )
    .await
    .expect("64 plugins start and answer");
    let mut distinct = started.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        PLUGINS,
        "64 distinct processes: {started:?}"
    );
    assert!(started.iter().all(|&pid| pid_alive(pid)));

    tokio::time::timeout(HANG_GUARD, join_all(clients.iter().map(Client::kill)))
        .await
        .expect("64 plugins are killed");
    assert!(clients.iter().all(Client::exited));
    assert_gone(&started, sockets.path()).await;
}

/// What `flood-host` reports (see that binary).
#[derive(serde::Deserialize, Debug)]
struct FloodReport {
    stdout_bytes: u64,
    stdout_mismatches: u64,
    stderr_bytes: u64,
    stderr_lines: Vec<(usize, char)>,
    calls: u64,
    calls_during_flood: u64,
    call_errors: u64,
    first_call_error: Option<String>,
    flood_state: String,
    host_peak_rss_kib: u64,
    plugin_peak_rss_kib: u64,
    plugin_pid: u32,
}

/// The plugin writes 100 MB to stdout and 64 KiB lines to stderr (raw on fds 1 and 2 and
/// through Rust's handles) while the host keeps calling it: every byte arrives in order, every
/// call succeeds, and neither side holds the flood in memory.
#[tokio::test]
async fn a_plugin_flooding_stdout_and_stderr_keeps_serving_and_the_host_keeps_up() {
    const STDOUT_BYTES: u64 = 100 * 1000 * 1000;
    const STDERR_LINES: usize = 16;
    const LINE: usize = 64 * 1024;
    /// Far below the flood: a host or plugin that kept it would be over.
    const MEMORY_BOUND_KIB: u64 = 64 * 1024;
    let sockets = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(
        HANG_GUARD + Duration::from_secs(30),
        tokio::process::Command::new(FLOOD_HOST)
            .arg(FLOOD_FIXTURE)
            .arg(sockets.path())
            .args([
                STDOUT_BYTES.to_string(),
                STDERR_LINES.to_string(),
                LINE.to_string(),
            ])
            .env("TMPDIR", sockets.path())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("flood-host finishes")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "flood-host failed: {stderr}");
    let report: FloodReport = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("flood-host's report: {e}; stderr: {stderr}"));
    eprintln!("flood: {report:?}");

    assert_eq!(report.stdout_bytes, b"ready\n".len() as u64 + STDOUT_BYTES);
    assert_eq!(
        report.stdout_mismatches, 0,
        "stdout arrived out of order or altered"
    );
    assert_eq!(report.stderr_bytes, (STDERR_LINES * (LINE + 1)) as u64);
    let expected: Vec<_> = (0..STDERR_LINES)
        .map(|n| (LINE, (b'a' + n as u8) as char))
        .collect();
    assert_eq!(
        report.stderr_lines, expected,
        "stderr lines arrive whole and in order"
    );
    assert_eq!(report.flood_state, "done");

    assert_eq!(report.call_errors, 0, "{:?}", report.first_call_error);
    assert!(
        report.calls_during_flood > 0,
        "no call overlapped the flood: {report:?}"
    );
    assert!(report.calls >= report.calls_during_flood);

    assert!(
        report.host_peak_rss_kib < MEMORY_BOUND_KIB,
        "the host held the flood: peak {} KiB",
        report.host_peak_rss_kib
    );
    assert!(
        report.plugin_peak_rss_kib < MEMORY_BOUND_KIB,
        "the plugin held the flood: peak {} KiB",
        report.plugin_peak_rss_kib
    );
    assert_gone(&[report.plugin_pid], sockets.path()).await;
}

/// The soak's binary (`scripts/soak.sh` runs it for a million calls) works on a short run:
/// every call checked, one CSV row per sample, a summary with a verdict, nothing left.
#[tokio::test]
async fn the_soak_binary_runs_a_short_soak_and_writes_its_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("soak.csv");
    let sockets = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(
        HANG_GUARD,
        tokio::process::Command::new(SOAK_HOST)
            .args([
                "--calls",
                "2000",
                "--every",
                "500",
                "--plugin",
                SERDE_FIXTURE,
            ])
            .arg("--csv")
            .arg(&csv)
            .env("TMPDIR", sockets.path())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("soak-host finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 0 flat, 1 not flat (a verdict on 2,000 calls means little); 2 is a failed call.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "soak-host failed ({:?}): {stderr}",
        out.status
    );
    assert!(stdout.contains("2000 calls in"), "{stdout}");
    assert!(stdout.contains("\nverdict: "), "{stdout}");
    let rows: Vec<String> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        rows[0],
        "calls,seconds,host_rss_kib,host_fds,plugin_rss_kib,plugin_fds"
    );
    let calls: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(calls, ["0", "500", "1000", "1500", "2000"]);
    for row in &rows[1..] {
        let fields: Vec<u64> = row.split(',').skip(2).map(|f| f.parse().unwrap()).collect();
        assert!(fields.iter().all(|&f| f > 0), "a zero sample: {row}");
    }
    crate::common::eventually("the soak leaves no socket", || {
        std::fs::read_dir(sockets.path()).unwrap().next().is_none()
    })
    .await;
}
