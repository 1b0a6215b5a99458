//! go-plugin's multiplexed broker mode (`GRPCBrokerMultiplex`, PROTOCOL.md §3.6.3): the host
//! asks with `PLUGIN_MULTIPLEX_GRPC=true`, the plugin answers `true` in the 7th handshake field,
//! the host opens one yamux session on the plugin's socket, and every brokered connection is a
//! stream of that session, announced by a knock on the broker's control stream instead of a
//! socket of its own.
//!
//! go-plugin's bidirectional example once more (see `broker.rs`: each `put` makes the plugin dial
//! the host's `AddHelper` through the broker), multiplexed, in every pairing of our `counter`
//! and `counter-plugin` with go-plugin's plugin and with `go-counter-host` (tests/go: go-plugin's
//! example host with `COUNTER_MULTIPLEX` and `COUNTER_AUTOMTLS` switches); then that
//! multiplexing really happened, and the refusals.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use plugin_runtime::{Error, HandshakeError};

use crate::broker::{Scenario, go_counter, rust_counter};
use crate::common::*;
use crate::start_errors::start_error;

/// `tests/go/cmd/go-counter-host`.
fn go_counter_host(go: &Path) -> PathBuf {
    go.join("go-counter-host")
}

const MULTIPLEX: (&str, &str) = ("COUNTER_MULTIPLEX", "1");

/// `put hello 1`, `put hello 2`, `get hello` → `3`, multiplexed, with AutoMTLS on and off.
fn count_multiplexed(host: &Path, plugin: &Path) {
    for automtls in ["1", "0"] {
        Scenario::new(
            (host.to_owned(), plugin.to_owned()),
            &[MULTIPLEX, ("COUNTER_AUTOMTLS", automtls)],
        )
        .count(&[1, 2]);
    }
}

#[test]
fn our_host_counts_with_our_plugin_multiplexed() {
    let (host, plugin) = rust_counter();
    count_multiplexed(&host, &plugin);
}

#[test]
fn our_host_counts_with_go_plugins_plugin_multiplexed() {
    let go = require_go!();
    let (host, _) = rust_counter();
    let (_, plugin) = go_counter(go);
    count_multiplexed(&host, &plugin);
}

#[test]
fn go_host_counts_with_our_plugin_multiplexed() {
    let go = require_go!();
    let (_, plugin) = rust_counter();
    count_multiplexed(&go_counter_host(go), &plugin);
}

/// The reference: go-plugin with itself, so that a failure above is ours, not the peers'.
/// go-plugin's multiplexed plugin leaves its socket file behind under a go-plugin host
/// (docs/interop.md), so its sockets go elsewhere; no process may be left all the same.
#[test]
fn go_host_counts_with_go_plugins_plugin_multiplexed() {
    let go = require_go!();
    let (_, plugin) = go_counter(go);
    for automtls in ["1", "0"] {
        Scenario::new(
            (go_counter_host(go), plugin.clone()),
            &[MULTIPLEX, ("COUNTER_AUTOMTLS", automtls)],
        )
        .plugin_leaves_its_socket()
        .count(&[1, 2]);
    }
}

