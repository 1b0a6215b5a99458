//! Zero orphans: however its host dies (SIGKILL, SIGTERM, an exit that stops nothing, a panic),
//! and however it was launched (directly, `sh -c "plugin"`, `sh -c "plugin; true"`), under our
//! host, a go-plugin host or a Python one, the plugin exits and nothing is left on disk: not its
//! socket, not the socket directory its host made, not the host's brokered sockets.
//!
//! Every case runs in its own thread at once. A case gives its processes a marker variable;
//! afterwards no process carrying it may be alive (zombies count as gone: whoever adopted them
//! reaps them) and the case's directory must be empty.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const ORPHAN_HOST: &str = env!("CARGO_BIN_EXE_orphan-host");
/// Liveness bound for the plugin's exit and the clean-up (the issue asks for 1 s; slack for a
/// loaded machine, the measured time is in every message).
const LIVENESS: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Host {
    /// `orphan-host` (this crate's `Client`), with a brokered callback socket of its own.
    Rust,
    /// `go-orphan-host` (go-plugin v1.8.0's `Client`).
    Go,
    /// A Python `subprocess.Popen` with a stdout pipe: any other host.
    Python,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Launch {
    Direct,
    Sh,
    ShTrue,
}

impl Launch {
    fn arg(self) -> &'static str {
        match self {
            Launch::Direct => "direct",
            Launch::Sh => "sh",
            Launch::ShTrue => "sh-true",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Sigkill,
    Sigterm,
    /// The host exits on its own without stopping the plugin.
    Exit,
    /// The host's main task panics (Rust host only).
    Panic,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    host: Host,
    launch: Launch,
    end: End,
    /// Whether the host makes a private socket directory (`plugin-dir*`) for the plugin;
    /// without one, the sockets go straight into the case's TMPDIR. (go-plugin's host makes one
    /// only for a `RunnerFunc`, so never here.)
    socket_dir: bool,
    /// Whether the host dies with a call in progress (Rust host only).
    busy: bool,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} host, {}, {:?}, {}",
            self.host,
            self.launch.arg(),
            self.end,
            if self.socket_dir {
                "socket dir"
            } else {
                "TMPDIR"
            }
        )?;
        if self.busy {
            write!(f, ", a call in progress")?;
        }
        Ok(())
    }
}

/// A Python host: launches the plugin with go-plugin's environment and a `plugin-dir*` socket
/// directory of its own, reads the handshake line from its stdout pipe, dials the socket, says
/// `ready`, then waits, or exits without stopping the plugin once its stdin is closed.
const PYTHON_HOST: &str = r#"
import os, socket, subprocess, sys, tempfile, time
plugin, launch, base, end = sys.argv[1:5]
env = dict(os.environ, BASIC_PLUGIN="hello", PLUGIN_PROTOCOL_VERSIONS="1")
if base:
    env["PLUGIN_UNIX_SOCKET_DIR"] = tempfile.mkdtemp(prefix="plugin-dir", dir=base)
cmd = {"direct": [plugin], "sh": ["sh", "-c", plugin], "sh-true": ["sh", "-c", plugin + "; true"]}[launch]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
fields = p.stdout.readline().decode().strip().split("|")
assert len(fields) >= 5 and fields[2] == "unix", fields
s = socket.socket(socket.AF_UNIX)
s.connect(fields[3])
s.close()
print("ready", flush=True)
if end == "exit":
    sys.stdin.read()
    sys.exit(0)
while True:
    time.sleep(3600)
"#;

/// Which hosts can run here; a missing peer is SKIPPED loudly unless CI requires it.
fn hosts() -> Vec<Host> {
    let mut hosts = vec![Host::Rust];
    if go_bin().is_some() {
        hosts.push(Host::Go);
    }
    match Command::new("python3").arg("--version").output() {
        Ok(o) if o.status.success() => hosts.push(Host::Python),
        other => {
            assert!(
                std::env::var_os("PLUGIN_TESTS_REQUIRE_PYTHON").is_none(),
                "python3 is required here (PLUGIN_TESTS_REQUIRE_PYTHON) but cannot run: {other:?}"
            );
            eprintln!(
                "\n=== SKIPPED: the orphan cases under a Python host, because python3 cannot \
                 run ({other:?}). Install python3 to run them. ===\n"
            );
        }
    }
    hosts
}

fn host_command(case: &Case, base: &Path) -> Command {
    let launch = case.launch.arg();
    let end = match case.end {
        End::Exit => "exit",
        End::Panic => "panic",
        End::Sigkill | End::Sigterm => "wait",
    };
    let mut cmd = match case.host {
        Host::Rust | Host::Go => {
            let program = match case.host {
                Host::Rust => PathBuf::from(ORPHAN_HOST),
                _ => go_bin().expect("Go was found").join("go-orphan-host"),
            };
            let mut cmd = Command::new(program);
            cmd.arg(FIXTURE)
                .env("ORPHAN_LAUNCH", launch)
                .env("ORPHAN_END", end);
            if case.host == Host::Rust {
                if case.socket_dir {
                    cmd.env("ORPHAN_SOCKET_BASE", base);
                }
                cmd.env("ORPHAN_CALLBACK", "1");
                if case.busy {
                    cmd.env("ORPHAN_BUSY", "1");
                }
            }
            cmd
        }
        Host::Python => {
            let mut cmd = Command::new("python3");
            let dir = if case.socket_dir {
                base.as_os_str()
            } else {
                "".as_ref()
            };
            cmd.arg("-c")
                .arg(PYTHON_HOST)
                .arg(FIXTURE)
                .arg(launch)
                .arg(dir)
                .arg(end);
            cmd
        }
    };
    cmd.env("TMPDIR", base);
    cmd
}

