//! One run: the floor, then every comparison, in interleaved rounds, then the targets.

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

mod calls;
mod floor;
mod go_host;
mod memory;
mod startup;

use crate::go::{self, GoFixtures};
use crate::interface::{SEED_ENV, STARTUP_KEY, STARTUP_VALUE};
use crate::plan::Plan;
use crate::results::{CallbackArg, Direction, Encoding, Machine, Pair, Results, RowStatus, Side};
use crate::rust::{self, Interface, PluginCommand};
use crate::stats::{self, Summary};
use crate::targets;

/// Where everything is.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to measure.
    pub plan: Plan,
    /// This executable (re-executed as the floor's echo peer).
    pub exe: PathBuf,
    /// The Rust plugin, `bench-plugin`.
    pub plugin: PathBuf,
    /// The Rust plugin of the process measurements (start-up, memory, under a go-plugin
    /// host), `bench-kv-plugin`: `proto.KV` only, like `go-kv-plugin`.
    pub kv_plugin: PathBuf,
    /// The Go module with the fixtures (`tests/go`).
    pub go_module: PathBuf,
    /// Where the Go fixtures are built.
    pub go_out: PathBuf,
}

/// The pairs of the latency comparison.
pub fn latency_pairs() -> Vec<Pair> {
    vec![
        Pair::rust(Encoding::Protobuf),
        Pair::RUST_NATIVE,
        Pair::rust(Encoding::Serde),
        Pair::GO,
        Pair::protobuf(Side::Rust, Side::Go),
        Pair::protobuf(Side::Go, Side::Rust),
    ]
}

/// The pairs of the throughput comparison.
pub const THROUGHPUT_PAIRS: [Pair; 3] =
    [Pair::rust(Encoding::Protobuf), Pair::RUST_NATIVE, Pair::GO];

/// The pairs of the start-up comparison.
pub const STARTUP_PAIRS: [Pair; 5] = [
    Pair::rust(Encoding::Protobuf),
    Pair::RUST_NATIVE,
    Pair::GO,
    Pair::protobuf(Side::Rust, Side::Go),
    Pair::protobuf(Side::Go, Side::Rust),
];

/// The pairs of the callback round trip: the protobuf ones, the callback served through the
/// broker explicitly (the Rust → Rust ones on gRPC and on the native transport); then Rust →
/// Rust through the serde `Relay`, the callback an `Arc<dyn Echo>` argument kept or passed per
/// call, on gRPC and on the native transport.
pub const CALLBACK_PAIRS: [Pair; 9] = [
    Pair::rust(Encoding::Protobuf),
    Pair::RUST_NATIVE,
    Pair::GO,
    Pair::protobuf(Side::Rust, Side::Go),
    Pair::protobuf(Side::Go, Side::Rust),
    Pair::callback_arg(false, CallbackArg::Kept),
    Pair::callback_arg(false, CallbackArg::PerCall),
    Pair::callback_arg(true, CallbackArg::Kept),
    Pair::callback_arg(true, CallbackArg::PerCall),
];

/// The pairs of the stream throughput, over `bench.Transfer`.
pub const STREAM_PAIRS: [Pair; 5] = [
    Pair::rust(Encoding::Protobuf),
    Pair::RUST_NATIVE,
    Pair::GO,
    Pair::protobuf(Side::Rust, Side::Go),
    Pair::protobuf(Side::Go, Side::Rust),
];

/// The plugins of the memory comparison, both behind the Rust host.
pub const MEMORY_PAIRS: [Pair; 3] = [
    Pair::rust(Encoding::Protobuf),
    Pair::RUST_NATIVE,
    Pair::protobuf(Side::Rust, Side::Go),
];

fn progress(msg: &str) {
    eprintln!("plugin-bench: {msg}");
}

struct Bench {
    plan: Plan,
    rt: tokio::runtime::Runtime,
    rust_plugin: PluginCommand,
    /// `bench-kv-plugin`, for start-up, memory and the go-plugin host.
    rust_kv_plugin: PluginCommand,
    go: Result<GoFixtures, String>,
    /// The Go plugin's working directory (its file store, used by the start-up runs only).
    go_work: TempDir,
}

/// What each measured call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// A `Get` through the pair's interface (`proto.KV` or the serde `Store`).
    Get,
    /// A callback round trip: `bench.Caller` `Call`, the plugin calling back the host's
    /// `bench.Callback` over a broker connection it dialled once, beforehand; or, for pairs
    /// with a [`Pair::callback_arg`], `Relay` calling back the host's `Arc<dyn Echo>`.
    Callback,
}

