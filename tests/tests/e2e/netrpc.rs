//! go-plugin's net/rpc protocol, both directions: our host runs go-plugin net/rpc plugins
//! (`tests/go/cmd/go-netrpc-plugin`) and go-plugin hosts (`go-netrpc-host`) run ours
//! (`netrpc-plugin`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use plugin_runtime::{
    CallError, Client, ClientConfig, Dispensed, Error, HandshakeConfig, HandshakeError, MuxBroker,
    NetRpcError, Plugin, PluginExit, PluginSet, Protocol, RpcClient, RpcServer,
};

use crate::common::{SharedBuf, eventually, pid_alive, require_go, run_host, workspace_bin};

/// The host's side of "greeter": the net/rpc client itself, for raw `Plugin.*` calls.
struct Greeter;

impl Plugin for Greeter {
    fn interface(&self) -> &'static str {
        "net/rpc greeter"
    }

    fn netrpc_client(&self, client: RpcClient, _: MuxBroker) -> Result<Dispensed, NetRpcError> {
        Ok(Dispensed::new(Arc::new(client)))
    }
}

fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "NETRPC_PLUGIN", "hello")
}

fn netrpc_config(cmd: Command) -> ClientConfig {
    ClientConfig::new(handshake())
        .command(cmd)
        .plugins(PluginSet::new().with("greeter", Greeter))
        .allowed_protocols(vec![Protocol::Grpc, Protocol::NetRpc])
}

fn go_plugin(dir: &std::path::Path) -> Command {
    Command::new(dir.join("go-netrpc-plugin"))
}

fn rust_plugin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netrpc-plugin"))
}

async fn greeter(client: &Client) -> Arc<RpcClient> {
    client.dispense::<RpcClient>("greeter").await.unwrap()
}

async fn call(greeter: &RpcClient, method: &str, arg: &str) -> Result<String, NetRpcError> {
    greeter
        .call::<String, String>(method, &arg.to_string())
        .await
}

/// Ping, dispense, calls, error strings, stdio and a graceful Quit, against `cmd`.
async fn full_round(cmd: Command, auto_mtls: bool) {
    let (out, err) = (SharedBuf::default(), SharedBuf::default());
    let client = Client::new(
        netrpc_config(cmd)
            .auto_mtls(auto_mtls)
            .sync_stdout(out.clone())
            .sync_stderr(err.clone()),
    )
    .unwrap();
    client.ping().await.unwrap();
    assert_eq!(client.protocol(), Some(Protocol::NetRpc));
    let greeter = greeter(&client).await;
    assert_eq!(
        call(&greeter, "Plugin.Greet", "Ada").await.unwrap(),
        "Hello, Ada!"
    );
    // Errors cross as their text.
    match call(&greeter, "Plugin.Fail", "no luck").await {
        Err(NetRpcError::Remote(text)) => assert_eq!(text, "no luck"),
        other => panic!("expected the plugin's error, got {other:?}"),
    }
    match call(&greeter, "Plugin.Missing", "x").await {
        Err(NetRpcError::Remote(text)) => {
            assert_eq!(text, "rpc: can't find method Plugin.Missing")
        }
        other => panic!("expected net/rpc's unknown-method error, got {other:?}"),
    }
    // Concurrent calls on one stream are matched to their answers.
    let names: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
    let answers =
        futures::future::join_all(names.iter().map(|n| call(&greeter, "Plugin.Greet", n))).await;
    for (name, answer) in names.iter().zip(answers) {
        assert_eq!(answer.unwrap(), format!("Hello, {name}!"));
    }
    greeter
        .call::<String, ()>("Plugin.Print", &"to the host".to_string())
        .await
        .unwrap();
    eventually("the plugin's stdout and stderr arrived", || {
        out.text() == "to the host" && err.text() == "err:to the host"
    })
    .await;
    let pid = client.pid().unwrap();
    client.kill().await;
    // Control.Quit: the plugin exits on its own, status 0, without being force-killed.
    match client.exit() {
        Some(PluginExit::Killed { status: Some(s) }) => assert!(s.success(), "{s:?}"),
        other => panic!("expected a graceful exit, got {other:?}"),
    }
    assert!(!pid_alive(pid));
    match call(&greeter, "Plugin.Greet", "late").await {
        Err(NetRpcError::PluginExited { .. } | NetRpcError::Shutdown { .. }) => {}
        other => panic!("calls after kill must fail, got {other:?}"),
    }
}

