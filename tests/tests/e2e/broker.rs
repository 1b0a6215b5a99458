//! The gRPC broker across real processes: go-plugin's bidirectional example, in which the host
//! serves an `AddHelper` through the broker for every `Put` and the plugin dials it back to add
//! the numbers. Our `counter` and `counter-plugin` (examples/bidirectional) against go-plugin's
//! own `examples/bidirectional` host and plugin, in every pairing.
//!
//! Each run works in a fresh directory (the plugin keeps its counts in `kv_<key>` files there)
//! with its sockets in another (`common::run_host`); after each run no process may be left
//! working in the first, and no socket in the second, brokered ones included.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// Our host and plugin.
pub(crate) fn rust_counter() -> (PathBuf, PathBuf) {
    (
        workspace_bin("bidirectional-example", "counter"),
        workspace_bin("bidirectional-example", "counter-plugin"),
    )
}

/// go-plugin's host and plugin.
pub(crate) fn go_counter(go: &Path) -> (PathBuf, PathBuf) {
    let dir = go.join(GO_BIDIRECTIONAL);
    (dir.join("bidirectional"), dir.join("plugin-go-grpc"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A host and a plugin, run as a person runs them, in a directory of their own.
pub(crate) struct Scenario {
    host: PathBuf,
    plugin: PathBuf,
    env: Vec<(&'static str, &'static str)>,
    pub(crate) work: tempfile::TempDir,
    /// Where the plugin's sockets go instead of the checked directory of [`run_host`], for a
    /// plugin known to leave its socket behind ([`Scenario::plugin_leaves_its_socket`]).
    plugin_sockets: Option<tempfile::TempDir>,
}

impl Scenario {
    pub(crate) fn new(
        (host, plugin): (PathBuf, PathBuf),
        env: &[(&'static str, &'static str)],
    ) -> Self {
        Scenario {
            host,
            plugin,
            env: env.to_vec(),
            work: tempfile::tempdir().expect("a working directory"),
            plugin_sockets: None,
        }
    }

    /// For a plugin that leaves its socket file behind even on a clean exit (go-plugin's, in
    /// multiplexed mode, under a go-plugin host: docs/interop.md): its sockets go to a directory
    /// of the scenario's own, so that only the host's are checked. No process may be left
    /// behind all the same.
    pub(crate) fn plugin_leaves_its_socket(mut self) -> Self {
        self.plugin_sockets = Some(tempfile::tempdir().expect("a socket directory"));
        self
    }

    /// The host's command with `args` and the scenario's environment.
    pub(crate) fn host(&self, args: &[&str]) -> Command {
        let mut host = Command::new(&self.host);
        host.args(args)
            .env_remove("COUNTER_AUTOMTLS")
            .env_remove("COUNTER_MULTIPLEX")
            .envs(self.env.iter().copied());
        host
    }

    /// What `sh -c "$COUNTER_PLUGIN"` runs.
    pub(crate) fn plugin_command(&self) -> String {
        let plugin = format!("'{}'", self.plugin.display());
        match &self.plugin_sockets {
            Some(dir) => format!(
                "PLUGIN_UNIX_SOCKET_DIR='{0}' TMPDIR='{0}' {plugin}",
                dir.path().display()
            ),
            None => plugin,
        }
    }

    /// Runs the host with `args`; it launches the plugin as `sh -c "$COUNTER_PLUGIN"`.
    fn run(&self, args: &[&str]) -> Output {
        let plugin = self.plugin_command();
        run_host(
            self.host(args),
            self.work.path(),
            "COUNTER_PLUGIN",
            Some(&plugin),
        )
    }

    /// Runs the host with `args` and fails the test unless it succeeds; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            self.host.display(),
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// go-plugin's README scenario: `put hello 1` twice, then `get hello` prints `2`; the file is
    /// in the format of go-plugin's plugin.
    fn count_to_two(&self) {
        self.count(&[1, 1]);
    }

    /// `put hello N` for each step (no count for `hello` yet), then `get hello` prints their sum,
    /// which the file holds in the format of go-plugin's plugin.
    pub(crate) fn count(&self, steps: &[i64]) {
        for step in steps {
            self.ok(&["put", "hello", &step.to_string()]);
        }
        let sum: i64 = steps.iter().sum();
        assert_eq!(self.ok(&["get", "hello"]), format!("{sum}\n"));
        assert_eq!(
            std::fs::read(self.work.path().join("kv_hello")).expect("the plugin's file"),
            format!(r#"{{"Value":{sum}}}"#).as_bytes()
        );
    }
}

#[test]
fn our_host_counts_with_go_plugins_plugin_calling_back_through_the_broker() {
    let go = require_go!();
    let (host, _) = rust_counter();
    let (_, plugin) = go_counter(go);
    for automtls in ["1", "0"] {
        Scenario::new(
            (host.clone(), plugin.clone()),
            &[("COUNTER_AUTOMTLS", automtls)],
        )
        .count_to_two();
    }
}

/// go-plugin's bidirectional host sets no `AutoMTLS` (go-plugin's default is off, and no
/// environment variable turns it on), so this pairing is plaintext, brokered connection included.
#[test]
fn go_plugins_host_counts_with_our_plugin_dialling_its_callback_through_the_broker() {
    let go = require_go!();
    let (host, _) = go_counter(go);
    let (_, plugin) = rust_counter();
    Scenario::new((host, plugin), &[]).count_to_two();
}

#[test]
fn our_host_counts_with_our_plugin_through_the_broker() {
    let (host, plugin) = rust_counter();
    for automtls in ["1", "0"] {
        let scenario = Scenario::new(
            (host.clone(), plugin.clone()),
            &[("COUNTER_AUTOMTLS", automtls)],
        );
        scenario.count_to_two();
        // A count go-plugin's plugin left, and negative steps.
        std::fs::write(scenario.work.path().join("kv_go"), br#"{"Value":40}"#).unwrap();
        scenario.ok(&["put", "go", "5"]);
        scenario.ok(&["put", "go", "-3"]);
        assert_eq!(scenario.ok(&["get", "go"]), "42\n");
    }
}

/// The reference: go-plugin with itself, so that a failure above is ours, not the peers' build.
#[test]
fn go_plugins_host_counts_with_go_plugins_plugin() {
    let go = require_go!();
    Scenario::new(go_counter(go), &[]).count_to_two();
}

#[test]
fn the_hosts_callback_error_reaches_the_host_through_the_plugin() {
    let (host, plugin) = rust_counter();
    let go_plugin = go_bin().map(|go| go_counter(go).1);
    for plugin in std::iter::once(plugin).chain(go_plugin) {
        let scenario = Scenario::new((host.clone(), plugin), &[]);
        scenario.ok(&["put", "big", &i64::MAX.to_string()]);
        let out = scenario.run(&["put", "big", "1"]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains("does not fit in 64 bits"), "{err}");
        assert_eq!(scenario.ok(&["get", "big"]), format!("{}\n", i64::MAX));
    }
}
