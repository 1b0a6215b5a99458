//! The raw numbers of one run, as written to `results.json`.
//!
//! Every row has a [`RowStatus`], written as a string: `ok` (its numbers are present and
//! positive), `skipped: <why>` (e.g. `skipped: no Go toolchain`; no numbers), or
//! `failed: <error>` (the run exits non-zero). Durations are nanoseconds, memory KiB.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::rust::{Resident, StartupRun};
use crate::stats::Summary;

/// Whether a row was measured; in `results.json`, `"ok"`, `"skipped: <why>"` or
/// `"failed: <error>"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum RowStatus {
    /// Measured: the row's numbers are present.
    Ok,
    /// Not measured, on purpose (e.g. no Go toolchain).
    Skipped(String),
    /// The measurement failed; the run exits non-zero.
    Failed(String),
}

impl RowStatus {
    /// Whether the row was measured.
    pub fn is_ok(&self) -> bool {
        *self == RowStatus::Ok
    }

    /// Whether the measurement failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, RowStatus::Failed(_))
    }
}

impl fmt::Display for RowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowStatus::Ok => f.write_str("ok"),
            RowStatus::Skipped(why) => write!(f, "skipped: {why}"),
            RowStatus::Failed(error) => write!(f, "failed: {error}"),
        }
    }
}

impl From<RowStatus> for String {
    fn from(status: RowStatus) -> String {
        status.to_string()
    }
}

impl TryFrom<String> for RowStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text == "ok" {
            Ok(RowStatus::Ok)
        } else if let Some(why) = text.strip_prefix("skipped: ") {
            Ok(RowStatus::Skipped(why.to_string()))
        } else if let Some(error) = text.strip_prefix("failed: ") {
            Ok(RowStatus::Failed(error.to_string()))
        } else {
            Err(format!(
                "a row status is \"ok\", \"skipped: ...\" or \"failed: ...\", not {text:?}"
            ))
        }
    }
}

/// A side of a plugin connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// rust-plugin (this SDK).
    Rust,
    /// go-plugin.
    Go,
}

impl Side {
    /// `Rust` or `Go`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Rust => "Rust",
            Side::Go => "Go",
        }
    }
}

/// The interface a row calls through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `proto.KV` (protobuf).
    Protobuf,
    /// A `#[plugin_interface]` serde interface.
    Serde,
}

/// What carries a row's unary calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// gRPC over HTTP/2 (every pairing; the only one with a Go side).
    #[default]
    Grpc,
    /// This SDK's native transport (`rustnative`): Rust host and Rust plugin only.
    Native,
}

impl Transport {
    /// Whether this is gRPC (left out of `results.json`, which predates the field).
    pub fn is_grpc(&self) -> bool {
        *self == Transport::Grpc
    }
}

/// How the plugin of a callback row got the host's callback, when it came as an `Arc<dyn Echo>`
/// argument of a `#[plugin_interface]` method (`Relay`, Rust → Rust only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackArg {
    /// Passed once, to `Relay::setup`, and kept by the plugin for every `Relay::call`: the
    /// steady-state callback round trip (like the brokered rows, dialled once).
    Kept,
    /// Passed in every `Relay::relay`: each call also serves, dials and closes the callback.
    PerCall,
}

impl CallbackArg {
    /// Both, in report order.
    pub const ALL: [CallbackArg; 2] = [CallbackArg::Kept, CallbackArg::PerCall];

    /// `kept` or `passed per call`.
    pub fn label(self) -> &'static str {
        match self {
            CallbackArg::Kept => "kept",
            CallbackArg::PerCall => "passed per call",
        }
    }

    /// `kept` or `per-call`: the `hot-path --callback-arg` value.
    pub fn name(self) -> &'static str {
        match self {
            CallbackArg::Kept => "kept",
            CallbackArg::PerCall => "per-call",
        }
    }
}

/// Who talks to whom, through what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pair {
    /// The host.
    pub host: Side,
    /// The plugin.
    pub plugin: Side,
    /// The interface.
    pub interface: Encoding,
    /// What carries the unary calls (absent in `results.json`: gRPC).
    #[serde(default, skip_serializing_if = "Transport::is_grpc")]
    pub transport: Transport,
    /// Callback rows only: the callback is an `Arc<dyn Echo>` argument, kept or passed per
    /// call (absent in `results.json`: not such a row, e.g. `bench.Callback` served through the
    /// broker explicitly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_arg: Option<CallbackArg>,
}