#[tokio::test]
async fn rust_host_runs_a_go_netrpc_plugin_with_auto_mtls() {
    let dir = require_go!();
    full_round(go_plugin(dir), true).await;
}

#[tokio::test]
async fn rust_host_runs_a_go_netrpc_plugin_without_tls() {
    let dir = require_go!();
    full_round(go_plugin(dir), false).await;
}

#[tokio::test]
async fn rust_host_runs_a_rust_netrpc_plugin() {
    full_round(rust_plugin(), true).await;
    full_round(rust_plugin(), false).await;
}

#[tokio::test]
async fn netrpc_is_refused_unless_the_host_allows_it() {
    let client = Client::new(
        ClientConfig::new(handshake())
            .command(rust_plugin())
            .plugins(PluginSet::new().with("greeter", Greeter)),
    )
    .unwrap();
    match client.start().await {
        Err(
            e @ Error::Handshake {
                reason: HandshakeError::ProtocolNotAllowed { protocol, .. },
                ..
            },
        ) => {
            assert_eq!(protocol, Protocol::NetRpc);
            // The message names the fix.
            let text = format!(
                "{e}: {}",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            );
            assert!(text.contains("allowed_protocols"), "{text}");
        }
        other => panic!("expected a refusal of net/rpc, got {other:?}"),
    }
    assert!(client.exited() || client.pid().is_none_or(|p| !pid_alive(p)));
}

#[tokio::test]
async fn mux_broker_streams_both_ways_with_a_go_plugin() {
    let dir = require_go!();
    let client = Client::new(netrpc_config(go_plugin(dir))).unwrap();
    let greeter = greeter(&client).await;
    let broker = client.mux_broker().await.unwrap();
    // Host → plugin: the plugin serves Plugin.Echo on an id of its own; we dial it.
    let id: u32 = greeter.call("Plugin.Serve", &()).await.unwrap();
    let echo = broker.dial_client(id).await.unwrap();
    let reply = echo
        .call::<String, String>("Plugin.Echo", &"from rust".to_string())
        .await
        .unwrap();
    assert_eq!(reply, "go echo: from rust");
    // Plugin → host: we serve Plugin.Echo on our id; the plugin dials it.
    let id = broker.next_id();
    let mut server = RpcServer::new();
    server.method("Plugin.Echo", |text: String| async move {
        Ok::<_, String>(format!("rust echo: {text}"))
    });
    let serving = tokio::spawn({
        let broker = broker.clone();
        async move { broker.accept_and_serve(id, server).await }
    });
    let reply: String = greeter.call("Plugin.CallHost", &id).await.unwrap();
    assert_eq!(reply, "rust echo: from go");
    // Nobody dials an id: the accept gives up after go-plugin's 5 s.
    let unused = broker.next_id();
    match broker.accept(unused).await {
        Err(e @ NetRpcError::AcceptTimeout { .. }) => {
            assert!(e.to_string().contains("timeout waiting for accept"), "{e}")
        }
        other => panic!("expected an accept timeout, got {other:?}"),
    }
    // The plugin dials an id nobody serves: its dial fails and says so.
    let missing = broker.next_id();
    let err = greeter
        .call::<u32, String>("Plugin.CallHost", &missing)
        .await
        .unwrap_err();
    assert!(matches!(err, NetRpcError::Remote(_)), "{err:?}");
    client.kill().await;
    serving.abort();
}

