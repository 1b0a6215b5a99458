//! The plugin binary as a Go host sees it: run directly with go-plugin's environment.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::time::Duration;

use plugin_fixtures::kv;
use plugin_runtime::{HandshakeLine, Network};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::*;

fn plugin(mode: &str) -> Command {
    let mut cmd = Command::new(FIXTURE);
    cmd.env("FIXTURE_MODE", mode)
        .env("BASIC_PLUGIN", "hello")
        .env("PLUGIN_PROTOCOL_VERSIONS", "1")
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("PLUGIN_MULTIPLEX_GRPC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Starts the plugin and returns its first stdout line, raw.
async fn start(mut cmd: Command) -> (Child, String) {
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(20), out.read_line(&mut line))
        .await
        .expect("a handshake line")
        .unwrap();
    // Keep draining stdout as a host does.
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = out.read_to_end(&mut sink).await;
    });
    (child, line)
}

fn signal(child: &Child, sig: libc::c_int) {
    let pid = child.id().unwrap() as libc::pid_t;
    unsafe { libc::kill(pid, sig) };
}

async fn exit_code(child: &mut Child) -> Option<i32> {
    tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the plugin exits")
        .unwrap()
        .code()
}

#[tokio::test]
async fn without_the_cookie_it_explains_and_exits_1() {
    let out = Command::new(FIXTURE)
        .env_remove("BASIC_PLUGIN")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("This binary is a plugin"), "{stderr}");
    let wrong = Command::new(FIXTURE)
        .env("BASIC_PLUGIN", "goodbye")
        .output()
        .await
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(wrong.stdout.is_empty());
}

#[tokio::test]
async fn handshake_is_the_first_line_with_six_fields_and_sigterm_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = plugin("");
    cmd.env("PLUGIN_UNIX_SOCKET_DIR", dir.path());
    let (mut child, raw) = start(cmd).await;
    assert!(
        raw.ends_with("|\n"),
        "six fields, empty cert, then a newline: {raw:?}"
    );
    assert_eq!(raw.matches('|').count(), 5, "{raw:?}");
    let line: HandshakeLine = raw.parse().unwrap();
    assert_eq!(line.network, Network::Unix);
    assert_eq!((line.core_version, line.app_version), (1, 1));
    assert_eq!(line.multiplex, None);
    let socket = std::path::PathBuf::from(&line.address);
    assert_eq!(socket.parent(), Some(dir.path()));
    let name = socket.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("plugin")
            && name.len() > 6
            && name[6..].chars().all(|c| c.is_ascii_alphanumeric()),
        "{name}"
    );
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "owner-only by default"
    );

    // SIGINT is the terminal's: ignored.
    signal(&child, libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(child.try_wait().unwrap().is_none(), "SIGINT is ignored");

    signal(&child, libc::SIGTERM);
    assert_eq!(exit_code(&mut child).await, Some(0));
    assert!(!socket.exists(), "socket removed on exit");
}

/// A host may signal the plugin as soon as it reads the line: with `serve` (inside the plugin's
/// runtime) and with `serve_main` (whose runtime starts after the line), SIGINT is already
/// ignored and SIGTERM already stops the plugin cleanly.
#[tokio::test]
async fn signals_sent_as_soon_as_the_line_arrives_are_handled() {
    for mode in ["", "serve-main"] {
        for _ in 0..5 {
            let (mut child, raw) = start(plugin(mode)).await;
            let line: HandshakeLine = raw.parse().unwrap();
            signal(&child, libc::SIGINT);
            signal(&child, libc::SIGTERM);
            let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
                .await
                .expect("the plugin exits")
                .unwrap();
            assert_eq!(status.code(), Some(0), "mode {mode:?}: {status}");
            assert!(
                !std::path::Path::new(&line.address).exists(),
                "mode {mode:?}: socket removed on exit"
            );
        }
    }
}

/// A plugin set the plugin cannot serve (an interface without gRPC in a gRPC set) fails before
/// the handshake line, with `serve` and with `serve_main`, saying what is wrong and the fix.
#[tokio::test]
async fn an_interface_without_grpc_fails_before_the_handshake_naming_the_fix() {
    for mode in ["no-grpc", "no-grpc-main"] {
        let out = tokio::time::timeout(Duration::from_secs(20), plugin(mode).output())
            .await
            .expect("the plugin exits instead of serving")
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "mode {mode:?}");
        assert!(out.stdout.is_empty(), "mode {mode:?}: no handshake line");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("dyn fixture::NetRpcOnly")
                && stderr.contains("no gRPC implementation")
                && stderr.contains("PluginSet::protocol(Protocol::NetRpc)"),
            "mode {mode:?}: {stderr}"
        );
    }
}

/// `serve_main` registers the plugins before its runtime exists: a hand-written registration
/// that spawns a task fails before the handshake, naming the plugin and the fix. Under `serve`
/// in the plugin's own runtime, the same registration serves.
#[tokio::test]
async fn a_registration_that_spawns_fails_under_serve_main_naming_the_fix() {
    let out = tokio::time::timeout(Duration::from_secs(20), plugin("spawns-main").output())
        .await
        .expect("the plugin exits instead of serving")
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no handshake line");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"plugin "spawns" could not be registered"#)
            && stderr.contains("grpc_server panicked")
            && stderr.contains("must not spawn tasks"),
        "{stderr}"
    );

    let (mut child, raw) = start(plugin("spawns")).await;
    assert!(raw.parse::<HandshakeLine>().is_ok(), "{raw:?}");
    signal(&child, libc::SIGTERM);
    assert_eq!(exit_code(&mut child).await, Some(0));
}

