//! The `counter` host and `counter-plugin` as a person runs them: real processes, real sockets,
//! and the plugin calling back into the host through the gRPC broker on every put.

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../tests_common.rs"]
mod common;
use common::{assert_plugin_refuses_to_run_alone, run_host};

const COUNTER: &str = env!("CARGO_BIN_EXE_counter");
const COUNTER_PLUGIN: &str = env!("CARGO_BIN_EXE_counter-plugin");

/// Runs `counter` in `dir` with `COUNTER_PLUGIN` set to `plugin` (or unset: the default next to
/// `counter`) and the environment `env`; checks that it left no process and no socket behind.
fn counter_with(dir: &Path, plugin: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(COUNTER);
    cmd.args(args)
        .env_remove("COUNTER_AUTOMTLS")
        .envs(env.iter().copied());
    run_host(cmd, dir, "COUNTER_PLUGIN", plugin)
}

fn counter(dir: &Path, args: &[&str]) -> Output {
    counter_with(dir, Some(COUNTER_PLUGIN), args, &[])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `counter` and fails the test unless it succeeds; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = counter(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Checks that `out` exited with `code`, printing nothing on stdout and each of `expected` on
/// stderr.
fn assert_fails(out: &Output, code: i32, expected: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for e in expected {
        assert!(err.contains(e), "{e:?} not in: {err}");
    }
}

#[test]
fn put_twice_then_get_counts_through_the_hosts_add_helper() {
    for automtls in ["1", "0"] {
        let dir = tempfile::tempdir().unwrap();
        let env = [("COUNTER_AUTOMTLS", automtls)];
        for _ in 0..2 {
            let put = counter_with(dir.path(), None, &["put", "hello", "1"], &env);
            assert!(put.status.success(), "{}", stderr(&put));
            assert!(put.stdout.is_empty());
        }
        let get = counter_with(dir.path(), None, &["get", "hello"], &env);
        assert!(get.status.success(), "{}", stderr(&get));
        assert_eq!(get.stdout, b"2\n");
        assert_eq!(
            std::fs::read(dir.path().join("kv_hello")).unwrap(),
            br#"{"Value":2}"#,
            "go-plugin's plugin-go-grpc format"
        );
    }
}

#[test]
fn counts_left_by_go_plugins_plugin_go_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kv_n"), "{\"Value\": 40}\n").unwrap();
    ok(dir.path(), &["put", "n", "5"]);
    ok(dir.path(), &["put", "n", "-3"]);
    assert_eq!(ok(dir.path(), &["get", "n"]), "42\n");
}

#[test]
fn an_overflowing_sum_fails_in_the_host_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["put", "big", &i64::MAX.to_string()]);
    let out = counter(dir.path(), &["put", "big", "1"]);
    let expected = [
        "put \"big\"",
        "the host's AddHelper",
        "does not fit in 64 bits",
    ];
    assert_fails(&out, 1, &expected);
    assert_eq!(ok(dir.path(), &["get", "big"]), format!("{}\n", i64::MAX));
}

#[test]
fn the_plugins_errors_are_reported_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = counter(dir.path(), &["get", "absent"]);
    assert_fails(&missing, 1, &["no count for key \"absent\""]);
    std::fs::write(dir.path().join("kv_junk"), "not json").unwrap();
    for args in [&["get", "junk"][..], &["put", "junk", "1"]] {
        assert_fails(
            &counter(dir.path(), args),
            1,
            &["kv_junk does not hold a count"],
        );
    }
    assert_eq!(
        std::fs::read(dir.path().join("kv_junk")).unwrap(),
        b"not json"
    );
    let bad_key = counter(dir.path(), &["put", "a/b", "1"]);
    assert_fails(&bad_key, 1, &["invalid key \"a/b\""]);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let usage = "usage: counter put KEY N | counter get KEY";
    for args in [
        &[][..],
        &["frobnicate"],
        &["put", "k"],
        &["get"],
        &["get", "k", "v"],
    ] {
        assert_fails(&counter(dir.path(), args), 2, &[usage]);
    }
    let out = counter(dir.path(), &["put", "k", "one"]);
    assert_fails(&out, 2, &["N must be a 64-bit integer, not \"one\"", usage]);
}

#[test]
fn without_a_plugin_it_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join("counter");
    std::fs::copy(COUNTER, &lone).unwrap();
    let out = Command::new(&lone)
        .args(["get", "k"])
        .current_dir(dir.path())
        .env_remove("COUNTER_PLUGIN")
        .output()
        .unwrap();
    let missing = format!(
        "{} does not exist",
        dir.path().join("counter-plugin").display()
    );
    assert_fails(&out, 1, &["COUNTER_PLUGIN is not set", &missing]);
}

#[test]
fn a_plugin_failing_to_start_shows_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Some("echo 'fatal: no config file' >&2; exit 4");
    let out = counter_with(dir.path(), plugin, &["put", "k", "1"], &[]);
    assert_fails(&out, 1, &["exited with status 4", "fatal: no config file"]);
}

#[test]
fn running_the_plugin_directly_explains_itself() {
    assert_plugin_refuses_to_run_alone(COUNTER_PLUGIN, "BASIC_PLUGIN");
}