#[tokio::test]
async fn a_go_netrpc_plugin_dying_mid_call_fails_the_call_with_its_exit() {
    let dir = require_go!();
    let client = Client::new(netrpc_config(go_plugin(dir))).unwrap();
    let greeter = greeter(&client).await;
    let err = greeter.call::<i64, ()>("Plugin.Die", &3).await.unwrap_err();
    match &err {
        NetRpcError::PluginExited {
            exit: PluginExit::Exited(status),
            ..
        } => assert_eq!(status.code(), Some(3)),
        other => panic!("expected the plugin's exit, got {other:?}"),
    }
    assert!(err.to_string().contains("Plugin.Die"), "{err}");
    // Later calls, ping and dispense say the same.
    let err = client.ping().await.unwrap_err();
    assert!(matches!(err, Error::Call(CallError::NetRpc(_))), "{err:?}");
    client.kill().await;
}

#[tokio::test]
async fn a_kill_without_quit_answer_still_stops_the_plugin() {
    // A grace period too short for Quit's answer: the process group is SIGKILLed.
    let client = Client::new(netrpc_config(rust_plugin()).kill_grace(Duration::ZERO)).unwrap();
    client.ping().await.unwrap();
    let pid = client.pid().unwrap();
    client.kill().await;
    assert!(client.exited());
    assert!(!pid_alive(pid));
}

#[tokio::test]
async fn grpc_only_operations_on_a_netrpc_plugin_say_why_they_fail() {
    let client = Client::new(netrpc_config(rust_plugin())).unwrap();
    let err = client.connection().await.unwrap_err();
    assert!(err.to_string().contains("speaks netrpc"), "{err}");
    assert!(err.to_string().contains("mux_broker"), "{err}");
    let err = client.dispense::<RpcClient>("nope").await.unwrap_err();
    assert!(matches!(err, Error::UnknownPlugin { .. }), "{err:?}");
    client.kill().await;
}

/// go-plugin's host runs our net/rpc plugin: every check of `go-netrpc-host` passes.
fn go_host_runs_rust_plugin(auto_mtls: bool) {
    let Some(dir) = crate::common::go_bin() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut host = Command::new(dir.join("go-netrpc-host"));
    host.arg(env!("CARGO_BIN_EXE_netrpc-plugin"))
        .env("NETRPC_AUTO_MTLS", if auto_mtls { "1" } else { "0" });
    let out = run_host(host, work.path(), "NETRPC_UNUSED", None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "go-netrpc-host failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for check in [
        "protocol", "ping", "greet", "fail", "missing", "callhost", "print", "stdout", "stderr",
    ] {
        assert!(
            stdout.contains(&format!("ok {check}:")),
            "{check} missing:\n{stdout}"
        );
    }
}

#[test]
fn go_plugin_host_runs_a_rust_netrpc_plugin_with_auto_mtls() {
    go_host_runs_rust_plugin(true);
}

#[test]
fn go_plugin_host_runs_a_rust_netrpc_plugin_without_tls() {
    go_host_runs_rust_plugin(false);
}