impl Pair {
    /// Rust host, Rust plugin, over `interface`.
    pub const fn rust(interface: Encoding) -> Pair {
        Pair {
            host: Side::Rust,
            plugin: Side::Rust,
            interface,
            transport: Transport::Grpc,
            callback_arg: None,
        }
    }

    /// Host `host`, plugin `plugin`, over `proto.KV`.
    pub const fn protobuf(host: Side, plugin: Side) -> Pair {
        Pair {
            host,
            plugin,
            interface: Encoding::Protobuf,
            transport: Transport::Grpc,
            callback_arg: None,
        }
    }

    /// Go host, Go plugin: go-plugin itself.
    pub const GO: Pair = Pair::protobuf(Side::Go, Side::Go);

    /// Rust host, Rust plugin, `proto.KV` on the native transport.
    pub const RUST_NATIVE: Pair = Pair {
        transport: Transport::Native,
        ..Pair::rust(Encoding::Protobuf)
    };

    /// Rust host, Rust plugin, the serde `Relay`, its callback an `Arc<dyn Echo>` argument
    /// passed `arg`, on the native transport when `native` (else gRPC).
    pub const fn callback_arg(native: bool, arg: CallbackArg) -> Pair {
        Pair {
            transport: if native {
                Transport::Native
            } else {
                Transport::Grpc
            },
            callback_arg: Some(arg),
            ..Pair::rust(Encoding::Serde)
        }
    }

    /// `Rust → Go`, plus ` (serde)` for serde interfaces and ` native` on the native transport;
    /// for an `Arc<dyn Echo>` callback, `Rust → Rust native, `Arc<dyn Echo>` argument, kept`
    /// (the serde interface goes without saying).
    pub fn label(&self) -> String {
        let base = format!("{} → {}", self.host.name(), self.plugin.name());
        let base = match (self.interface, self.callback_arg) {
            (Encoding::Serde, None) => format!("{base} (serde)"),
            _ => base,
        };
        let base = match self.transport {
            Transport::Grpc => base,
            Transport::Native => format!("{base} native"),
        };
        match self.callback_arg {
            None => base,
            Some(arg) => format!("{base}, `Arc<dyn Echo>` argument, {}", arg.label()),
        }
    }

    /// A label short enough for the chart's row labels: [`Pair::label`], but for an
    /// `Arc<dyn Echo>` callback `Arc<dyn> native, kept` (gRPC said, as the rows around say
    /// `Rust → Rust`).
    pub fn short_label(&self) -> String {
        match self.callback_arg {
            None => self.label(),
            Some(arg) => format!(
                "Arc<dyn> {}, {}",
                if self.native() { "native" } else { "gRPC" },
                match arg {
                    CallbackArg::Kept => "kept",
                    CallbackArg::PerCall => "per call",
                }
            ),
        }
    }

    /// Whether the unary calls go on the native transport.
    pub fn native(&self) -> bool {
        self.transport == Transport::Native
    }

    /// Whether the Go toolchain is needed.
    pub fn needs_go(&self) -> bool {
        self.host == Side::Go || self.plugin == Side::Go
    }
}

/// The machine and toolchains of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: usize,
    /// `uname -sr`-like: kernel name and release.
    pub kernel: String,
    /// The Go toolchain, when there is one.
    pub go: Option<String>,
    /// Whether the harness itself was built with optimisations.
    pub release_build: bool,
}

/// One payload size of the unix-socket floor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SocketFloor {
    /// Payload bytes each way.
    pub size: usize,
    /// Median round trip.
    pub p50_ns: u64,
    /// 99th percentile round trip.
    pub p99_ns: u64,
    /// The batch.
    pub summary: Summary,
}

/// Spawn + wait of a trivial program.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpawnFloor {
    /// The command line.
    pub command: String,
    /// Median.
    pub p50_ns: u64,
    /// Fastest.
    pub min_ns: u64,
    /// Every run, in order.
    pub all_ns: Vec<u64>,
}

/// Which way a stream's items go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Plugin → host: `bench.Transfer` `Download`, server streaming.
    Download,
    /// Host → plugin: `bench.Transfer` `Upload`, client streaming.
    Upload,
}

impl Direction {
    /// Both, in report order.
    pub const ALL: [Direction; 2] = [Direction::Download, Direction::Upload];

    /// `plugin → host (server streaming)` or `host → plugin (client streaming)`.
    pub fn label(self) -> &'static str {
        match self {
            Direction::Download => "plugin → host (server streaming)",
            Direction::Upload => "host → plugin (client streaming)",
        }
    }

    /// `download` or `upload`: the Go host's `-direction`, the progress lines'.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Download => "download",
            Direction::Upload => "upload",
        }
    }
}

