//! Every way a start can fail: a distinct error naming the cause, and no process left behind.

use std::process::Command;
use std::time::Duration;

use plugin_fixtures::kv::{self, KvPlugin};
use plugin_runtime::{Client, Error, PluginSet, Protocol, SecureConfig};
use plugin_runtime::{ConfigError, HandshakeError, SecureConfigError};

use crate::common::*;

pub(crate) async fn start_error(config: plugin_runtime::ClientConfig) -> (Error, Option<u32>) {
    start_error_in(config, None).await
}

/// Starts `config` expecting a failure; with `sockets` (the plugin's `PLUGIN_UNIX_SOCKET_DIR`),
/// also checks that no socket was left there.
async fn start_error_in(
    config: plugin_runtime::ClientConfig,
    sockets: Option<&std::path::Path>,
) -> (Error, Option<u32>) {
    let client = Client::new(config).unwrap();
    let err = client.start().await.unwrap_err();
    let pid = client.pid();
    if let Some(pid) = pid {
        assert!(!pid_alive(pid), "a failed start leaves no process: {err}");
    }
    if let Some(dir) = sockets {
        let left: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "sockets left behind: {left:?}");
    }
    (err, pid)
}

/// The fixture with its sockets in a directory of the test's own.
fn fixture_in(mode: &str, sockets: &tempfile::TempDir) -> Command {
    let mut cmd = fixture(mode);
    cmd.env("PLUGIN_UNIX_SOCKET_DIR", sockets.path());
    cmd
}

