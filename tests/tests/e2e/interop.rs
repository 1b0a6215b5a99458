//! Interoperability with go-plugin itself, both directions, against the Go fixtures in
//! `tests/go` (built once per run with `go build`, see `common::go_bin`).

use std::path::Path;
use std::process::{Command, Output};

use plugin_fixtures::kv::{self, GetRequest, KvPlugin, PutRequest};
use plugin_runtime::{Client, ClientConfig, Code, PluginExit, PluginSet};
use serde_json::Value;

use crate::common::*;

/// The Go plugin, working in a directory of its own (it stores values as `kv_<key>` files).
fn go_plugin(dir: &Path) -> Command {
    let work = dir.join("work");
    let _ = std::fs::create_dir_all(&work);
    let mut cmd = Command::new(dir.join("go-kv-plugin"));
    cmd.current_dir(work);
    cmd
}

/// Runs the Go host with `args` and environment `envs`.
///
/// go-plugin hosts SIGKILL a plugin they refuse after its handshake, and a killed plugin cannot
/// remove its socket: the plugin's sockets go to a directory removed after the run.
fn go_host(dir: &Path, plugin: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let sockets = tempfile::tempdir().expect("a socket directory");
    let mut cmd = Command::new(dir.join("go-kv-host"));
    cmd.env("PLUGIN_UNIX_SOCKET_DIR", sockets.path());
    cmd.args(args)
        .env("KV_PLUGIN", plugin)
        .env_remove("KV_AUTOMTLS")
        .env_remove("KV_HOST_VERSIONS")
        .env_remove("FIXTURE_VERSIONS");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("go-kv-host runs")
}