/// Items of `size` bytes streamed one way through a plugin, `items` per measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamRow {
    /// Who talks to whom.
    #[serde(flatten)]
    pub pair: Pair,
    /// AutoMTLS on.
    pub automtls: bool,
    /// Which way the items go.
    pub direction: Direction,
    /// Bytes of each item.
    pub size: usize,
    /// Timed items per measurement.
    pub items: usize,
    /// Whether it was measured.
    pub status: RowStatus,
    /// Median over rounds of MiB (2^20 bytes) per second of the whole timed stream.
    pub mib_per_s: Option<f64>,
    /// Each round: `calls` are the items, each timed from the one before, and `calls_per_sec`
    /// is items per second.
    pub rounds: Vec<Summary>,
}

/// The stream throughput's floor: items of `size` bytes copied one way through a unix socket
/// between two processes, `items` per measurement, one measurement per round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyFloor {
    /// Which way the items go (`download`: the peer writes, as a plugin streaming to its host).
    pub direction: Direction,
    /// Bytes of each item.
    pub size: usize,
    /// Timed items per measurement.
    pub items: usize,
    /// Median over rounds of MiB per second.
    pub mib_per_s: f64,
    /// Each round, as in a [`StreamRow`].
    pub rounds: Vec<Summary>,
}

/// MiB per second of `items_per_sec` items of `size` bytes.
pub fn mib_per_s(items_per_sec: f64, size: usize) -> f64 {
    items_per_sec * size as f64 / f64::from(1 << 20)
}

/// The physical floor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Floor {
    /// Unix-socket round trips between two processes.
    pub unix_socket: Vec<SocketFloor>,
    /// The stream throughput's floor: the same items copied through a unix socket between two
    /// processes, each way (empty in runs that predate it).
    #[serde(default)]
    pub copy: Vec<CopyFloor>,
    /// Process spawns.
    pub spawn: Vec<SpawnFloor>,
    /// The unix-socket round trips again, both ends wrapped in TLS as AutoMTLS configures it
    /// (`floor::tls`): the least a call with AutoMTLS on can cost (empty in runs that predate
    /// it).
    #[serde(default)]
    pub tls_unix_socket: Vec<SocketFloor>,
    /// What the TLS floor's connection negotiated, e.g. `TLSv1_3 TLS13_AES_256_GCM_SHA384`.
    #[serde(default)]
    pub tls_negotiated: Option<String>,
}

/// Per-call round trips of one pair, AutoMTLS setting and size: `Get`s, or callback round trips.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyRow {
    /// Who talks to whom.
    #[serde(flatten)]
    pub pair: Pair,
    /// AutoMTLS on.
    pub automtls: bool,
    /// Payload bytes of each `Get` reply (of each message, for callbacks).
    pub size: usize,
    /// Whether it was measured.
    pub status: RowStatus,
    /// Median over rounds of each round's p50.
    pub p50_ns: Option<u64>,
    /// Median over rounds of each round's p99.
    pub p99_ns: Option<u64>,
    /// Each round.
    pub rounds: Vec<Summary>,
}

/// Calls per second of one pair with `concurrency` callers on one client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThroughputRow {
    /// Who talks to whom.
    #[serde(flatten)]
    pub pair: Pair,
    /// AutoMTLS on.
    pub automtls: bool,
    /// Payload bytes.
    pub size: usize,
    /// Concurrent callers.
    pub concurrency: usize,
    /// Whether it was measured.
    pub status: RowStatus,
    /// Median over rounds.
    pub calls_per_sec: Option<f64>,
    /// Each round.
    pub rounds: Vec<Summary>,
}

/// Spawn to first successful call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartupRow {
    /// Who talks to whom.
    #[serde(flatten)]
    pub pair: Pair,
    /// AutoMTLS on.
    pub automtls: bool,
    /// Whether it was measured.
    pub status: RowStatus,
    /// Median over every run.
    pub p50_ns: Option<u64>,
    /// Fastest run.
    pub min_ns: Option<u64>,
    /// Every run.
    pub all_ns: Vec<u64>,
    /// Rust hosts only: the median of each phase over every run.
    pub phases: Option<StartupRun>,
}