/// go-plugin's own net/rpc examples, built from the module `tests/go` pins: `basic` and its
/// greeter `plugin`, `negotiated`, and `plugin-go-netrpc` of `examples/grpc`. `None` (after a
/// loud SKIPPED) without Go.
fn go_examples() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let fixtures = crate::common::go_bin()?;
    DIR.get_or_init(|| {
        let out = fixtures.join("go-plugin-netrpc-examples");
        let packages = [
            "examples/basic",
            "examples/basic/plugin",
            "examples/negotiated",
            "examples/grpc/plugin-go-netrpc",
        ]
        .map(|p| format!("github.com/hashicorp/go-plugin/{p}"));
        let built = Command::new("go")
            .args(["build", "-o"])
            .arg(format!("{}/", out.display()))
            .args(&packages)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("go"))
            .output()
            .expect("go ran for the other fixtures");
        assert!(
            built.status.success(),
            "building go-plugin's examples failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        Some(out)
    })
    .as_deref()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn go_plugins_basic_host_runs_our_greeter_at_plugin_greeter() {
    let Some(go) = go_examples() else { return };
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("plugin")).unwrap();
    std::fs::copy(
        workspace_bin("basic-example", "greeter-netrpc-plugin"),
        work.path().join("plugin/greeter"),
    )
    .unwrap();
    let out = run_host(Command::new(go.join("basic")), work.path(), "UNUSED", None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // go-plugin's host logs to stdout too; the greeting is its own line.
    assert!(
        text(&out.stdout).lines().any(|l| l == "Hello!"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn our_basic_host_runs_go_plugins_greeter() {
    let Some(go) = go_examples() else { return };
    let work = tempfile::tempdir().unwrap();
    let plugin = go.join("plugin");
    let host = Command::new(workspace_bin("basic-example", "basic"));
    let out = run_host(host, work.path(), "BASIC_PLUGIN_COMMAND", plugin.to_str());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"Hello!\n");
}

#[test]
fn go_plugins_negotiated_host_runs_our_plugin_over_both_protocols() {
    let Some(go) = go_examples() else { return };
    let work = tempfile::tempdir().unwrap();
    std::fs::copy(
        workspace_bin("negotiated-example", "negotiated-plugin"),
        work.path().join("kv-plugin"),
    )
    .unwrap();
    for (proto, version) in [("netrpc", 2), ("grpc", 3)] {
        let run = |args: &[&str]| {
            let mut host = Command::new(go.join("negotiated"));
            host.args(args).env("KV_PROTO", proto);
            run_host(host, work.path(), "UNUSED", None)
        };
        let put = run(&["put", "hello", "world"]);
        assert!(put.status.success(), "{proto}: {}", text(&put.stdout));
        let get = run(&["get", "hello"]);
        assert!(get.status.success(), "{proto}: {}", text(&get.stdout));
        let want = format!(
            "world\n\nWritten from plugin version {version}\nRead by plugin version {version}\n\n"
        );
        assert_eq!(text(&get.stdout), want, "{proto}");
        let missing = run(&["get", "absent"]);
        assert_eq!(missing.status.code(), Some(1), "{proto}");
        assert!(
            text(&missing.stdout).contains("open kv_absent"),
            "{proto}: {}",
            text(&missing.stdout)
        );
    }
}

#[test]
fn our_kv_host_runs_go_plugins_plugin_go_netrpc() {
    let Some(go) = go_examples() else { return };
    let work = tempfile::tempdir().unwrap();
    let plugin = go.join("plugin-go-netrpc");
    let kv = |args: &[&str], auto_mtls: &str| {
        let mut host = Command::new(workspace_bin("kv-example", "kv"));
        host.args(args).env("KV_AUTOMTLS", auto_mtls);
        run_host(host, work.path(), "KV_PLUGIN", plugin.to_str())
    };
    for auto_mtls in ["1", "0"] {
        let put = kv(&["put", "hello", "world"], auto_mtls);
        assert!(put.status.success(), "{}", text(&put.stderr));
        let get = kv(&["get", "hello"], auto_mtls);
        assert!(get.status.success(), "{}", text(&get.stderr));
        assert_eq!(
            text(&get.stdout),
            "world\n\nWritten from plugin-go-netrpc\n"
        );
        let missing = kv(&["get", "absent"], auto_mtls);
        assert_eq!(missing.status.code(), Some(1));
        assert!(
            text(&missing.stderr).contains("open kv_absent"),
            "{}",
            text(&missing.stderr)
        );
    }
}

/// A net/rpc greeter served in-process, in go-plugin's test mode.
struct InProcess;

impl Plugin for InProcess {
    fn interface(&self) -> &'static str {
        "net/rpc greeter"
    }

    fn netrpc_server(&self, _: &MuxBroker) -> Result<RpcServer, NetRpcError> {
        let mut server = RpcServer::new();
        server.method("Plugin.Greet", |name: String| async move {
            Ok::<_, String>(format!("Hello, {name}!"))
        });
        Ok(server)
    }
}

#[tokio::test]
async fn a_netrpc_plugin_in_test_mode_is_reattached_and_left_running() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (test, reattach) = plugin_runtime::ServeTestConfig::new(async {
        let _ = stopped.await;
    });
    let plugins = PluginSet::new()
        .with("greeter", InProcess)
        .protocol(Protocol::NetRpc);
    let config = plugin_runtime::ServeConfig::new(handshake())
        .plugins(plugins)
        .logging(false)
        .test(test);
    let server = tokio::spawn(plugin_runtime::serve(config));
    let reattach = reattach.await.unwrap();
    assert_eq!(reattach.protocol, Protocol::NetRpc);
    let connect = || {
        Client::new(
            ClientConfig::new(handshake())
                .reattach(reattach.clone())
                .plugins(PluginSet::new().with("greeter", Greeter))
                .allowed_protocols(vec![Protocol::NetRpc]),
        )
        .unwrap()
    };
    let client = connect();
    let greeter = greeter(&client).await;
    assert_eq!(
        call(&greeter, "Plugin.Greet", "Ada").await.unwrap(),
        "Hello, Ada!"
    );
    // A test-mode plugin is not stopped by its host: a second host finds it serving.
    client.kill().await;
    let again = connect();
    again.ping().await.unwrap();
    let greeter = self::greeter(&again).await;
    assert_eq!(
        call(&greeter, "Plugin.Greet", "Bo").await.unwrap(),
        "Hello, Bo!"
    );
    again.kill().await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the plugin stops on its own signal")
        .unwrap()
        .unwrap();
}

