//! The `greeter` host with the real `greeter-plugin`, as a user runs them.

use std::process::{Command, Output};

fn greeter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greeter"))
        .args(args)
        .env_remove("GREETER_PLUGIN_COMMAND")
        .output()
        .expect("greeter runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn greets_with_the_plugin() {
    let out = greeter(&["Ada", "--lang", "fr", "--times", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Bonjour, Ada! Bonjour, Ada!\n");
}

#[test]
fn the_plugins_errors_are_reported_and_exit_1() {
    let out = greeter(&[" "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("a name cannot be empty"),
        "{}",
        text(&out.stderr)
    );
    let out = greeter(&["Ada", "--times", "11"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("11 greetings are too many"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_plugin_that_fails_to_start_is_reported() {
    let out = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .arg("Ada")
        .env("GREETER_PLUGIN_COMMAND", "echo 'no config' >&2; exit 3")
        .output()
        .expect("greeter runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no config"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = greeter(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("usage: greeter NAME"));
}