/// A plugin's resident memory after a number of calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryRow {
    /// Who talks to whom (the host is Rust for both plugins: same client, same calls).
    #[serde(flatten)]
    pub pair: Pair,
    /// AutoMTLS on.
    pub automtls: bool,
    /// Payload bytes.
    pub size: usize,
    /// Calls made before reading.
    pub calls: usize,
    /// Whether it was measured.
    pub status: RowStatus,
    /// The reading.
    #[serde(flatten)]
    pub resident: Option<Resident>,
}

/// Under one go-plugin host (`go-bench-pair-host`), one plugin (rust-plugin's `bench-plugin`
/// or go-plugin's `go-kv-plugin`) measured alternately with the other, rounds interleaving both:
/// start-ups, `Get` round trips and the plugin's resident memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GoHostRow {
    /// Go host, and the plugin measured (`proto.KV`, gRPC).
    #[serde(flatten)]
    pub pair: Pair,
    /// AutoMTLS on.
    pub automtls: bool,
    /// Whether it was measured.
    pub status: RowStatus,
    /// Bytes of each `Get` reply.
    pub size: usize,
    /// Median start-up (spawn to first successful `Get`) over every run.
    pub startup_p50_ns: Option<u64>,
    /// Fastest start-up.
    pub startup_min_ns: Option<u64>,
    /// Every start-up, in run order.
    pub startup_all_ns: Vec<u64>,
    /// Median over rounds of each round's p50 `Get` round trip.
    pub p50_ns: Option<u64>,
    /// Median over rounds of each round's p99.
    pub p99_ns: Option<u64>,
    /// Each round's `Get`s (one fresh plugin per round).
    pub rounds: Vec<Summary>,
    /// `Get`s in all, per round, before the plugin's memory is read.
    pub memory_calls: usize,
    /// Median over rounds of `VmRSS`, KiB.
    pub vm_rss_kb: Option<u64>,
    /// Median over rounds of `VmHWM` (peak), KiB.
    pub vm_hwm_kb: Option<u64>,
    /// Each round's reading.
    pub memory_rounds: Vec<Resident>,
}

/// One of the issue's targets (or an informational ratio, without `target`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// What is compared.
    pub name: String,
    /// The measured ratio, when both sides were measured.
    pub ratio: Option<f64>,
    /// The largest ratio that meets the target (the smallest, when `at_least`; `None`:
    /// informational).
    pub target: Option<f64>,
    /// Whether the target is a lower bound (higher is better, e.g. throughput).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_least: bool,
    /// Whether the target is met (`None`: informational or not measured).
    pub met: Option<bool>,
}

/// One run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// Format version of this file.
    pub schema: u32,
    /// The tiny smoke-test plan (numbers meaningless).
    pub tiny: bool,
    /// Seconds since the epoch when the run started.
    pub started_unix: u64,
    /// Wall time of the measurements, seconds.
    pub duration_s: f64,
    /// Rounds per latency and throughput cell.
    pub rounds: usize,
    /// Why the Go rows were skipped, if they were.
    pub go_skipped: Option<String>,
    /// Where it ran.
    pub machine: Machine,
    /// The floor.
    pub floor: Floor,
    /// Per-call round trips.
    pub latency: Vec<LatencyRow>,
    /// Callback round trips, host → plugin → host → plugin → host: the host calls
    /// `bench.Caller` `Call`, which calls back the host's `bench.Callback` over a broker
    /// connection the plugin dialled once, beforehand (empty in runs that predate them).
    #[serde(default)]
    pub callback: Vec<LatencyRow>,
    /// Calls per second.
    pub throughput: Vec<ThroughputRow>,
    /// Stream throughput, `bench.Transfer` `Download` and `Upload` (empty in runs that predate
    /// it).
    #[serde(default)]
    pub stream: Vec<StreamRow>,
    /// Start-up.
    pub startup: Vec<StartupRow>,
    /// Resident memory.
    pub memory: Vec<MemoryRow>,
    /// Under one go-plugin host: our plugin and go-plugin's, alternately (empty in runs that
    /// predate it).
    #[serde(default)]
    pub go_host: Vec<GoHostRow>,
    /// Targets and ratios.
    pub targets: Vec<Target>,
}

