//! The `progress` host with the real `progress-plugin`, as a user runs them.

use std::process::{Command, Output};

#[path = "../../tests_common.rs"]
#[allow(dead_code)]
mod common;

fn progress(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("a working directory");
    let mut host = Command::new(env!("CARGO_BIN_EXE_progress"));
    host.args(args);
    common::run_host(host, dir.path(), "PROGRESS_PLUGIN_COMMAND", None)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_plugin_reports_every_step_after_start_job_returned() {
    let out = progress(&["--steps", "200"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut steps: Vec<u32> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("step "))
        .filter_map(|l| l.strip_suffix("/200"))
        .map(|n| n.parse().expect("a step number"))
        .collect();
    steps.sort_unstable();
    assert_eq!(steps, (1..=200).collect::<Vec<_>>(), "{stdout}");
    assert!(
        stdout.ends_with("job 1 finished: 200 of 200 steps reported, 200 printed\n"),
        "{stdout}"
    );
}

#[test]
fn the_plugins_errors_are_reported_and_exit_1() {
    let out = progress(&["--steps", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("a job has 1 to 10000 steps, not 0"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = progress(&["--steps"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("usage: progress"));
}

#[test]
fn the_plugin_refuses_to_run_alone() {
    common::assert_plugin_refuses_to_run_alone(
        env!("CARGO_BIN_EXE_progress-plugin"),
        "PROGRESS_PLUGIN",
    );
}
