//! The `kv` host and `kv-plugin` as a person runs them: real processes, real sockets.

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../tests_common.rs"]
mod common;
use common::{assert_plugin_refuses_to_run_alone, processes_in, run_host};

const KV: &str = env!("CARGO_BIN_EXE_kv");
const KV_PLUGIN: &str = env!("CARGO_BIN_EXE_kv-plugin");

/// Runs `kv` in `dir` with `KV_PLUGIN` set to `plugin` (or unset: the default next to `kv`).
fn kv(dir: &Path, plugin: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(KV);
    cmd.args(args).env_remove("KV_AUTOMTLS");
    run_host(cmd, dir, "KV_PLUGIN", plugin)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn put_then_get_round_trips_through_the_plugins_files() {
    let dir = tempfile::tempdir().unwrap();
    let value = "wörld | with\ttabs and pipes";
    let put = kv(dir.path(), None, &["put", "hello", value]);
    assert!(put.status.success(), "{}", stderr(&put));
    assert_eq!(
        std::fs::read(dir.path().join("kv_hello")).unwrap(),
        value.as_bytes()
    );
    let get = kv(dir.path(), Some(KV_PLUGIN), &["get", "hello"]);
    assert!(get.status.success(), "{}", stderr(&get));
    assert_eq!(get.stdout, format!("{value}\n").as_bytes());
}

#[test]
fn binary_values_written_by_another_writer_come_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let binary: Vec<u8> = (0..=255).collect();
    std::fs::write(dir.path().join("kv_bin"), &binary).unwrap();
    let get = kv(dir.path(), Some(KV_PLUGIN), &["get", "bin"]);
    assert!(get.status.success(), "{}", stderr(&get));
    assert_eq!(&get.stdout[..256], &binary[..]);
}

#[test]
fn automtls_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(KV)
        .args(["put", "k", "v"])
        .current_dir(dir.path())
        .env("KV_AUTOMTLS", "0")
        .env("KV_PLUGIN", KV_PLUGIN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(processes_in(dir.path()).is_empty());
}

#[test]
fn missing_key_fails_with_the_plugins_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = kv(dir.path(), Some(KV_PLUGIN), &["get", "absent"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no value for key \"absent\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plugin_exiting_before_its_handshake_shows_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = kv(
        dir.path(),
        Some("echo 'fatal: no config file' >&2; exit 4"),
        &["get", "k"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("exited before we could connect"), "{err}");
    assert!(err.contains("exited with status 4"), "{err}");
    assert!(err.contains("fatal: no config file"), "{err}");
}

#[test]
fn plugin_printing_something_else_is_quoted_and_killed() {
    let dir = tempfile::tempdir().unwrap();
    let out = kv(
        dir.path(),
        Some("echo 'Starting server on :8080'; exec sleep 300"),
        &["get", "k"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("\"Starting server on :8080\""), "{err}");
}

#[test]
fn plugin_dying_in_the_middle_of_a_call_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    // Reading a FIFO blocks the plugin's Get until `timeout` kills the plugin mid-call.
    let fifo = dir.path().join("kv_stuck");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let plugin = format!("exec timeout -s KILL 1 {KV_PLUGIN}");
    let out = kv(dir.path(), Some(&plugin), &["get", "stuck"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("was killed by signal 9"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = kv(dir.path(), None, &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("usage"));
}

#[test]
fn running_the_plugin_directly_explains_itself() {
    assert_plugin_refuses_to_run_alone(KV_PLUGIN, "BASIC_PLUGIN");
}

#[test]
fn kv_plugin_in_test_mode_serves_a_reattaching_kv_host() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = Command::new(KV_PLUGIN)
        .arg("--test-mode")
        .current_dir(dir.path())
        .env_remove("BASIC_PLUGIN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(plugin.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("{\"kv\":{\"Protocol\":\"grpc\""), "{line}");

    let host = |args: &[&str]| {
        Command::new(KV)
            .args(args)
            .env("KV_REATTACH", line.trim())
            .env_remove("KV_PLUGIN")
            .output()
            .unwrap()
    };
    let put = host(&["put", "k", "through reattach"]);
    assert!(put.status.success(), "{}", stderr(&put));
    let get = host(&["get", "k"]);
    assert!(get.status.success(), "{}", stderr(&get));
    assert_eq!(get.stdout, b"through reattach\n");
    assert_eq!(
        std::fs::read(dir.path().join("kv_k")).unwrap(),
        b"through reattach"
    );
    assert!(
        plugin.try_wait().unwrap().is_none(),
        "the host leaves a test-mode plugin running"
    );

    drop(plugin.stdin.take());
    assert!(
        plugin.wait().unwrap().success(),
        "it stops when its stdin closes"
    );
}

#[test]
fn a_bad_kv_reattach_is_explained() {
    let out = Command::new(KV)
        .args(["get", "k"])
        .env("KV_REATTACH", "not json")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("KV_REATTACH is not a reattach config"),
        "{}",
        stderr(&out)
    );
}