/// The command that runs our `kv-plugin` (which stores values as files) working in `work`.
fn kv_plugin_in(work: &Path) -> String {
    format!(
        "cd '{}' && exec '{}'",
        work.display(),
        workspace_bin("kv-example", "kv-plugin").display()
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The Go host's hclog JSON lines.
fn json_lines(stderr: &[u8]) -> Vec<Value> {
    text(stderr)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

// ---- Rust host, Go plugin -------------------------------------------------------------------

#[tokio::test]
async fn rust_host_runs_a_go_plugin_with_and_without_automtls() {
    let dir = require_go!();
    for automtls in [true, false] {
        let client = Client::new(config(go_plugin(dir)).auto_mtls(automtls)).unwrap();
        let kv = kv(&client).await;
        client.ping().await.unwrap();
        let key = unique("bin");
        let binary: Vec<u8> = (0..=255).collect();
        put(&kv, &key, &binary).await;
        assert_eq!(get(&kv, &key).await, binary);
        let mib: Vec<u8> = (0..1024 * 1024).map(|i| (i % 253) as u8).collect();
        put(&kv, &format!("{key}-mib"), &mib).await;
        assert_eq!(get(&kv, &format!("{key}-mib")).await, mib);
        client.kill().await;
        assert!(
            matches!(client.exit(), Some(PluginExit::Killed { status: Some(s) }) if s.success()),
            "the Go plugin exited on Shutdown, before any force-kill (AutoMTLS {automtls}): {:?}",
            client.exit()
        );
        for f in [key.clone(), format!("{key}-mib")] {
            let _ = std::fs::remove_file(dir.join("work").join(format!("kv_{f}")));
        }
    }
}

#[tokio::test]
async fn past_4_mib_a_go_plugin_refuses_the_message() {
    let dir = require_go!();
    let client = client(go_plugin(dir));
    let kv = kv(&client).await;
    let err = kv
        .put(PutRequest {
            key: "too-big".into(),
            value: vec![7; 5 * 1024 * 1024],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("larger than max"), "{err:?}");
    // The connection survives.
    client.ping().await.unwrap();
    client.kill().await;
}

#[tokio::test]
async fn go_plugin_stdio_reaches_the_rust_hosts_writers_byte_exact() {
    let dir = require_go!();
    let (out, err) = (SharedBuf::default(), SharedBuf::default());
    let client = Client::new(
        config(go_plugin(dir))
            .sync_stdout(out.clone())
            .sync_stderr(err.clone()),
    )
    .unwrap();
    let kv = kv(&client).await;
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    put(&kv, "stdout", &binary).await;
    put(&kv, "stderr", b"line one\nline two\n").await;
    eventually("the Go plugin's stdout and stderr arrived", || {
        out.bytes().len() >= binary.len() && err.bytes().len() >= b"line one\nline two\n".len()
    })
    .await;
    client.kill().await;
    assert_eq!(out.bytes(), binary);
    assert_eq!(err.bytes(), b"line one\nline two\n");
}

#[tokio::test]
async fn go_plugin_hclog_becomes_rust_tracing_at_its_level_with_its_fields() {
    let dir = require_go!();
    capture_logs();
    let name = unique("go-logs");
    let client = Client::new(config(go_plugin(dir)).name(&name)).unwrap();
    let kv = kv(&client).await;
    assert_logs_at_their_levels(&kv, &client, "go says", "go-plugin").await;
}

#[tokio::test]
async fn versions_with_a_go_plugin_highest_common_or_a_clear_refusal() {
    let dir = require_go!();
    let set = || PluginSet::new().with("kv", KvPlugin::host());
    let mut cmd = go_plugin(dir);
    cmd.env("KV_PLUGIN_VERSIONS", "1,2,3");
    let client = Client::new(
        ClientConfig::new(kv::handshake())
            .command(cmd)
            .versioned_plugins(2, set())
            .versioned_plugins(3, set())
            .versioned_plugins(9, set()),
    )
    .unwrap();
    let kv = kv(&client).await;
    assert_eq!(client.negotiated_version(), Some(3));
    assert_eq!(get(&kv, "version").await, b"3");
    client.kill().await;

    let mut cmd = go_plugin(dir);
    cmd.env("KV_PLUGIN_VERSIONS", "1,2");
    let client = Client::new(
        ClientConfig::new(kv::handshake())
            .command(cmd)
            .versioned_plugins(5, set()),
    )
    .unwrap();
    let err = client.start().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Plugin version: 1, Client versions: [5]"),
        "{err}"
    );
}

#[tokio::test]
async fn rust_host_reattaches_to_a_go_plugin_in_test_mode() {
    let dir = require_go!();
    let mut cmd = tokio::process::Command::new(dir.join("go-kv-plugin"));
    cmd.arg("-test-mode");
    let mut plugin = TestModePlugin::start(cmd).await;
    let reattach = plugin.reattach["kv"].clone();
    assert!(reattach.test);
    assert_eq!(reattach.pid, plugin.pid());
    let host = reattach_client(reattach);
    let kv = kv(&host).await;
    assert_eq!(get(&kv, "version").await, b"1");
    host.kill().await;
    assert!(plugin.is_running(), "a test-mode plugin is not killed");
    assert!(plugin.stop().await.success());
}

#[tokio::test]
async fn a_go_plugin_dying_mid_call_fails_the_call() {
    let dir = require_go!();
    let client = client(go_plugin(dir));
    let kv = kv(&client).await;
    let err = put_exit(&kv).await;
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    eventually("the Go plugin's exit is noticed", || client.exited()).await;
    assert!(kv.get(GetRequest { key: "x".into() }).await.is_err());
    client.kill().await;
}

// ---- Go host, Rust plugin -------------------------------------------------------------------

#[tokio::test]
async fn go_host_runs_the_rust_kv_plugin_with_and_without_automtls() {
    let dir = require_go!();
    let work = tempfile::tempdir().unwrap();
    let plugin = kv_plugin_in(work.path());
    let value_file = work.path().join("value");
    let back_file = work.path().join("back");
    let mib: Vec<u8> = (0..1024 * 1024).map(|i| (i % 249) as u8).collect();
    for automtls in ["1", "0"] {
        let env = [("KV_AUTOMTLS", automtls)];
        let ping = go_host(dir, &plugin, &["ping"], &env);
        assert!(ping.status.success(), "{}", text(&ping.stderr));
        assert_eq!(text(&ping.stdout).trim(), "ok");
        std::fs::write(&value_file, &mib).unwrap();
        let put = go_host(
            dir,
            &plugin,
            &["put-file", "mib", value_file.to_str().unwrap()],
            &env,
        );
        assert!(put.status.success(), "{}", text(&put.stderr));
        let get = go_host(
            dir,
            &plugin,
            &["get-file", "mib", back_file.to_str().unwrap()],
            &env,
        );
        assert!(get.status.success(), "{}", text(&get.stderr));
        assert_eq!(std::fs::read(&back_file).unwrap(), mib);
        let binary: Vec<u8> = (1..=255).collect();
        std::fs::write(&value_file, &binary).unwrap();
        let put = go_host(
            dir,
            &plugin,
            &["put-file", "bin", value_file.to_str().unwrap()],
            &env,
        );
        assert!(put.status.success(), "{}", text(&put.stderr));
        let get = go_host(dir, &plugin, &["get", "bin"], &env);
        assert_eq!(get.stdout, binary);
        let missing = go_host(dir, &plugin, &["get", "nope"], &env);
        assert!(!missing.status.success());
        assert!(
            text(&missing.stderr).contains("no value for key"),
            "{}",
            text(&missing.stderr)
        );
        for run in [&ping, &put, &get, &missing] {
            let log = text(&run.stderr);
            assert!(
                !log.contains("plugin failed to exit gracefully"),
                "the Go host must see a graceful exit (AutoMTLS {automtls}):\n{log}"
            );
        }
    }
}

#[tokio::test]
async fn rust_plugin_stdio_reaches_the_go_hosts_sync_writers_byte_exact() {
    let dir = require_go!();
    let work = tempfile::tempdir().unwrap();
    // One pair of files per host run: the Go host truncates them when it opens them.
    for (key, value) in [
        ("stdout", &b"bytes to stdout\x01\x7f"[..]),
        ("stderr", &b"to stderr\nsecond line\n"[..]),
    ] {
        let out = work.path().join(format!("{key}.out"));
        let err = work.path().join(format!("{key}.err"));
        let env = [
            ("KV_SYNC_STDOUT", out.to_str().unwrap()),
            ("KV_SYNC_STDERR", err.to_str().unwrap()),
        ];
        let value = std::str::from_utf8(value).unwrap();
        let r = go_host(dir, FIXTURE, &["put", key, value], &env);
        assert!(r.status.success(), "{}", text(&r.stderr));
        let (wanted, other) = if key == "stdout" {
            (&out, &err)
        } else {
            (&err, &out)
        };
        assert_eq!(std::fs::read(wanted).unwrap(), value.as_bytes());
        assert_eq!(std::fs::read(other).unwrap(), b"");
    }
}

#[tokio::test]
async fn rust_tracing_shows_in_the_go_hosts_hclog_at_its_level_with_its_fields() {
    let dir = require_go!();
    for level in ["trace", "debug", "info", "warn", "error"] {
        let message = format!("rust says {level}");
        let r = go_host(
            dir,
            FIXTURE,
            &["put", &format!("log-{level}"), &message],
            &[],
        );
        assert!(r.status.success(), "{}", text(&r.stderr));
        let lines = json_lines(&r.stderr);
        let line = lines
            .iter()
            .find(|l| l["@message"] == message.as_str())
            .unwrap_or_else(|| {
                panic!("{message:?} not in the Go host's log:\n{}", text(&r.stderr))
            });
        assert_eq!(line["@level"], level, "{line}");
        assert_eq!(line["answer"], 42, "{line}");
        assert_eq!(line["source"], "rust", "{line}");
    }
}

#[tokio::test]
async fn go_host_negotiates_versions_with_the_rust_plugin() {
    let dir = require_go!();
    let env = [("FIXTURE_VERSIONS", "1,2,3"), ("KV_HOST_VERSIONS", "2,3")];
    let r = go_host(dir, FIXTURE, &["get", "version"], &env);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert_eq!(r.stdout, b"3");
    let env = [("FIXTURE_VERSIONS", "1,2"), ("KV_HOST_VERSIONS", "5")];
    let r = go_host(dir, FIXTURE, &["get", "version"], &env);
    assert!(!r.status.success());
    let err = text(&r.stderr);
    assert!(
        err.contains("incompatible API version with plugin"),
        "{err}"
    );
}

/// A go-plugin host asking for broker multiplexing (`GRPCBrokerMultiplex`): our plugin answers
/// `true` and serves the main connection as a yamux session, the KV calls included.
#[tokio::test]
async fn go_host_multiplexes_with_the_rust_kv_plugin_with_and_without_automtls() {
    let dir = require_go!();
    let work = tempfile::tempdir().unwrap();
    let plugin = kv_plugin_in(work.path());
    for automtls in ["1", "0"] {
        let env = [("KV_MULTIPLEX", "1"), ("KV_AUTOMTLS", automtls)];
        let ping = go_host(dir, &plugin, &["ping"], &env);
        assert!(ping.status.success(), "{}", text(&ping.stderr));
        assert_eq!(text(&ping.stdout).trim(), "ok");
        let value = format!("multiplexed, AutoMTLS {automtls}");
        let put = go_host(dir, &plugin, &["put", "mux", &value], &env);
        assert!(put.status.success(), "{}", text(&put.stderr));
        let get = go_host(dir, &plugin, &["get", "mux"], &env);
        assert!(get.status.success(), "{}", text(&get.stderr));
        assert_eq!(text(&get.stdout), value);
        for run in [&ping, &put, &get] {
            let log = text(&run.stderr);
            assert!(
                log.contains("client muxer connected"),
                "the Go host multiplexed (its yamux session is up):\n{log}"
            );
            assert!(
                !log.contains("plugin failed to exit gracefully"),
                "the Go host must see a graceful exit (AutoMTLS {automtls}):\n{log}"
            );
        }
    }
}

#[tokio::test]
async fn go_host_reattaches_to_a_rust_plugin_in_test_mode() {
    let dir = require_go!();
    let mut cmd = tokio::process::Command::new(FIXTURE);
    cmd.env("FIXTURE_MODE", "test-mode");
    let mut plugin = TestModePlugin::start(cmd).await;
    let reattach = serde_json::to_string(&plugin.reattach["kv"]).unwrap();
    let r = go_host(
        dir,
        "false",
        &["get", "version"],
        &[("KV_REATTACH", &reattach)],
    );
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert_eq!(r.stdout, b"1");
    assert!(
        plugin.is_running(),
        "the Go host left the test-mode plugin running"
    );
    assert!(plugin.stop().await.success());
}

#[tokio::test]
async fn go_host_survives_a_rust_plugin_dying_mid_call() {
    let dir = require_go!();
    let r = go_host(dir, FIXTURE, &["put", "exit", "now"], &[]);
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    let err = text(&r.stderr);
    assert!(err.contains("Unavailable"), "{err}");
    assert!(
        err.contains("exit status 3"),
        "the Go host saw the plugin's exit: {err}"
    );
}

#[tokio::test]
async fn go_host_sends_more_than_4_mib_to_a_rust_plugin() {
    let dir = require_go!();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("five");
    std::fs::write(&file, vec![5u8; 5 * 1024 * 1024]).unwrap();
    let r = go_host(
        dir,
        FIXTURE,
        &["put-file", "five", file.to_str().unwrap()],
        &[],
    );
    assert!(
        r.status.success(),
        "a Rust plugin accepts up to 256 MiB: {}",
        text(&r.stderr)
    );
}

#[tokio::test]
async fn go_host_reattaches_to_the_kv_plugin_in_test_mode() {
    let dir = require_go!();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(workspace_bin("kv-example", "kv-plugin"));
    cmd.arg("--test-mode").current_dir(work.path());
    let mut plugin = TestModePlugin::start(cmd).await;
    let reattach = serde_json::to_string(&plugin.reattach["kv"]).unwrap();
    let put = go_host(
        dir,
        "false",
        &["put", "k", "from go"],
        &[("KV_REATTACH", &reattach)],
    );
    assert!(put.status.success(), "{}", text(&put.stderr));
    let get = go_host(dir, "false", &["get", "k"], &[("KV_REATTACH", &reattach)]);
    assert_eq!(get.stdout, b"from go");
    assert!(plugin.is_running());
    assert!(plugin.stop().await.success());
}
