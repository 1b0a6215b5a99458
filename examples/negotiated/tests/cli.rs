//! The `negotiated` host and `negotiated-plugin` as a person runs them: the host's protocol
//! version picks the plugin's protocol (go-plugin's own host runs the plugin in the
//! plugin-tests suite).

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../tests_common.rs"]
mod common;
use common::{assert_plugin_refuses_to_run_alone, run_host};

const HOST: &str = env!("CARGO_BIN_EXE_negotiated");
const PLUGIN: &str = env!("CARGO_BIN_EXE_negotiated-plugin");

fn negotiated(dir: &Path, proto: &str, args: &[&str]) -> Output {
    let mut host = Command::new(HOST);
    host.args(args).env("KV_PROTO", proto);
    run_host(host, dir, "KV_PLUGIN", Some(PLUGIN))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_2_speaks_netrpc_and_version_3_grpc() {
    let dir = tempfile::tempdir().unwrap();
    for (proto, version) in [("netrpc", 2), ("grpc", 3)] {
        let put = negotiated(dir.path(), proto, &["put", "hello", "world"]);
        assert!(put.status.success(), "{proto}: {}", text(&put.stderr));
        let get = negotiated(dir.path(), proto, &["get", "hello"]);
        assert!(get.status.success(), "{proto}: {}", text(&get.stderr));
        assert_eq!(
            text(&get.stdout),
            format!(
                "world\n\nWritten from plugin version {version}\nRead by plugin version {version}\n\n"
            )
        );
    }
}

#[test]
fn errors_cross_both_protocols_as_text() {
    let dir = tempfile::tempdir().unwrap();
    for proto in ["netrpc", "grpc"] {
        let out = negotiated(dir.path(), proto, &["get", "absent"]);
        assert_eq!(out.status.code(), Some(1), "{proto}");
        let err = text(&out.stderr);
        assert!(err.contains("open kv_absent"), "{proto}: {err}");
        // The plugin's own text, with no gRPC code (net/rpc has none).
        assert!(
            err.starts_with("negotiated: get \"absent\": "),
            "{proto}: {err}"
        );
        assert!(!err.contains("code:"), "{proto}: {err}");
    }
}

#[test]
fn the_host_needs_kv_proto() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = Command::new(HOST);
    host.args(["get", "x"]).env_remove("KV_PROTO");
    let out = run_host(host, dir.path(), "KV_PLUGIN", Some(PLUGIN));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("KV_PROTO"));
}

#[test]
fn running_the_plugin_directly_explains_itself() {
    assert_plugin_refuses_to_run_alone(PLUGIN, "BASIC_PLUGIN");
}
