//! A host for the load tests: launches `flood-fixture`, makes it flood its stdout and stderr,
//! and keeps calling it meanwhile. Its own process, so that its peak memory is its own.
//!
//! `flood-host <plugin> <socket dir> <stdout bytes> <stderr lines> <line length>` prints one
//! JSON report ([`Report`]) on stdout and exits 0, or names what failed on stderr and exits 1.
//! The plugin's output reaches the host through `sync_stdout`/`sync_stderr` writers that check
//! and count it without keeping it.

use std::io::Write;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plugin_fixtures::kv::{GetRequest, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, PluginSet};

/// Concurrent callers during the flood.
const CALLERS: usize = 8;
/// Only guards against a hang (a deadlock fails the test instead of stalling CI).
const HANG_GUARD: Duration = Duration::from_secs(120);
const READY: &[u8] = b"ready\n";

/// What the host saw; the test judges it.
#[derive(serde::Serialize)]
struct Report {
    stdout_bytes: u64,
    stdout_mismatches: u64,
    stderr_bytes: u64,
    /// Length (without the newline) and letter of each complete stderr line.
    stderr_lines: Vec<(usize, char)>,
    calls: u64,
    calls_during_flood: u64,
    call_errors: u64,
    first_call_error: Option<String>,
    flood_state: String,
    host_peak_rss_kib: u64,
    plugin_peak_rss_kib: u64,
    plugin_pid: u32,
}

/// Checks stdout against `ready\n` and the fixture's pattern, counting bytes.
struct StdoutCheck {
    offset: u64,
    bytes: Arc<AtomicU64>,
    mismatches: Arc<AtomicU64>,
}

