//! Hosts written on other gRPC stacks drive our plugin: Python's grpcio (grpc C-core) in
//! `tests/python` and Node's @grpc/grpc-js in `tests/node`. Each launches the fixture plugin the
//! go-plugin way (environment, handshake line), calls the health service, KV Put/Get and
//! GRPCController.Shutdown, plaintext and with AutoMTLS, and checks that the plugin exited and
//! removed its socket; this side checks again that nothing is left.
//!
//! These stacks send `:authority` values h2 refuses (grpc C-core: the socket path
//! percent-encoded; grpc-java and .NET: the path itself, which the Node host sends here with
//! `--authority socket-path`). Without the runtime's `:authority` adapter every call fails with
//! RST_STREAM(PROTOCOL_ERROR) (`transport::authority`'s unit tests keep that control).
//!
//! Needs `pip install -r tests/python/requirements.txt` (grpcio, grpcio-tools, protobuf,
//! cryptography; `PYTHON` picks the interpreter, default `python3`) and `npm ci --prefix
//! tests/node`; without them the tests say SKIPPED, unless PLUGIN_TESTS_REQUIRE_FOREIGN is set.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::*;

const REQUIRE: &str = "PLUGIN_TESTS_REQUIRE_FOREIGN";

fn tests_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `probe` runs and succeeds; otherwise why not, with its output.
fn probe(mut probe: Command) -> Result<(), String> {
    match probe.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            // The error line says it (Python's ModuleNotFoundError, Node's "Cannot find module").
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = (stderr.lines().find(|l| l.contains("Error")))
                .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()));
            Err(format!("{probe:?} failed: {}", why.unwrap_or("").trim()))
        }
        Err(e) => Err(format!("{:?} cannot run: {e}", probe.get_program())),
    }
}

/// `Some(())` when the stack can run; else SKIPPED once (loudly) or a failure when required.
fn available(stack: &str, check: &Result<(), String>, install: &str) -> Option<()> {
    match check {
        Ok(()) => Some(()),
        Err(why) => {
            if std::env::var_os(REQUIRE).is_some() {
                panic!(
                    "the {stack} host is required here ({REQUIRE}) but cannot run: {why}. Install: {install}"
                );
            }
            eprintln!(
                "\n=== SKIPPED: foreign-host tests ({stack}) because {why}. Install: {install} \
                 (set {REQUIRE}=1 to make this a failure) ===\n"
            );
            None
        }
    }
}

fn python() -> Option<PathBuf> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let program = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    let check = CHECK.get_or_init(|| {
        let mut cmd = Command::new(&program);
        cmd.args([
            "-c",
            "import grpc, grpc_tools, google.protobuf, cryptography",
        ]);
        probe(cmd)
    });
    available(
        "Python grpcio",
        check,
        "pip install -r tests/python/requirements.txt",
    )?;
    Some(program.into())
}

fn node() -> Option<()> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let check = CHECK.get_or_init(|| {
        let mut cmd = Command::new("node");
        cmd.current_dir(tests_dir().join("node")).args([
            "-e",
            // In foreign_host.js's order: @peculiar/x509 needs reflect-metadata loaded first.
            "for (const m of ['reflect-metadata', '@grpc/grpc-js', '@grpc/proto-loader', \
             '@peculiar/x509']) require(m)",
        ]);
        probe(cmd)
    });
    available("Node @grpc/grpc-js", check, "npm ci --prefix tests/node")
}

/// Runs a host script with `args` against the fixture plugin (in `mode`), in a directory of its
/// own, and returns its `RESULT` line; fails the test on anything else or on anything left.
fn run_foreign_host(mut host: Command, mode: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("a working directory");
    host.args(args).env("FIXTURE_MODE", mode);
    let out = run_host(host, dir.path(), "KV_PLUGIN", Some(FIXTURE));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the host failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}\nstderr:\n{stderr}"));
    let result: Value = serde_json::from_str(line).expect("RESULT is JSON");
    assert_eq!(
        result["calls"],
        serde_json::json!(["health", "put", "get", "get-missing", "shutdown"]),
        "{result}"
    );
    assert_eq!(result["exit"], 0, "the plugin's exit status: {result}");
    let pid = result["pid"].as_u64().expect("pid") as u32;
    assert!(!pid_alive(pid), "the plugin {pid} still runs");
    if result["network"] == "unix" {
        let socket = result["address"].as_str().expect("address");
        assert!(!Path::new(socket).exists(), "{socket} is left");
    }
    result
}

fn python_host(python: PathBuf) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(tests_dir().join("python").join("foreign_host.py"));
    cmd
}

fn node_host() -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(tests_dir().join("node").join("foreign_host.js"));
    cmd
}

#[test]
fn a_python_grpcio_host_is_served_over_plaintext_with_grpc_cores_authority() {
    let Some(python) = python() else { return };
    let result = run_foreign_host(python_host(python), "", &[]);
    assert_eq!(result["network"], "unix");
    assert_eq!(result["authority"], Value::Null, "grpc's own authority");
}

#[test]
fn a_python_grpcio_host_is_served_with_automtls() {
    let Some(python) = python() else { return };
    let result = run_foreign_host(python_host(python), "", &["--tls"]);
    assert_eq!(result["tls"], true);
}

#[test]
fn a_python_grpcio_host_sending_the_socket_path_is_served_with_automtls() {
    let Some(python) = python() else { return };
    let result = run_foreign_host(
        python_host(python),
        "",
        &["--tls", "--authority", "socket-path"],
    );
    assert_eq!(result["authority"], result["address"]);
}

#[test]
fn a_python_grpcio_host_is_served_over_tcp() {
    let Some(python) = python() else { return };
    let result = run_foreign_host(python_host(python), "tcp", &[]);
    assert_eq!(result["network"], "tcp");
}

#[test]
fn a_node_grpc_js_host_sending_the_socket_path_is_served_over_plaintext() {
    let Some(()) = node() else { return };
    let result = run_foreign_host(node_host(), "", &["--authority", "socket-path"]);
    assert_eq!(result["authority"], result["address"]);
}

#[test]
fn a_node_grpc_js_host_sending_the_socket_path_is_served_with_automtls() {
    let Some(()) = node() else { return };
    let result = run_foreign_host(node_host(), "", &["--tls", "--authority", "socket-path"]);
    assert_eq!(result["tls"], true);
}

#[test]
fn a_node_grpc_js_host_with_its_own_authority_is_served() {
    let Some(()) = node() else { return };
    run_foreign_host(node_host(), "", &[]);
}
