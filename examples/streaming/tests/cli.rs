//! The `streamer` host and `streamer-plugin` as a person runs them: real processes, real
//! sockets, the file written and read back through streaming calls.

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../tests_common.rs"]
mod common;
use common::{assert_plugin_refuses_to_run_alone, run_host};

const STREAMER: &str = env!("CARGO_BIN_EXE_streamer");
const STREAMER_PLUGIN: &str = env!("CARGO_BIN_EXE_streamer-plugin");
const TEXT: &str = "Lorem ipsum dolor sit amet";

/// Runs `streamer` with `args` in `dir`, `STREAMER_PLUGIN` set to `plugin` (or unset: then
/// `./plugin/streamer`) and the environment `env`; checks that it left no process and no socket
/// behind.
fn streamer(dir: &Path, plugin: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(STREAMER);
    cmd.args(args)
        .env_remove("STREAMER_AUTOMTLS")
        .envs(env.iter().copied());
    run_host(cmd, dir, "STREAMER_PLUGIN", plugin)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The hclog JSON entries on the host's stderr.
fn entries(out: &Output) -> Vec<serde_json::Value> {
    stderr(out)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Checks that `out` succeeded, printed nothing on stdout and logged what go-plugin's host logs,
/// the text it read back last.
fn assert_read_back(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
    assert!(out.stdout.is_empty());
    let entries = entries(out);
    let messages: Vec<_> = entries
        .iter()
        .filter(|e| e["@level"] == "debug")
        .filter_map(|e| e["@message"].as_str())
        .filter(|m| {
            [
                "launching a client",
                "writing finished",
                "received 26 bytes",
            ]
            .contains(m)
        })
        .collect();
    assert_eq!(
        messages,
        [
            "launching a client",
            "writing finished",
            "received 26 bytes"
        ],
        "{}",
        stderr(out)
    );
    let received = entries
        .iter()
        .find(|e| e["@message"] == "received 26 bytes");
    assert_eq!(received.unwrap()["bytes"], TEXT);
    assert!(
        entries.iter().all(|e| e["@timestamp"].is_string()),
        "{}",
        stderr(out)
    );
}

/// Checks that `out` exited 1 with each of `expected` on stderr and nothing on stdout.
fn assert_fails(out: &Output, expected: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    for e in expected {
        assert!(err.contains(e), "{e:?} not in: {err}");
    }
}

/// The files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_the_file_through_the_plugin_and_reads_it_back() {
    for automtls in ["1", "0"] {
        let dir = tempfile::tempdir().unwrap();
        let env = [("STREAMER_AUTOMTLS", automtls)];
        let out = streamer(dir.path(), Some(STREAMER_PLUGIN), &["myfile"], &env);
        assert_read_back(&out);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("myfile")).unwrap(),
            TEXT
        );
        assert_eq!(files(dir.path()), ["myfile"], "no partial file left");
    }
}

#[test]
fn finds_the_plugin_at_plugin_streamer_as_go_plugins_host_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugin")).unwrap();
    std::os::unix::fs::symlink(STREAMER_PLUGIN, dir.path().join("plugin/streamer")).unwrap();
    let out = streamer(dir.path(), None, &["myfile"], &[]);
    assert_read_back(&out);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("myfile")).unwrap(),
        TEXT
    );
}

#[test]
fn replaces_a_longer_file_and_takes_absolute_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sub").join("notes.txt");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(&file, "x".repeat(10_000)).unwrap();
    let out = streamer(
        dir.path(),
        Some(STREAMER_PLUGIN),
        &[file.to_str().unwrap()],
        &[],
    );
    assert_read_back(&out);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TEXT);
    assert_eq!(files(&dir.path().join("sub")), ["notes.txt"]);
}

#[test]
fn the_plugins_errors_are_reported_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = streamer(dir.path(), Some(STREAMER_PLUGIN), &["missing/myfile"], &[]);
    assert_fails(&out, &["write: creating missing/myfile: No such file"]);

    // A directory in the way: the write fails and leaves it, and nothing else, as it was.
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let out = streamer(dir.path(), Some(STREAMER_PLUGIN), &["taken"], &[]);
    assert_fails(&out, &["write: replacing taken"]);
    assert!(dir.path().join("taken").is_dir());
    assert_eq!(files(dir.path()), ["taken"], "no partial file left");
}

#[test]
fn usage_errors_exit_1_as_go_plugins_host() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&[][..], &["a", "b"]] {
        let out = streamer(dir.path(), Some(STREAMER_PLUGIN), args, &[]);
        assert_fails(&out, &["expected path to file as an argument"]);
    }
}

#[test]
fn without_a_plugin_it_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let out = streamer(dir.path(), None, &["myfile"], &[]);
    assert_fails(
        &out,
        &[
            "STREAMER_PLUGIN is not set",
            "./plugin/streamer does not exist",
        ],
    );
}

#[test]
fn a_plugin_failing_to_start_shows_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Some("echo 'fatal: no config file' >&2; exit 4");
    let out = streamer(dir.path(), plugin, &["myfile"], &[]);
    assert_fails(&out, &["exited with status 4", "fatal: no config file"]);
}

#[test]
fn running_the_plugin_directly_explains_itself() {
    assert_plugin_refuses_to_run_alone(STREAMER_PLUGIN, "BASIC_PLUGIN");
}