impl Workload {
    /// For progress lines.
    fn name(self) -> &'static str {
        match self {
            Workload::Get => "latency",
            Workload::Callback => "callback",
        }
    }
}

/// The outcome of one cell over its rounds.
#[derive(Default)]
struct Cell {
    rounds: Vec<Summary>,
    error: Option<String>,
}

impl Cell {
    fn record(&mut self, result: Result<Summary, String>) {
        match result {
            Ok(s) => self.rounds.push(s),
            Err(e) => self.error = Some(e),
        }
    }
}

impl Bench {
    /// Why `pair` cannot be measured, if it cannot.
    fn skip(&self, pair: Pair) -> Option<RowStatus> {
        match (&self.go, pair.needs_go()) {
            (Err(why), true) if why.starts_with(go::NO_GO) => Some(RowStatus::Skipped(why.clone())),
            (Err(why), true) => Some(RowStatus::Failed(why.clone())),
            _ => None,
        }
    }

    fn go(&self) -> Result<&GoFixtures, String> {
        self.go.as_ref().map_err(Clone::clone)
    }

    /// The plugin of `pair`, keeping values in memory (the Rust one on `pair`'s transport).
    fn plugin(&self, pair: Pair) -> Result<PluginCommand, String> {
        Ok(match pair.plugin {
            Side::Rust => self.rust_plugin.clone().native(pair.native()),
            Side::Go => PluginCommand::new(self.go()?.plugin()).env("KV_PLUGIN_STORE", "memory"),
        })
    }

    /// The plugin of `pair` serving `bench.Caller` (the Rust one, serving `Relay` too, on
    /// `pair`'s transport).
    fn callback_plugin(&self, pair: Pair) -> Result<PluginCommand, String> {
        Ok(match pair.plugin {
            Side::Rust => self.rust_plugin.clone().native(pair.native()),
            Side::Go => PluginCommand::new(self.go()?.callback_plugin()),
        })
    }

    /// The plugin of `pair` serving `bench.Transfer` (the Rust one on `pair`'s transport).
    fn transfer_plugin(&self, pair: Pair) -> Result<PluginCommand, String> {
        Ok(match pair.plugin {
            Side::Rust => self.rust_plugin.clone().native(pair.native()),
            Side::Go => PluginCommand::new(self.go()?.stream_plugin()),
        })
    }

    /// One stream-throughput measurement on a fresh plugin: the plan's warm-up items, then its
    /// timed items, streamed `direction`.
    fn transfer(
        &self,
        pair: Pair,
        automtls: bool,
        direction: Direction,
    ) -> Result<Summary, String> {
        let plugin = self.transfer_plugin(pair)?;
        match pair.host {
            Side::Rust => {
                self.rt
                    .block_on(rust::stream(&plugin, automtls, direction, self.plan.stream))
            }
            Side::Go => self
                .go()?
                .stream(&plugin, automtls, direction, self.plan.stream),
        }
    }

    /// The plugin of `pair` as a process to start and weigh: the Rust one serving `proto.KV`
    /// only, as go-kv-plugin does (on `pair`'s transport), and go-kv-plugin keeping values in
    /// memory.
    fn process_plugin(&self, pair: Pair) -> Result<PluginCommand, String> {
        Ok(match pair.plugin {
            Side::Rust => self.rust_kv_plugin.clone().native(pair.native()),
            Side::Go => PluginCommand::new(self.go()?.plugin()).env("KV_PLUGIN_STORE", "memory"),
        })
    }

    /// The plugin of `pair`, already holding the start-up value when it starts.
    fn startup_plugin(&self, pair: Pair) -> Result<PluginCommand, String> {
        Ok(match pair.plugin {
            Side::Rust => self
                .rust_kv_plugin
                .clone()
                .native(pair.native())
                .env(SEED_ENV, &format!("{STARTUP_KEY}={STARTUP_VALUE}")),
            // go-kv-plugin's own file store: go-kv-host's `startup` stores the value first.
            Side::Go => PluginCommand::new(self.go()?.plugin()).current_dir(self.go_work.path()),
        })
    }

    fn interface(pair: Pair) -> Interface {
        match pair.interface {
            Encoding::Protobuf => Interface::Protobuf,
            Encoding::Serde => Interface::Serde,
        }
    }