impl Results {
    /// Every failed row, with what it belongs to.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |what: String, status: &RowStatus| {
            if status.is_failed() {
                out.push(format!("{what}: {status}"));
            }
        };
        for (what, rows) in [("latency", &self.latency), ("callback", &self.callback)] {
            for r in rows {
                check(format!("{what} {} {} B", r.pair.label(), r.size), &r.status);
            }
        }
        for r in &self.stream {
            check(
                format!("stream {} {}", r.pair.label(), r.direction.name()),
                &r.status,
            );
        }
        for r in &self.throughput {
            check(
                format!("throughput {} x{}", r.pair.label(), r.concurrency),
                &r.status,
            );
        }
        for r in &self.startup {
            check(format!("start-up {}", r.pair.label()), &r.status);
        }
        for r in &self.memory {
            check(format!("memory {}", r.pair.label()), &r.status);
        }
        for r in &self.go_host {
            check(
                format!("under a go-plugin host, {} plugin", r.pair.plugin.name()),
                &r.status,
            );
        }
        out
    }

    /// The measured p50 of `pair` at `size` bytes, if it was measured.
    pub fn latency_p50(&self, pair: Pair, automtls: bool, size: usize) -> Option<u64> {
        find_p50(&self.latency, pair, automtls, size)
    }

    /// The measured p50 of `pair`'s callback round trip at `size` bytes, if it was measured.
    pub fn callback_p50(&self, pair: Pair, automtls: bool, size: usize) -> Option<u64> {
        find_p50(&self.callback, pair, automtls, size)
    }

    /// The floor's p50 at `size` bytes.
    pub fn floor_p50(&self, size: usize) -> Option<u64> {
        self.floor
            .unix_socket
            .iter()
            .find(|f| f.size == size)
            .map(|f| f.p50_ns)
    }

    /// The TLS floor's p50 at `size` bytes.
    pub fn tls_floor_p50(&self, size: usize) -> Option<u64> {
        self.floor
            .tls_unix_socket
            .iter()
            .find(|f| f.size == size)
            .map(|f| f.p50_ns)
    }

    /// The row of `plugin` under the go-plugin host of the pairing, if there is one.
    pub fn go_host_row(&self, plugin: Side, automtls: bool) -> Option<&GoHostRow> {
        self.go_host
            .iter()
            .find(|r| r.pair.plugin == plugin && r.automtls == automtls)
    }

    /// The measured stream throughput of `pair` (MiB/s) going `direction`.
    pub fn stream_mib_per_s(
        &self,
        pair: Pair,
        automtls: bool,
        direction: Direction,
    ) -> Option<f64> {
        self.stream
            .iter()
            .find(|r| r.pair == pair && r.automtls == automtls && r.direction == direction)
            .and_then(|r| r.mib_per_s)
    }

    /// The copy floor's throughput (MiB/s) going `direction`.
    pub fn copy_floor_mib_per_s(&self, direction: Direction) -> Option<f64> {
        self.floor
            .copy
            .iter()
            .find(|r| r.direction == direction)
            .map(|r| r.mib_per_s)
    }

    /// The median start-up of `pair`.
    pub fn startup_p50(&self, pair: Pair, automtls: bool) -> Option<u64> {
        self.startup
            .iter()
            .find(|r| r.pair == pair && r.automtls == automtls)
            .and_then(|r| r.p50_ns)
    }

    /// The calls per second of `pair` with `concurrency` callers.
    pub fn calls_per_sec(&self, pair: Pair, automtls: bool, concurrency: usize) -> Option<f64> {
        self.throughput
            .iter()
            .find(|r| r.pair == pair && r.automtls == automtls && r.concurrency == concurrency)
            .and_then(|r| r.calls_per_sec)
    }

    /// The resident memory of `plugin`'s process.
    pub fn resident(&self, plugin: Side) -> Option<Resident> {
        self.memory
            .iter()
            .find(|r| r.pair.plugin == plugin && !r.pair.native())
            .and_then(|r| r.resident)
    }
}

fn find_p50(rows: &[LatencyRow], pair: Pair, automtls: bool, size: usize) -> Option<u64> {
    rows.iter()
        .find(|r| r.pair == pair && r.automtls == automtls && r.size == size)
        .and_then(|r| r.p50_ns)
}

#[cfg(test)]
mod tests {
    use super::RowStatus;

    #[test]
    fn a_status_is_written_as_the_string_the_json_has_always_had() {
        for (status, json) in [
            (RowStatus::Ok, r#""ok""#),
            (
                RowStatus::Skipped("no Go toolchain".into()),
                r#""skipped: no Go toolchain""#,
            ),
            (
                RowStatus::Failed("boom: it broke".into()),
                r#""failed: boom: it broke""#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
            assert_eq!(serde_json::from_str::<RowStatus>(json).unwrap(), status);
        }
        assert!(serde_json::from_str::<RowStatus>(r#""maybe""#).is_err());
    }
}