/// Manual TLS around the session: the host's CA-checked configuration, the plugin's own.
#[tokio::test]
async fn a_netrpc_plugin_behind_manual_tls() {
    use plugin_runtime::rustls;
    use plugin_runtime::rustls::pki_types::pem::PemObject as _;
    use plugin_runtime::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let pki = crate::security::pki();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cert = |pem: &str| CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let key = |pem: &str| PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert(&pki.ca)).unwrap();
    let roots = Arc::new(roots);
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server_tls = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert(&pki.server.0)], key(&pki.server.1))
        .unwrap();
    let client_tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![cert(&pki.client.0)], key(&pki.client.1))
        .unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (test, reattach) = plugin_runtime::ServeTestConfig::new(async {
        let _ = stopped.await;
    });
    let plugins = PluginSet::new()
        .with("greeter", InProcess)
        .protocol(Protocol::NetRpc);
    let config = plugin_runtime::ServeConfig::new(handshake())
        .plugins(plugins)
        .tls(server_tls)
        .logging(false)
        .test(test);
    let server = tokio::spawn(plugin_runtime::serve(config));
    let reattach = reattach.await.unwrap();
    let host = |tls: Option<rustls::ClientConfig>| {
        let config = ClientConfig::new(handshake())
            .reattach(reattach.clone())
            .plugins(PluginSet::new().with("greeter", Greeter))
            .allowed_protocols(vec![Protocol::NetRpc]);
        Client::new(match tls {
            Some(tls) => config.tls(tls),
            None => config,
        })
        .unwrap()
    };
    let client = host(Some(client_tls));
    let greeter = greeter(&client).await;
    assert_eq!(
        call(&greeter, "Plugin.Greet", "TLS").await.unwrap(),
        "Hello, TLS!"
    );
    client.kill().await;
    // A host without TLS gets no session: the plugin answers plaintext with a TLS alert (seen
    // while the session's streams open, or by the first call).
    let plaintext = host(None);
    let err = tokio::time::timeout(Duration::from_secs(10), plaintext.ping())
        .await
        .expect("the failure is reported, not hung")
        .unwrap_err();
    assert!(
        matches!(err, Error::Connect { .. } | Error::Call(_)),
        "{err:?}"
    );
    plaintext.kill().await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the plugin stops on its own signal")
        .unwrap()
        .unwrap();
}