    /// One batch of `workload` calls on a fresh plugin (Go hosts make callbacks with one caller).
    #[allow(clippy::too_many_arguments)]
    fn calls(
        &self,
        workload: Workload,
        pair: Pair,
        automtls: bool,
        size: usize,
        concurrency: usize,
        calls: usize,
        warmup: usize,
    ) -> Result<Summary, String> {
        let (plugin, interface) = match workload {
            Workload::Get => (self.plugin(pair)?, Self::interface(pair)),
            Workload::Callback => (
                self.callback_plugin(pair)?,
                pair.callback_arg
                    .map_or(Interface::Callback, Interface::CallbackArg),
            ),
        };
        match (pair.host, workload) {
            (Side::Rust, _) => self.rt.block_on(rust::throughput(
                &plugin,
                interface,
                automtls,
                size,
                concurrency,
                calls,
                warmup,
            )),
            (Side::Go, Workload::Get) => {
                self.go()?
                    .bench(&plugin, automtls, size, concurrency, calls, warmup)
            }
            (Side::Go, Workload::Callback) => {
                self.go()?.callback(&plugin, automtls, size, calls, warmup)
            }
        }
    }

    fn status(&self, pair: Pair, cell: &Cell) -> RowStatus {
        if let Some(why) = self.skip(pair) {
            why
        } else if let Some(e) = &cell.error {
            RowStatus::Failed(e.clone())
        } else {
            RowStatus::Ok
        }
    }
}

/// The median over `rounds` of MiB/s, items of `size` bytes (`calls_per_sec` counts items).
fn median_mib_per_s(rounds: &[Summary], size: usize) -> f64 {
    crate::results::mib_per_s(stats::median_of(rounds, |s| s.calls_per_sec), size)
}

/// The median of durations in ns.
fn median_ns(values: &[u64]) -> u64 {
    stats::median(&values.iter().map(|&v| v as f64).collect::<Vec<_>>()) as u64
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn describe<T>(result: &Result<T, String>, ok: impl Fn(&T) -> String) -> String {
    match result {
        Ok(v) => ok(v),
        Err(e) => format!("FAILED: {e}"),
    }
}

fn machine(go: Option<&GoFixtures>) -> Machine {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: format!(
            "{} {}",
            read("/proc/sys/kernel/ostype"),
            read("/proc/sys/kernel/osrelease")
        ),
        go: go.map(|g| g.version.clone()),
        release_build: !cfg!(debug_assertions),
    }
}

/// Says, where nobody can miss it, that the go-plugin comparison is not happening.
fn warn_go_skipped(why: &str) {
    let line = "=".repeat(78);
    eprintln!(
        "\n{line}\n  plugin-bench: every go-plugin row is SKIPPED: {why}.\n  \
         Install Go (https://go.dev/dl/) to compare with go-plugin.\n{line}\n"
    );
}

/// Measures everything `options.plan` asks for.
pub fn run(options: &Options) -> Result<Results, String> {
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if !options.plugin.is_file() {
        return Err(format!(
            "the Rust bench plugin is missing: {} (build it: cargo build --release -p plugin-bench)",
            options.plugin.display()
        ));
    }
    progress(&format!(
        "building the Go fixtures of {} into {}",
        options.go_module.display(),
        options.go_out.display()
    ));
    let go = go::prepare(&options.go_module, &options.go_out);
    if let Err(why) = &go {
        warn_go_skipped(why);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let bench = Bench {
        plan: options.plan.clone(),
        rt,
        rust_plugin: PluginCommand::new(&options.plugin),
        rust_kv_plugin: PluginCommand::new(&options.kv_plugin),
        go,
        go_work: tempfile::Builder::new()
            .prefix("plugin-bench-go-work")
            .tempdir()
            .map_err(|e| format!("creating a work directory: {e}"))?,
    };
    let t0 = Instant::now();
    let floor = bench.floor(&options.exe)?;
    let latency = bench.latency();
    let callback = bench.callback();
    let throughput = bench.throughput();
    let stream = bench.stream();
    let startup = bench.startup();
    let memory = bench.memory();
    let go_host = bench.go_host();
    let mut results = Results {
        schema: 1,
        tiny: bench.plan.tiny,
        started_unix,
        duration_s: t0.elapsed().as_secs_f64(),
        rounds: bench.plan.rounds,
        go_skipped: bench.go.as_ref().err().cloned(),
        machine: machine(bench.go.as_ref().ok()),
        floor,
        latency,
        callback,
        throughput,
        stream,
        startup,
        memory,
        go_host,
        targets: Vec::new(),
    };
    let sizes: Vec<usize> = bench.plan.sizes.iter().map(|s| s.bytes).collect();
    results.targets = targets::evaluate(&results, &sizes);
    Ok(results)
}
