//! Faults a host meets in the field: a plugin frozen before its handshake, a plugin that hangs
//! mid-call, strangers on the plugin's socket while the host works, and socket places that
//! cannot be used. (A plugin crashing mid-call is in `interfaces` and `lifecycle`.)

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plugin_fixtures::kv::{Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::rustls;
use plugin_runtime::rustls::pki_types::ServerName;
use plugin_runtime::{Client, ClientConfig, Error, PluginExit, PluginSet};

use crate::common::*;

const HANG_GUARD: Duration = Duration::from_secs(30);

/// Gone for good: no process and no zombie under this pid (it was reaped).
fn reaped(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

async fn eventually_reaped(pid: u32) {
    let start = Instant::now();
    while !reaped(pid) && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        reaped(pid),
        "pid {pid} still in /proc {:?} after: not reaped",
        start.elapsed()
    );
}

/// Whether every thread of `pid` is in the stopped state (`T` in its stat).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
        })
    })
}

#[tokio::test]
async fn a_plugin_stopped_before_its_handshake_times_out_and_is_reaped() {
    // The shell stops itself (SIGSTOP) before it becomes the plugin: nothing will ever come.
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("kill -STOP $$; exec {FIXTURE}"));
    let client = Client::new(config(cmd).start_timeout(Duration::from_millis(500))).unwrap();
    let err = tokio::time::timeout(HANG_GUARD, client.start())
        .await
        .expect("the start timeout fires")
        .unwrap_err();
    assert!(matches!(err, Error::StartTimeout { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("start_timeout") && msg.contains("500ms"),
        "names the timeout and its setting: {msg}"
    );
    let pid = client.pid().expect("it was launched");
    eventually_reaped(pid).await;
}

#[tokio::test]
async fn a_hung_plugin_fails_its_call_at_the_deadline_and_kill_ends_it() {
    let client = Client::new(
        config(fixture(""))
            .call_timeout(Duration::from_millis(300))
            .kill_grace(Duration::from_millis(300)),
    )
    .unwrap();
    let kv = kv(&client).await;
    put(&kv, "before", b"1").await;
    let pid = client.pid().unwrap();
    let socket = client.reattach_config().unwrap().addr.address;
    // Frozen: it answers nothing, not even the graceful shutdown.
    // SAFETY: kill(2) on the plugin this test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
    // kill(2) returns before every thread has stopped: one could still answer.
    let start = Instant::now();
    while !all_threads_stopped(pid) {
        assert!(start.elapsed() < HANG_GUARD, "the plugin never stopped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = tokio::time::timeout(
        HANG_GUARD,
        kv.put(PutRequest {
            key: "during".into(),
            value: b"2".to_vec(),
        }),
    )
    .await
    .expect("the call deadline ends the call")
    .unwrap_err();
    assert_eq!(
        status.code(),
        plugin_runtime::Code::DeadlineExceeded,
        "{status:?}"
    );
    assert!(
        status.message().contains("deadline"),
        "says why: {}",
        status.message()
    );
    tokio::time::timeout(HANG_GUARD, client.kill())
        .await
        .expect("kill does not wait on a frozen plugin");
    eventually_reaped(pid).await;
    assert!(
        matches!(client.exit(), Some(PluginExit::Killed { .. })),
        "{:?}",
        client.exit()
    );
    assert!(!Path::new(&socket).exists(), "its socket is removed");
}

/// Raises the soft descriptor limit to `want` (within the hard limit), for the test and the
/// plugins it starts, which inherit it.
fn raise_fd_limit(want: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < want {
            assert!(
                limit.rlim_max >= want,
                "the hard descriptor limit {} is below the {want} this test needs",
                limit.rlim_max
            );
            limit.rlim_cur = want;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
}

/// How many descriptors `pid` has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The first half of a real TLS ClientHello (ALPN h2), as a client that stalls mid-handshake.
fn half_a_client_hello() -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    assert!(
        hello.len() > 100 && hello[0] == 0x16,
        "a TLS handshake record"
    );
    hello.truncate(hello.len() / 2);
    hello
}

const IDLE: usize = 1000;
const JUNK: usize = 50;
const HALF_TLS: usize = 50;
const CALLS: usize = 200;

/// Strangers on `socket`, all at once: junk writers (who hang up), half-finished TLS handshakes
/// and idle connections (both held until the returned streams are dropped).
fn strangers(socket: &str) -> Vec<UnixStream> {
    let mut held = Vec::new();
    let hello = half_a_client_hello();
    for i in 0..IDLE.max(JUNK).max(HALF_TLS) {
        if i < IDLE {
            held.push(UnixStream::connect(socket).expect("an idle stranger connects"));
        }
        if i < HALF_TLS {
            let mut s = UnixStream::connect(socket).expect("a TLS stranger connects");
            s.write_all(&hello).unwrap();
            held.push(s);
        }
        if i < JUNK {
            let mut s = UnixStream::connect(socket).expect("a junk stranger connects");
            let junk: Vec<u8> = (0..4096u32).map(|b| (b * 7 + i as u32) as u8).collect();
            // The plugin may hang up first: that is its right.
            let _ = s.write_all(b"GET / HTTP/1.1\r\n\r\n");
            let _ = s.write_all(&junk);
        }
    }
    held
}

async fn calls_go_on(kv: &Arc<dyn Kv>, tag: &str) {
    for i in 0..CALLS {
        let key = format!("{tag}-{i}");
        tokio::time::timeout(HANG_GUARD, put(kv, &key, key.as_bytes()))
            .await
            .unwrap_or_else(|_| panic!("call {i} hung among strangers"));
        assert_eq!(get(kv, &key).await, key.as_bytes());
    }
}

/// How the plugin's socket is secured in a strangers run.
#[derive(Clone, Copy, Debug)]
enum Security {
    /// The default: the host's existing connection carries on (a second host cannot reattach
    /// with AutoMTLS).
    AutoMtls,
    /// Manual TLS: a second host reattaches (a new connection and a full TLS handshake) while
    /// the half-finished handshakes are held.
    ManualTls,
    /// No TLS: a second host reattaches while the strangers are held.
    Plaintext,
}

/// A CA-issued server certificate for the fixture (`FIXTURE_TLS_DIR`) and the host's TLS.
fn manual_tls(dir: &Path) -> rustls::ClientConfig {
    use plugin_runtime::rustls::pki_types::pem::PemObject;
    use plugin_runtime::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pki = crate::security::pki();
    for (name, text) in [
        ("ca.pem", &pki.ca),
        ("server.pem", &pki.server.0),
        ("server.key", &pki.server.1),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap())
        .unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(
        vec![CertificateDer::from_pem_slice(pki.client.0.as_bytes()).unwrap()],
        PrivateKeyDer::from_pem_slice(pki.client.1.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_on_the_socket_leave_the_hosts_calls_undisturbed() {
    // Each stranger is a descriptor here and one in the plugin; the plugin inherits the limit.
    raise_fd_limit(4 * (IDLE + JUNK + HALF_TLS) as u64);
    for security in [Security::AutoMtls, Security::ManualTls, Security::Plaintext] {
        let tls_dir = tempfile::tempdir().unwrap();
        let (config, second_tls) = match security {
            Security::AutoMtls => (config(fixture("")), None),
            Security::Plaintext => (config(fixture("")).auto_mtls(false), None),
            Security::ManualTls => {
                let tls = manual_tls(tls_dir.path());
                let mut cmd = fixture("manual-tls");
                cmd.env("FIXTURE_TLS_DIR", tls_dir.path());
                (config(cmd).tls(tls.clone()), Some(tls))
            }
        };
        let client = Client::new(config).unwrap();
        let kv = kv(&client).await;
        let pid = client.pid().unwrap();
        let socket = client.reattach_config().unwrap().addr.address;
        let before = open_fds(pid);
        let storm = tokio::task::spawn_blocking({
            let socket = socket.clone();
            move || strangers(&socket)
        });
        calls_go_on(&kv, "storm").await;
        let held = storm.await.unwrap();
        // Everyone is still there, stalled: the host's calls still go through.
        calls_go_on(&kv, "held").await;
        if !matches!(security, Security::AutoMtls) {
            // And a new connection is served among them: a second host reattaches.
            let mut second = ClientConfig::new(handshake())
                .reattach(client.reattach_config().unwrap())
                .plugins(PluginSet::new().with("kv", KvPlugin::host()));
            if let Some(tls) = second_tls {
                second = second.tls(tls);
            }
            let second = Client::new(second).unwrap();
            let kv2 = tokio::time::timeout(HANG_GUARD, crate::common::kv(&second))
                .await
                .unwrap_or_else(|_| panic!("{security:?}: a new host is not served"));
            assert_eq!(get(&kv2, "held-0").await, b"held-0", "{security:?}");
            drop(kv2);
            drop(second);
        }
        let during = open_fds(pid);
        drop(held);
        client.ping().await.unwrap();
        // The strangers hung up: the plugin lets go of every descriptor they cost it.
        let start = Instant::now();
        while open_fds(pid) > before + 8 && start.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let after = open_fds(pid);
        assert!(
            after <= before + 8,
            "{security:?}: the plugin holds {after} descriptors, {before} before the strangers"
        );
        client.kill().await;
        assert!(!pid_alive(pid), "{security:?}");
        assert!(!Path::new(&socket).exists(), "{security:?}");
        eprintln!(
            "{security:?}: {} calls with {IDLE} idle, {JUNK} junk, {HALF_TLS} half-TLS \
             strangers; plugin descriptors {before} before, {during} among them, {after} \
             {:?} after they left",
            4 * CALLS,
            start.elapsed()
        );
    }
}

/// The error and its sources, as a host would print them.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(err), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// A directory no one may create a socket in: 0500 for a normal user; as root, which ignores
/// modes, sysfs (it refuses new entries).
fn unwritable_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return (PathBuf::from("/sys"), None);
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
    (dir.path().to_path_buf(), Some(dir))
}

#[tokio::test]
async fn an_unwritable_socket_dir_is_a_clear_error_on_either_side() {
    let (dir, _keep) = unwritable_dir();
    // The host's own socket directory.
    let client = Client::new(config(fixture("")).unix_socket_dir(&dir)).unwrap();
    let err = client.start().await.unwrap_err();
    let chain = chain(&err);
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(
        chain.contains(&dir.display().to_string()) && chain.contains("writable directory"),
        "names the directory and the fix: {chain}"
    );
    assert!(client.pid().is_none(), "nothing was launched: {chain}");

    // The plugin's PLUGIN_UNIX_SOCKET_DIR, set by hand.
    let mut cmd = fixture("");
    cmd.env("PLUGIN_UNIX_SOCKET_DIR", &dir);
    let client = Client::new(config(cmd)).unwrap();
    let err = client.start().await.unwrap_err();
    assert!(
        matches!(err, Error::ExitedBeforeHandshake { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("cannot create a socket in {}", dir.display()))
            && msg.contains("set PLUGIN_UNIX_SOCKET_DIR to a writable directory"),
        "the plugin's stderr names the directory and the fix: {msg}"
    );
    eventually_reaped(client.pid().unwrap()).await;
}

#[tokio::test]
async fn a_socket_path_too_long_is_a_clear_error_and_leaves_nothing() {
    let base = tempfile::tempdir().unwrap();
    // Room for the host's `plugin-dir*` (a directory may be long) but not for a socket in it.
    let long = base
        .path()
        .join("d".repeat(100 - base.path().as_os_str().len().min(90)));
    std::fs::create_dir(&long).unwrap();
    let client = Client::new(config(fixture("")).unix_socket_dir(&long)).unwrap();
    let err = client.start().await.unwrap_err();
    assert!(
        matches!(err, Error::ExitedBeforeHandshake { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("longer than the 107 a unix socket path may have")
            && msg.contains("point PLUGIN_UNIX_SOCKET_DIR (or TMPDIR) at a shorter directory"),
        "names the limit and the fix: {msg}"
    );
    eventually_reaped(client.pid().unwrap()).await;
    let left: Vec<_> = std::fs::read_dir(&long).unwrap().flatten().collect();
    assert!(
        left.is_empty(),
        "the host removed its socket directory: {left:?}"
    );
}