/// The live (not zombie) processes whose environment holds `marker`.
fn marked(marker: &str) -> Vec<(u32, String)> {
    let needle = marker.as_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle))
        })
        .filter(|pid| pid_alive(*pid))
        .map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (pid, String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}

/// Everything under `dir`, recursively.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(leftovers(&path));
        }
        found.push(path);
    }
    found
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// Runs one case; Ok with the measured times, or Err with what went wrong.
fn run_case(case: Case) -> Result<String, String> {
    let base = tempfile::tempdir().map_err(|e| e.to_string())?;
    let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let stderr_path = logs.path().join("stderr");
    let marker = format!("ORPHAN_CASE={}", unique("orphan"));
    let (key, value) = marker.split_once('=').expect("marker has =");
    let mut host = host_command(&case, base.path())
        .env(key, value)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("{case}: spawning the host: {e}"))?;
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let mut line = String::new();
    let _ = std::io::BufReader::new(host.stdout.take().expect("piped")).read_line(&mut line);
    if line.trim() != "ready" {
        let _ = host.kill();
        let _ = host.wait();
        return Err(format!(
            "{case}: the host did not get ready: {line:?}\n{}",
            stderr()
        ));
    }
    let plugins: Vec<_> = marked(&marker)
        .into_iter()
        .filter(|(pid, _)| *pid != host.id())
        .collect();
    let sockets: Vec<_> = leftovers(base.path())
        .into_iter()
        .filter(|p| is_socket(p))
        .collect();
    // The case can fail: a plugin is running and its sockets are there.
    let expected_sockets = if case.host == Host::Rust { 2 } else { 1 };
    if plugins.is_empty() || sockets.len() != expected_sockets {
        let _ = host.kill();
        let _ = host.wait();
        return Err(format!(
            "{case}: before the host's death: processes {plugins:?}, sockets {sockets:?} \
             (want {expected_sockets})"
        ));
    }
    let signal = match case.end {
        End::Sigkill => Some(libc::SIGKILL),
        End::Sigterm => Some(libc::SIGTERM),
        End::Exit | End::Panic => None,
    };
    // An exiting or panicking host waits for its stdin to close: all was seen by then.
    drop(host.stdin.take());
    if let Some(signal) = signal {
        // SAFETY: kill(2) on the host this case spawned and has not reaped yet.
        unsafe { libc::kill(host.id() as libc::pid_t, signal) };
    }
    let status = host.wait().map_err(|e| e.to_string())?;
    let died = Instant::now();
    let deadline = died + LIVENESS;
    let mut exited = None;
    let mut cleaned = None;
    while Instant::now() < deadline && (exited.is_none() || cleaned.is_none()) {
        if exited.is_none() && marked(&marker).is_empty() {
            exited = Some(died.elapsed());
        }
        if cleaned.is_none() && leftovers(base.path()).is_empty() {
            cleaned = Some(died.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (Some(exited), Some(cleaned)) = (exited, cleaned) else {
        let alive = marked(&marker);
        // Not left running past the test, whatever it found.
        for (pid, _) in &alive {
            // SAFETY: kill(2) on a process this case started (it carries the case's marker).
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
        return Err(format!(
            "{case}: {:?} after the host ended ({status}): alive {alive:?}, left {:?}\n\
             host stderr:\n{}",
            died.elapsed(),
            leftovers(base.path()),
            stderr()
        ));
    };
    Ok(format!(
        "{case}: every process gone after {} ms, nothing left on disk after {} ms",
        exited.as_millis(),
        cleaned.as_millis()
    ))
}

fn run_cases(cases: Vec<Case>) {
    let results: Vec<Result<String, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| scope.spawn(move || run_case(*case)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a case panicked".into())))
            .collect()
    });
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(report) => eprintln!("ok: {report}"),
            Err(failure) => failures.push(failure),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn no_plugin_outlives_its_host_whatever_the_host_and_the_launch() {
    let mut cases = Vec::new();
    for host in hosts() {
        for launch in [Launch::Direct, Launch::Sh, Launch::ShTrue] {
            for end in [End::Sigkill, End::Sigterm, End::Exit] {
                cases.push(Case {
                    host,
                    launch,
                    end,
                    socket_dir: host != Host::Go,
                    busy: false,
                });
            }
        }
    }
    run_cases(cases);
}

#[test]
fn a_dead_hosts_sockets_in_tmpdir_are_removed_too() {
    // No private directory: the plugin's socket and the host's brokered one lie in TMPDIR.
    let cases = hosts()
        .into_iter()
        .filter(|host| *host != Host::Go) // already so in the matrix
        .flat_map(|host| {
            [Launch::Direct, Launch::ShTrue].map(|launch| Case {
                host,
                launch,
                end: End::Sigkill,
                socket_dir: false,
                busy: false,
            })
        })
        .collect();
    run_cases(cases);
}

#[test]
fn a_panicking_host_leaves_nothing() {
    let cases = [Launch::Direct, Launch::ShTrue]
        .into_iter()
        .flat_map(|launch| {
            [true, false].map(|socket_dir| Case {
                host: Host::Rust,
                launch,
                end: End::Panic,
                socket_dir,
                busy: false,
            })
        })
        .collect();
    run_cases(cases);
}

#[test]
fn a_host_killed_in_the_middle_of_a_call_leaves_nothing() {
    let cases = [Launch::Direct, Launch::ShTrue]
        .into_iter()
        .flat_map(|launch| {
            [End::Sigkill, End::Sigterm].map(|end| Case {
                host: Host::Rust,
                launch,
                end,
                socket_dir: true,
                busy: true,
            })
        })
        .collect();
    run_cases(cases);
}
