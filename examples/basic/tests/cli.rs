//! The `basic` host and `greeter-netrpc-plugin` as a person runs them (go-plugin's own basic
//! host and plugin are run against these in the plugin-tests suite).

use std::process::Command;

#[path = "../../tests_common.rs"]
mod common;
use common::{assert_plugin_refuses_to_run_alone, run_host};

const BASIC: &str = env!("CARGO_BIN_EXE_basic");
const PLUGIN: &str = env!("CARGO_BIN_EXE_greeter-netrpc-plugin");

#[test]
fn greets_over_netrpc() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_host(
        Command::new(BASIC),
        dir.path(),
        "BASIC_PLUGIN_COMMAND",
        Some(PLUGIN),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"Hello!\n");
}

#[test]
fn a_plugin_that_is_not_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_host(
        Command::new(BASIC),
        dir.path(),
        "BASIC_PLUGIN_COMMAND",
        Some("echo 'not a plugin' >&2; exit 3"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a plugin"), "{err}");
}

#[test]
fn running_the_plugin_directly_explains_itself() {
    assert_plugin_refuses_to_run_alone(PLUGIN, "BASIC_PLUGIN");
}