/// The files in the socket directory while a `put` is in the middle of its callback: the plugin
/// has dialled the host's `AddHelper` and waits for its stored count, read from `kv_slow`, a
/// FIFO that the test feeds only after looking. Then the put completes: 41 + 1.
fn sockets_during_a_put(scenario: &Scenario) -> Vec<String> {
    let work = scenario.work.path();
    let sockets = tempfile::tempdir().unwrap();
    let fifo = work.join("kv_slow");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let output = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    let outcome = |host: std::process::Child| {
        let status = host.wait_with_output().unwrap().status;
        let read = |mut file: &std::fs::File| {
            let mut text = String::new();
            file.seek(SeekFrom::Start(0)).unwrap();
            file.read_to_string(&mut text).unwrap();
            text
        };
        format!(
            "{status}:\nstdout: {}\nstderr: {}",
            read(&output.0),
            read(&output.1)
        )
    };
    let mut host = scenario
        .host(&["put", "slow", "1"])
        .current_dir(work)
        .env("PLUGIN_UNIX_SOCKET_DIR", sockets.path())
        .env("TMPDIR", sockets.path())
        .env("COUNTER_PLUGIN", scenario.plugin_command())
        // Files, not pipes: nobody reads the host's output while it runs.
        .stdout(output.0.try_clone().unwrap())
        .stderr(output.1.try_clone().unwrap())
        .spawn()
        .expect("the host runs");
    // Opening a FIFO to write without blocking succeeds once a reader has it open.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut feed = loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
        {
            Ok(feed) => break feed,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => panic!("opening {}: {e}", fifo.display()),
        }
        if host.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let _ = host.kill();
            panic!("the plugin never read its count: {}", outcome(host));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut seen: Vec<String> = std::fs::read_dir(sockets.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    seen.sort();
    // The plugin keeps the FIFO open; its path becomes the regular file the plugin writes.
    std::fs::remove_file(&fifo).unwrap();
    feed.write_all(br#"{"Value":41}"#).unwrap();
    drop(feed);
    let status = host.wait().unwrap();
    assert!(status.success(), "the put failed: {}", outcome(host));
    assert_eq!(std::fs::read(&fifo).unwrap(), br#"{"Value":42}"#);
    assert_nothing_left(work, sockets.path());
    seen
}

/// Multiplexed, the brokered `AddHelper` is a stream of the main connection: during the
/// callback the socket directory holds the plugin's socket only. Not multiplexed, a go-plugin
/// host's brokered socket is there too (which is what makes the check mean something). Our
/// host serves a callback for its one dialler and removes the socket once dialled, so without
/// multiplexing its count depends on timing, and only the multiplexed count is checked.
#[test]
fn a_multiplexed_callback_opens_no_socket_of_its_own() {
    let (host, plugin) = rust_counter();
    let mut pairings = vec![(host.clone(), plugin.clone(), None)];
    if let Some(go) = go_bin() {
        pairings.push((host, go_counter(go).1, None));
        pairings.push((go_counter_host(go), plugin, Some(2)));
    }
    for (host, plugin, plain_sockets) in pairings {
        let pairing = (host, plugin);
        for automtls in ["1", "0"] {
            if let Some(expected) = plain_sockets {
                let env = [("COUNTER_AUTOMTLS", automtls)];
                let plain = sockets_during_a_put(&Scenario::new(pairing.clone(), &env));
                assert_eq!(
                    plain.len(),
                    expected,
                    "{pairing:?}: not multiplexed: {plain:?}"
                );
            }
            let env = [MULTIPLEX, ("COUNTER_AUTOMTLS", automtls)];
            let muxed = sockets_during_a_put(&Scenario::new(pairing.clone(), &env));
            assert_eq!(muxed.len(), 1, "{pairing:?}: the plugin's only: {muxed:?}");
        }
    }
}

/// A plugin that prints `line` as its handshake and then sleeps for half a minute.
fn handshake_only(line: &str) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(format!("echo '{line}'; exec sleep 30"));
    sh
}

/// A plugin of go-plugin before 1.6 answers with 6 fields (or, asked, `false`): our host refuses
/// it at once, says why and what to do, and kills it.
#[tokio::test]
async fn our_host_refuses_a_plugin_that_cannot_multiplex() {
    let dir = tempfile::tempdir().unwrap();
    // The host removes a launched plugin's socket: let it be one of ours.
    let socket = dir.path().join("plugin-socket");
    let socket = socket.display();
    for line in [
        format!("1|1|unix|{socket}|grpc|"),
        format!("1|1|unix|{socket}|grpc||false"),
    ] {
        let started = Instant::now();
        let config = config(handshake_only(&line)).grpc_broker_multiplex(true);
        let (err, pid) = start_error(config).await;
        assert!(pid.is_some(), "{line}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "refused without waiting for the plugin's exit"
        );
        assert!(
            matches!(
                &err,
                Error::Handshake {
                    reason: HandshakeError::MuxNotSupported,
                    ..
                }
            ),
            "{line}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("plugin does not support the feature"), "{msg}");
        assert!(msg.contains("grpc_broker_multiplex(false)"), "{msg}");
    }
}