/// Asked with `PLUGIN_MULTIPLEX_GRPC`, the plugin says it multiplexes (`|true`, as go-plugin ≥ 1.6);
/// unlike go-plugin's, it still removes its socket when it stops.
#[tokio::test]
async fn seventh_field_only_when_multiplexing_is_requested() {
    let mut cmd = plugin("");
    cmd.env("PLUGIN_MULTIPLEX_GRPC", "true");
    let (mut child, raw) = start(cmd).await;
    assert_eq!(raw.matches('|').count(), 6, "{raw:?}");
    let line = raw.parse::<HandshakeLine>().unwrap();
    assert_eq!(line.multiplex, Some(true), "{raw:?}");
    signal(&child, libc::SIGTERM);
    assert_eq!(exit_code(&mut child).await, Some(0));
    assert!(
        !std::path::Path::new(&line.address).exists(),
        "socket removed on exit"
    );
}

#[tokio::test]
async fn socket_group_gives_0660_and_the_group() {
    let gid = unsafe { libc::getegid() };
    let mut cmd = plugin("");
    cmd.env("PLUGIN_UNIX_SOCKET_GROUP", gid.to_string());
    let (mut child, raw) = start(cmd).await;
    let line: HandshakeLine = raw.parse().unwrap();
    let meta = std::fs::metadata(&line.address).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid);
    signal(&child, libc::SIGTERM);
    exit_code(&mut child).await;
}

#[tokio::test]
async fn unknown_socket_group_is_an_error_naming_the_variable() {
    let mut cmd = plugin("");
    cmd.env("PLUGIN_UNIX_SOCKET_GROUP", "no-such-group-really");
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PLUGIN_UNIX_SOCKET_GROUP"), "{stderr}");
}

#[tokio::test]
async fn tcp_listens_on_loopback_within_the_port_range() {
    let mut cmd = plugin("tcp");
    cmd.env("PLUGIN_MIN_PORT", "0").env("PLUGIN_MAX_PORT", "0");
    let (mut child, raw) = start(cmd).await;
    let line: HandshakeLine = raw.parse().unwrap();
    assert_eq!(line.network, Network::Tcp);
    assert!(line.address.starts_with("127.0.0.1:"), "{}", line.address);
    signal(&child, libc::SIGTERM);
    exit_code(&mut child).await;

    // The host's port range rules; an occupied range is an error naming the variables.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let client =
        plugin_runtime::Client::new(config(fixture("tcp")).port_range(port, port)).unwrap();
    let err = client.start().await.unwrap_err();
    assert!(err.to_string().contains("PLUGIN_MIN_PORT"), "{err}");
    assert!(
        err.to_string()
            .contains("couldn't bind plugin TCP listener"),
        "{err}"
    );
    let ok = client_in_range().await;
    assert!(ok);
}

async fn client_in_range() -> bool {
    let client =
        plugin_runtime::Client::new(config(fixture("tcp")).port_range(20000, 20100)).unwrap();
    let kv = kv(&client).await;
    put(&kv, "k", b"v").await;
    let addr = client.reattach_config().unwrap().addr;
    let port: u16 = addr.address.rsplit(':').next().unwrap().parse().unwrap();
    client.kill().await;
    addr.network == Network::Tcp && (20000..=20100).contains(&port)
}

#[tokio::test]
async fn invalid_version_entries_are_reported_and_skipped() {
    let mut cmd = plugin("");
    cmd.env("PLUGIN_PROTOCOL_VERSIONS", "x,1");
    let mut child = cmd.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), err.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first, "server sent invalid plugin version \"x\"");
    signal(&child, libc::SIGTERM);
    exit_code(&mut child).await;
}

#[tokio::test]
async fn shutdown_from_a_host_ends_the_process_with_status_0() {
    let (mut child, raw) = start(plugin("")).await;
    let line: HandshakeLine = raw.parse().unwrap();
    let reattach = plugin_runtime::ReattachConfig {
        protocol: line.protocol,
        protocol_version: line.app_version,
        addr: plugin_runtime::ReattachAddr {
            network: line.network,
            address: line.address.clone(),
        },
        pid: child.id().unwrap(),
        test: false,
    };
    let host = plugin_runtime::Client::new(
        plugin_runtime::ClientConfig::new(kv::handshake())
            .reattach(reattach)
            .plugins(plugin_runtime::PluginSet::new().with("kv", kv::KvPlugin::host())),
    )
    .unwrap();
    host.ping().await.unwrap();
    host.kill().await;
    assert_eq!(exit_code(&mut child).await, Some(0));
    assert!(!std::path::Path::new(&line.address).exists());
}

#[test]
fn a_plugin_behind_a_shell_exits_when_its_host_is_killed() {
    use std::io::BufRead as _;
    for through_sh in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let mut host = std::process::Command::new(env!("CARGO_BIN_EXE_bare-host"));
        host.arg(FIXTURE)
            .env("BARE_HOST_HANG", "1")
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::piped());
        if through_sh {
            host.env("BARE_HOST_SH", "1");
        }
        let mut host = host.spawn().unwrap();
        let stdout = host.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        let pid: u32 = line
            .trim()
            .strip_prefix("plugin-pid ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the host says the plugin's pid: {line:?}"));
        host.kill().unwrap(); // SIGKILL: the host cannot stop its plugin
        host.wait().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while pid_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            !pid_alive(pid),
            "sh -c: {through_sh}: the plugin outlived its host"
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "sh -c: {through_sh}: it left {left:?}");
    }
}
