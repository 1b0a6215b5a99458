//! What the command-line tests of the examples (and the e2e tests running them) share: running
//! a host as a person does and checking that it leaves nothing behind. Each test crate includes
//! this file with `#[path]`, so that every example stays a crate of its own.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs `host` (its arguments and environment set) in `dir`, with `plugin_var` (the variable
/// holding its plugin command) set to `plugin`, or unset for the plugin next to the host. The
/// plugin's sockets go to a fresh directory (`PLUGIN_UNIX_SOCKET_DIR` and `TMPDIR`, which the
/// plugin inherits); after the run no process may be left working in `dir` and no file in that
/// directory.
pub fn run_host(mut host: Command, dir: &Path, plugin_var: &str, plugin: Option<&str>) -> Output {
    let sockets = tempfile::tempdir().expect("a socket directory");
    host.current_dir(dir)
        .env("PLUGIN_UNIX_SOCKET_DIR", sockets.path())
        .env("TMPDIR", sockets.path());
    match plugin {
        Some(p) => host.env(plugin_var, p),
        None => host.env_remove(plugin_var),
    };
    let out = host.output().expect("the host runs");
    assert_nothing_left(dir, sockets.path());
    out
}

/// No process working in `dir` and no file in `sockets`, within 5 s (a plugin's exit may still
/// be in flight when a host that does not wait for it returns).
pub fn assert_nothing_left(dir: &Path, sockets: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let processes = processes_in(dir);
        let files: Vec<_> = std::fs::read_dir(sockets)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        if processes.is_empty() && files.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind: processes in {}: {processes:?}; files in {}: {files:?}",
            dir.display(),
            sockets.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Processes whose working directory is `dir` (the plugins a test started there), as their
/// command lines; a zombie awaiting its reaper is gone already.
pub fn processes_in(dir: &Path) -> Vec<String> {
    pids_in(dir)
        .into_iter()
        .map(|(_, cmdline)| cmdline)
        .collect()
}

/// [`processes_in`], each with its process id.
pub fn pids_in(dir: &Path) -> Vec<(u32, String)> {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd == dir))
        .filter(|e| {
            std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
                !s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
        })
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read_to_string(e.path().join("cmdline"))
                .unwrap_or_default()
                .replace('\0', " ");
            Some((pid, cmdline))
        })
        .collect()
}

/// A plugin binary run by hand, without its host's cookie `cookie_key`, explains itself and
/// exits 1, as go-plugin's plugins do.
pub fn assert_plugin_refuses_to_run_alone(plugin: &str, cookie_key: &str) {
    let out = Command::new(plugin)
        .env_remove(cookie_key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("This binary is a plugin"));
}