impl Write for StdoutCheck {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut wrong = 0;
        for &b in buf {
            let expected = match self.offset.checked_sub(READY.len() as u64) {
                None => READY[self.offset as usize],
                Some(k) => (k % 251) as u8,
            };
            wrong += u64::from(b != expected);
            self.offset += 1;
        }
        self.mismatches.fetch_add(wrong, Ordering::Relaxed);
        self.bytes.store(self.offset, Ordering::Release);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Splits stderr into lines, keeping only each line's length and first letter.
struct StderrCheck {
    current: usize,
    letter: Option<char>,
    bytes: Arc<AtomicU64>,
    lines: Arc<Mutex<Vec<(usize, char)>>>,
}

impl Write for StderrCheck {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            if b == b'\n' {
                let line = (self.current, self.letter.take().unwrap_or(' '));
                if let Ok(mut lines) = self.lines.lock() {
                    lines.push(line);
                }
                self.current = 0;
            } else {
                self.letter.get_or_insert(b as char);
                self.current += 1;
            }
        }
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A process's peak resident memory in KiB (`VmHWM`).
fn peak_rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

struct Args {
    plugin: String,
    sockets: String,
    stdout_bytes: u64,
    stderr_lines: usize,
    line_len: usize,
}

fn args() -> Result<Args, String> {
    let usage =
        "usage: flood-host <plugin> <socket dir> <stdout bytes> <stderr lines> <line length>";
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [plugin, sockets, bytes, lines, len] = a.as_slice() else {
        return Err(usage.into());
    };
    let number = |s: &str| s.parse::<u64>().map_err(|e| format!("{s:?}: {e}; {usage}"));
    Ok(Args {
        plugin: plugin.clone(),
        sockets: sockets.clone(),
        stdout_bytes: number(bytes)?,
        stderr_lines: number(lines)? as usize,
        line_len: number(len)? as usize,
    })
}

async fn get(kv: &Arc<dyn Kv>, key: &str) -> Result<Vec<u8>, String> {
    kv.get(GetRequest { key: key.into() })
        .await
        .map(|r| r.value)
        .map_err(|s| format!("get {key}: {s:?}"))
}

async fn put(kv: &Arc<dyn Kv>, key: &str, value: &[u8]) -> Result<(), String> {
    kv.put(PutRequest {
        key: key.into(),
        value: value.to_vec(),
    })
    .await
    .map(drop)
    .map_err(|s| format!("put {key}: {s:?}"))
}

/// Waits (bounded by [`HANG_GUARD`]) until `done`.
async fn wait_for(what: &str, done: impl Fn() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > HANG_GUARD {
            return Err(format!("never happened within {HANG_GUARD:?}: {what}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn run(args: Args) -> Result<Report, String> {
    let out_bytes = Arc::new(AtomicU64::new(0));
    let mismatches = Arc::new(AtomicU64::new(0));
    let err_bytes = Arc::new(AtomicU64::new(0));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let client = Client::new(
        ClientConfig::new(handshake())
            .command(Command::new(&args.plugin))
            .plugins(PluginSet::new().with("kv", KvPlugin::host()))
            .unix_socket_dir(&args.sockets)
            .sync_stdout(StdoutCheck {
                offset: 0,
                bytes: out_bytes.clone(),
                mismatches: mismatches.clone(),
            })
            .sync_stderr(StderrCheck {
                current: 0,
                letter: None,
                bytes: err_bytes.clone(),
                lines: lines.clone(),
            }),
    )
    .map_err(|e| format!("config: {e}"))?;
    let result = flood(&client, &args, &out_bytes, &lines).await;
    let plugin_pid = client.pid().unwrap_or(0);
    client.kill().await;
    let (calls, calls_during_flood, call_errors, first_call_error, flood_state, plugin_rss) =
        result?;
    let stderr_lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
    Ok(Report {
        stdout_bytes: out_bytes.load(Ordering::Acquire),
        stdout_mismatches: mismatches.load(Ordering::Relaxed),
        stderr_bytes: err_bytes.load(Ordering::Relaxed),
        stderr_lines,
        calls,
        calls_during_flood,
        call_errors,
        first_call_error,
        flood_state,
        host_peak_rss_kib: peak_rss_kib("self"),
        plugin_peak_rss_kib: plugin_rss,
        plugin_pid,
    })
}

type Outcome = (u64, u64, u64, Option<String>, String, u64);

async fn flood(
    client: &Client,
    args: &Args,
    out_bytes: &Arc<AtomicU64>,
    lines: &Arc<Mutex<Vec<(usize, char)>>>,
) -> Result<Outcome, String> {
    let kv = client
        .dispense::<dyn Kv>("kv")
        .await
        .map_err(|e| format!("dispense: {e}"))?;
    // Once `ready` arrives the host's copy is subscribed: nothing later can be dropped.
    put(&kv, "ready", b"").await?;
    wait_for("the plugin's `ready` on the host", || {
        out_bytes.load(Ordering::Acquire) >= READY.len() as u64
    })
    .await?;
    let total = READY.len() as u64 + args.stdout_bytes;
    let spec = format!(
        "{} {} {}",
        args.stdout_bytes, args.stderr_lines, args.line_len
    );
    put(&kv, "flood", spec.as_bytes()).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let during = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None));
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let (kv, stop, calls, during, errors, first_error, out_bytes) = (
            kv.clone(),
            stop.clone(),
            calls.clone(),
            during.clone(),
            errors.clone(),
            first_error.clone(),
            out_bytes.clone(),
        );
        callers.spawn(async move {
            let key = format!("caller-{caller}");
            let mut n: u64 = 0;
            while !stop.load(Ordering::Acquire) {
                n += 1;
                let value = n.to_string().into_bytes();
                let outcome = match put(&kv, &key, &value).await {
                    Ok(()) => get(&kv, &key).await.and_then(|got| {
                        (got == value)
                            .then_some(())
                            .ok_or_else(|| format!("get {key}: {got:?} instead of {value:?}"))
                    }),
                    Err(e) => Err(e),
                };
                calls.fetch_add(2, Ordering::Relaxed);
                if out_bytes.load(Ordering::Acquire) < total {
                    during.fetch_add(2, Ordering::Relaxed);
                }
                if let Err(e) = outcome {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert(e);
                    }
                }
            }
        });
    }
    let delivered = wait_for("all of the flood on the host", || {
        out_bytes.load(Ordering::Acquire) >= total
            && lines.lock().is_ok_and(|l| l.len() >= args.stderr_lines)
    })
    .await;
    stop.store(true, Ordering::Release);
    while callers.join_next().await.is_some() {}
    delivered?;
    let state = String::from_utf8_lossy(&get(&kv, "flood").await?).into_owned();
    let rss = get(&kv, "rss").await?;
    let plugin_rss = String::from_utf8_lossy(&rss).parse().unwrap_or(0);
    let first = first_error.lock().ok().and_then(|mut f| f.take());
    Ok((
        calls.load(Ordering::Relaxed),
        during.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        first,
        state,
        plugin_rss,
    ))
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flood-host: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flood-host: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => match serde_json::to_string(&report) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("flood-host: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("flood-host: {e}");
            ExitCode::FAILURE
        }
    }
}