#[tokio::test]
async fn plugin_exiting_before_its_handshake() {
    let (err, _) = start_error(config(fixture("exit-early"))).await;
    assert!(
        matches!(err, Error::ExitedBeforeHandshake { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("exited with status 7"), "{msg}");
    assert!(
        msg.contains("cannot open /nonexistent/config.toml"),
        "stderr shown: {msg}"
    );
}

#[tokio::test]
async fn junk_instead_of_a_handshake_is_quoted() {
    let (err, pid) = start_error(config(fixture("junk"))).await;
    assert!(pid.is_some());
    assert!(
        matches!(&err, Error::Handshake { reason: HandshakeError::Unrecognized { line }, .. }
            if line == "hello from a misbehaving plugin"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("\"hello from a misbehaving plugin\"")
    );
}

#[tokio::test]
async fn junk_then_exit_is_still_quoted() {
    let (err, _) = start_error(config(fixture("junk-exit"))).await;
    assert!(err.to_string().contains("this is not a handshake"), "{err}");
}

#[tokio::test]
async fn wrong_core_version() {
    let (err, _) = start_error(config(fixture("bad-core"))).await;
    assert!(
        matches!(
            &err,
            Error::Handshake {
                reason: HandshakeError::IncompatibleCoreVersion { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn netrpc_is_refused_clearly() {
    let (err, _) = start_error(config(fixture("netrpc"))).await;
    assert!(
        matches!(
            &err,
            Error::Handshake {
                reason: HandshakeError::ProtocolNotAllowed {
                    protocol: Protocol::NetRpc,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("allowed_protocols"), "{err}");
}

#[tokio::test]
async fn silent_plugin_times_out() {
    let (err, pid) =
        start_error(config(fixture("silent")).start_timeout(Duration::from_millis(300))).await;
    assert!(pid.is_some());
    assert!(matches!(err, Error::StartTimeout { .. }), "{err:?}");
    assert!(err.to_string().contains("start_timeout"), "{err}");
}

#[tokio::test]
async fn no_common_version_lists_both_sides() {
    let sockets = tempfile::tempdir().unwrap();
    let mut cmd = fixture_in("", &sockets);
    cmd.env("FIXTURE_VERSIONS", "1,2");
    let config = plugin_runtime::ClientConfig::new(kv::handshake())
        .command(cmd)
        .versioned_plugins(5, PluginSet::new().with("kv", KvPlugin::host()))
        .versioned_plugins(6, PluginSet::new().with("kv", KvPlugin::host()));
    let (err, _) = start_error_in(config, Some(sockets.path())).await;
    assert!(
        matches!(&err, Error::Handshake { reason: HandshakeError::IncompatibleAppVersion { plugin: 1, host }, .. } if host == &vec![5, 6]),
        "{err:?}"
    );
    assert!(err.to_string().contains("Client versions: [5, 6]"), "{err}");
}

#[tokio::test]
async fn highest_common_version_wins() {
    let mut cmd = fixture("");
    cmd.env("FIXTURE_VERSIONS", "1,2,3,4");
    let config = plugin_runtime::ClientConfig::new(kv::handshake())
        .command(cmd)
        .versioned_plugins(2, PluginSet::new().with("kv", KvPlugin::host()))
        .versioned_plugins(3, PluginSet::new().with("kv", KvPlugin::host()))
        .versioned_plugins(7, PluginSet::new().with("kv", KvPlugin::host()));
    let client = Client::new(config).unwrap();
    let kv = kv(&client).await;
    assert_eq!(client.negotiated_version(), Some(3));
    assert_eq!(get(&kv, "version").await, b"3");
    client.kill().await;
}

#[tokio::test]
async fn missing_binary_names_the_path() {
    let (err, pid) = start_error(config(Command::new("/nonexistent/plugin-binary"))).await;
    assert!(pid.is_none());
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/plugin-binary"),
        "{err}"
    );
}

#[tokio::test]
async fn plugin_without_automtls_is_refused_naming_the_opt_out() {
    let sockets = tempfile::tempdir().unwrap();
    let (err, _) = start_error_in(
        config(fixture_in("no-cert", &sockets)),
        Some(sockets.path()),
    )
    .await;
    assert!(matches!(err, Error::AutoMtlsNotAnswered { .. }), "{err:?}");
    assert!(err.to_string().contains("auto_mtls(false)"), "{err}");
    // With the opt-out the same plugin works.
    let client = Client::new(config(fixture("no-cert")).auto_mtls(false)).unwrap();
    client.ping().await.unwrap();
    client.kill().await;
}

#[tokio::test]
async fn wrong_checksum_is_refused_before_launch() {
    let (err, pid) =
        start_error(config(fixture("")).secure(SecureConfig::sha256(vec![0; 32]))).await;
    assert!(pid.is_none(), "nothing was launched");
    assert!(
        matches!(err, Error::Secure(SecureConfigError::Mismatch { .. })),
        "{err:?}"
    );
    let (err, _) = start_error(config(fixture("")).secure(SecureConfig::sha256(vec![]))).await;
    assert!(
        matches!(err, Error::Secure(SecureConfigError::NoChecksum)),
        "{err:?}"
    );
    let (err, _) = start_error(config(fixture("")).secure(SecureConfig::new(vec![1], None))).await;
    assert!(
        matches!(err, Error::Secure(SecureConfigError::NoHash)),
        "{err:?}"
    );
}

#[tokio::test]
async fn right_checksum_is_accepted() {
    use plugin_runtime::{ChecksumHash, Sha256};
    let sum = Sha256
        .digest(&mut std::fs::File::open(FIXTURE).unwrap())
        .unwrap();
    let client = Client::new(config(fixture("")).secure(SecureConfig::sha256(sum))).unwrap();
    client.ping().await.unwrap();
    client.kill().await;
}

#[test]
fn invalid_configs_are_refused_before_anything_runs() {
    let hs = kv::handshake;
    let set = || PluginSet::new().with("kv", KvPlugin::host());
    let err = |c| Client::new(c).err().map(|e: Error| e.to_string());
    let no_cmd = plugin_runtime::ClientConfig::new(hs()).plugins(set());
    assert!(matches!(
        Client::new(no_cmd),
        Err(Error::Config(ConfigError::CommandOrReattach))
    ));
    let reattach = plugin_runtime::ReattachConfig {
        protocol: Protocol::Grpc,
        protocol_version: 1,
        addr: plugin_runtime::ReattachAddr {
            network: plugin_runtime::Network::Unix,
            address: "/nonexistent".into(),
        },
        pid: 0,
        test: false,
    };
    let both = config(fixture("")).reattach(reattach.clone());
    assert!(err(both).unwrap().contains("exactly one of"));
    let secure_and_reattach = plugin_runtime::ClientConfig::new(hs())
        .reattach(reattach.clone())
        .plugins(set())
        .secure(SecureConfig::sha256(vec![1]));
    assert!(matches!(
        Client::new(secure_and_reattach),
        Err(Error::Config(ConfigError::SecureConfigAndReattach))
    ));
    // go-plugin's rule too: the yamux session belongs to the host that launched the plugin.
    let multiplex_and_reattach = plugin_runtime::ClientConfig::new(hs())
        .reattach(reattach.clone())
        .plugins(set())
        .grpc_broker_multiplex(true);
    let refused = Client::new(multiplex_and_reattach).err();
    assert!(
        matches!(
            refused,
            Some(Error::Config(ConfigError::MultiplexWithReattach))
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .unwrap()
            .to_string()
            .contains("not supported with Reattach"),
        "go-plugin's words"
    );
    let no_plugins = plugin_runtime::ClientConfig::new(hs()).command(fixture(""));
    assert!(matches!(
        Client::new(no_plugins),
        Err(Error::Config(ConfigError::NoPlugins))
    ));
    let no_cookie =
        plugin_runtime::ClientConfig::new(plugin_runtime::HandshakeConfig::new(1, "", ""))
            .command(fixture(""))
            .plugins(set());
    assert!(matches!(
        Client::new(no_cookie),
        Err(Error::Config(ConfigError::NoMagicCookie))
    ));
    let ports = config(fixture("")).port_range(20, 10);
    assert!(matches!(
        Client::new(ports),
        Err(Error::Config(ConfigError::PortRange { .. }))
    ));
}

#[tokio::test]
async fn unknown_plugin_name_lists_what_exists() {
    let client = client(fixture(""));
    let err = client.dispense::<dyn kv::Kv>("nope").await.err().unwrap();
    assert!(matches!(err, Error::UnknownPlugin { .. }), "{err:?}");
    assert!(err.to_string().contains("[\"kv\"]"), "{err}");
    client.kill().await;
}
