//! Streams stay in bounded memory whatever their length: a gibibyte each way between this test
//! (the host) and the `bulk-fixture` plugin, in 64 KiB chunks, with AutoMTLS, while a thread
//! samples both processes' resident memory (`VmRSS` in `/proc/PID/status`).
//!
//! A test binary of its own, so that the host's memory is this one test's. The peaks and the
//! times are printed on stderr, captured or not.

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use plugin_runtime::{Client, ClientConfig, PluginSet};
use plugin_tests::bulk::{
    Bulk, BulkPlugin, Chunk, DownloadRequest, PLUGIN_NAME, Pattern, handshake,
};

const TOTAL: u64 = 1 << 30;
const CHUNK: u32 = 64 << 10;
/// What each process may hold at its peak, whatever the stream's length.
const BOUND: u64 = 128 << 20;

/// The resident memory of process `pid` ("self" for this one), in bytes.
fn rss(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Samples two processes' resident memory every 10 ms until dropped, keeping the peaks.
struct Sampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<[AtomicU64; 2]>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pids: [String; 2]) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let thread = std::thread::spawn({
            let (stop, peaks) = (stop.clone(), peaks.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    for (pid, peak) in pids.iter().zip(peaks.iter()) {
                        if let Some(rss) = rss(pid) {
                            peak.fetch_max(rss, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });
        Sampler {
            stop,
            peaks,
            thread: Some(thread),
        }
    }

    /// The peaks so far, and resets them.
    fn take(&self) -> [u64; 2] {
        [0, 1].map(|i| self.peaks[i].swap(0, Ordering::Relaxed))
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Prints `what` took `elapsed` with these peaks, and checks them against [`BOUND`].
fn report(what: &str, elapsed: Duration, [host, plugin]: [u64; 2]) {
    let rate = TOTAL as f64 / (1 << 20) as f64 / elapsed.as_secs_f64();
    let _ = writeln!(
        std::io::stderr(),
        "{what}: 1 GiB in {elapsed:.2?} ({rate:.0} MiB/s); peak VmRSS: host {}, plugin {}",
        mib(host),
        mib(plugin)
    );
    assert!(host > 0 && plugin > 0, "{what}: no sample");
    assert!(host < BOUND, "{what}: the host peaked at {}", mib(host));
    assert!(
        plugin < BOUND,
        "{what}: the plugin peaked at {}",
        mib(plugin)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gibibyte_each_way_streams_in_bounded_memory() {
    let client = Client::new(
        ClientConfig::new(handshake())
            .command(Command::new(env!("CARGO_BIN_EXE_bulk-fixture")))
            .plugins(PluginSet::new().with(PLUGIN_NAME, BulkPlugin::host())),
    )
    .unwrap();
    let bulk = client.dispense::<dyn Bulk>(PLUGIN_NAME).await.unwrap();
    let pid = client.pid().expect("the plugin's pid");
    let _ = writeln!(
        std::io::stderr(),
        "before streaming: VmRSS host {}, plugin {}",
        mib(rss("self").unwrap_or(0)),
        mib(rss(&pid.to_string()).unwrap_or(0))
    );
    let sampler = Sampler::start(["self".into(), pid.to_string()]);

    let start = Instant::now();
    let request = DownloadRequest {
        total: TOTAL,
        chunk_size: CHUNK,
    };
    let mut chunks = bulk.download(request).await.unwrap();
    let mut pattern = Pattern::new(CHUNK as usize);
    while let Some(next) = chunks.next().await {
        pattern.check(&next.unwrap().data).unwrap();
    }
    assert_eq!(pattern.bytes, TOTAL);
    report("plugin to host", start.elapsed(), sampler.take());

    let start = Instant::now();
    let count = TOTAL / u64::from(CHUNK);
    let upload = futures::stream::iter(0..count).map(move |i| {
        Ok(Chunk {
            data: pattern.chunk(i, CHUNK as usize),
        })
    });
    let summary = bulk.upload(upload.boxed()).await.unwrap();
    assert_eq!((summary.bytes, summary.chunks), (TOTAL, count));
    report("host to plugin", start.elapsed(), sampler.take());

    drop(sampler);
    client.kill().await;
}
