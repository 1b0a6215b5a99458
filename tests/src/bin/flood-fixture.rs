//! A KV plugin that floods its stdout and stderr while it serves, for the load tests.
//!
//! Keys: `ready` (Put writes `ready\n` to stdout, so the host knows its copy of the plugin's
//! output is in place), `flood` (Put starts a thread writing; the value is
//! `<stdout bytes> <stderr lines> <line length>`), `flood` (Get: `running` or `done`), `rss`
//! (Get: this process's peak resident memory in KiB). Any other Put stores the value and Get
//! returns it.
//!
//! The stdout bytes follow the pattern `offset % 251`; half of them are written with raw
//! `write(2)` calls on fd 1 and half through Rust's `stdout()`. Each stderr line is one letter
//! repeated `<line length>` times and a newline, alternately raw on fd 2 and through `stderr()`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use plugin_fixtures::kv::{Empty, GetRequest, GetResponse, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{PluginSet, ServeConfig, Status};

const IDLE: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;

struct Fixture {
    values: Mutex<HashMap<String, Vec<u8>>>,
    flood: Arc<AtomicU8>,
}

/// What the host asked to be written.
struct Flood {
    stdout_bytes: usize,
    stderr_lines: usize,
    line_len: usize,
}

impl Flood {
    fn parse(value: &[u8]) -> Option<Flood> {
        let text = std::str::from_utf8(value).ok()?;
        let mut numbers = text.split_whitespace().map(str::parse::<usize>);
        Some(Flood {
            stdout_bytes: numbers.next()?.ok()?,
            stderr_lines: numbers.next()?.ok()?,
            line_len: numbers.next()?.ok()?,
        })
    }

    /// Writes everything, interleaving stdout chunks and stderr lines.
    fn run(self) -> std::io::Result<()> {
        const CHUNK: usize = 1 << 20;
        let chunks = self.stdout_bytes.div_ceil(CHUNK);
        let lines_every = chunks.div_ceil(self.stderr_lines.max(1)).max(1);
        let mut offset = 0;
        let mut lines = 0;
        for chunk in 0..chunks {
            let len = CHUNK.min(self.stdout_bytes - offset);
            let data: Vec<u8> = (offset..offset + len).map(|k| (k % 251) as u8).collect();
            if chunk < chunks / 2 {
                write_raw(1, &data)?;
            } else {
                // Rust's stdout buffers by line: flushed here, so the order stays the pattern's.
                let mut out = std::io::stdout().lock();
                for piece in data.chunks(64 * 1024) {
                    out.write_all(piece)?;
                }
                out.flush()?;
            }
            offset += len;
            if chunk.is_multiple_of(lines_every) && lines < self.stderr_lines {
                self.line(lines)?;
                lines += 1;
            }
        }
        while lines < self.stderr_lines {
            self.line(lines)?;
            lines += 1;
        }
        Ok(())
    }

    fn line(&self, n: usize) -> std::io::Result<()> {
        let mut line = vec![b'a' + (n % 26) as u8; self.line_len];
        line.push(b'\n');
        if n.is_multiple_of(2) {
            write_raw(2, &line)
        } else {
            let mut err = std::io::stderr().lock();
            err.write_all(&line)?;
            err.flush()
        }
    }
}

/// `write(2)` on a raw descriptor until all of `data` is written.
fn write_raw(fd: i32, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is a valid buffer of `data.len()` bytes; fd 1 and 2 stay open.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// This process's peak resident memory in KiB (`VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[plugin_runtime::async_trait]
impl Kv for Fixture {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        let value = match request.key.as_str() {
            "flood" => match self.flood.load(Ordering::Acquire) {
                IDLE => b"idle".to_vec(),
                RUNNING => b"running".to_vec(),
                _ => b"done".to_vec(),
            },
            "rss" => peak_rss_kib()
                .ok_or_else(|| Status::internal("cannot read /proc/self/status"))?
                .to_string()
                .into_bytes(),
            key => self
                .values
                .lock()
                .map_err(|_| Status::internal("poisoned"))?
                .get(key)
                .cloned()
                .ok_or_else(|| Status::not_found(format!("no value for key {key:?}")))?,
        };
        Ok(GetResponse { value })
    }

    async fn put(&self, request: PutRequest) -> Result<Empty, Status> {
        match request.key.as_str() {
            "ready" => {
                let mut out = std::io::stdout().lock();
                out.write_all(b"ready\n")
                    .and_then(|()| out.flush())
                    .map_err(|e| Status::internal(format!("writing stdout: {e}")))?;
            }
            "flood" => {
                let flood = Flood::parse(&request.value).ok_or_else(|| {
                    Status::invalid_argument(
                        "flood takes `<stdout bytes> <stderr lines> <line length>`",
                    )
                })?;
                if self
                    .flood
                    .compare_exchange(IDLE, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    return Err(Status::failed_precondition("a flood was already started"));
                }
                let state = self.flood.clone();
                std::thread::spawn(move || {
                    if let Err(e) = flood.run() {
                        // stderr may be what failed: the exit status tells the host.
                        let _ = writeln!(std::io::stderr(), "flood-fixture: {e}");
                        std::process::exit(5);
                    }
                    state.store(DONE, Ordering::Release);
                });
            }
            key => {
                self.values
                    .lock()
                    .map_err(|_| Status::internal("poisoned"))?
                    .insert(key.to_string(), request.value);
            }
        }
        Ok(Empty {})
    }
}

fn main() -> std::process::ExitCode {
    let plugins = PluginSet::new().with(
        "kv",
        KvPlugin::new(Fixture {
            values: Mutex::new(HashMap::new()),
            flood: Arc::new(AtomicU8::new(IDLE)),
        }),
    );
    plugin_runtime::serve_main(ServeConfig::new(handshake()).plugins(plugins))
}
