//! The go-plugin side: the Go fixtures of `tests/go` (go-kv-host, go-kv-plugin, and for the
//! callback round trip go-bench-callback-host and go-bench-callback-plugin, for the stream
//! throughput go-bench-stream-host and go-bench-stream-plugin, and go-bench-pair-host, which
//! times our plugin and go-kv-plugin alternately under one go-plugin host), built with the
//! local Go toolchain, and measurements with the Go hosts.
//!
//! The harness sets `KV_PLUGIN_NO_SHELL=1`: go-kv-host then launches the plugin binary itself,
//! as the Rust host does, instead of through `sh -c "$KV_PLUGIN"` (a shell start would be timed
//! in every go-plugin start-up otherwise). The Go plugin runs with `KV_PLUGIN_STORE=memory`
//! for calls (in-memory, like `bench-plugin`); see `tests/go/README.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::plan::{GoHostPlan, StreamPlan};
use crate::results::{Direction, Side};
use crate::rust::{PluginCommand, Resident};
use crate::stats::Summary;

/// The built Go fixtures.
#[derive(Debug, Clone)]
pub struct GoFixtures {
    /// The directory holding the fixtures' binaries ([`BINARIES`]).
    pub dir: PathBuf,
    /// `go version`'s answer, e.g. `go1.26.8 linux/amd64`.
    pub version: String,
}

/// Why the Go rows cannot be measured.
pub const NO_GO: &str = "no Go toolchain";

/// The fixtures' binaries the harness runs.
pub const BINARIES: [&str; 7] = [
    "go-kv-host",
    "go-kv-plugin",
    CALLBACK_HOST,
    "go-bench-callback-plugin",
    STREAM_HOST,
    "go-bench-stream-plugin",
    PAIR_HOST,
];

/// go-plugin's host timing our plugin and go-kv-plugin alternately.
const PAIR_HOST: &str = "go-bench-pair-host";

/// go-plugin's host of the callback round trip.
const CALLBACK_HOST: &str = "go-bench-callback-host";

/// go-plugin's host of the stream throughput.
const STREAM_HOST: &str = "go-bench-stream-host";

/// Builds the fixtures of the Go module at `module` into `out` (`go build -o`), or says why the
/// Go side is skipped ([`NO_GO`] when `go` cannot run).
///
/// The binaries are built into a private directory first and then renamed into `out`, so that
/// concurrent runs never execute a half-written binary.
pub fn prepare(module: &Path, out: &Path) -> Result<GoFixtures, String> {
    let version = match Command::new("go").arg("version").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .trim()
            .trim_start_matches("go version ")
            .to_string(),
        Ok(o) => return Err(format!("{NO_GO} (`go version` failed: {})", o.status)),
        Err(_) => return Err(NO_GO.to_string()),
    };
    std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(out)
        .map_err(|e| format!("creating a build directory in {}: {e}", out.display()))?;
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(format!("{}/", staging.path().display()))
        .arg("./cmd/...")
        .current_dir(module)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running go build: {e}"))?;
    if !built.status.success() {
        return Err(format!(
            "go build failed in {}:\n{}",
            module.display(),
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    for bin in BINARIES {
        std::fs::rename(staging.path().join(bin), out.join(bin))
            .map_err(|e| format!("installing {bin} into {}: {e}", out.display()))?;
    }
    Ok(GoFixtures {
        dir: out.to_path_buf(),
        version,
    })
}

/// What `go-kv-host bench`, `go-bench-callback-host` and `go-bench-stream-host` print.
#[derive(Debug, Deserialize)]
struct BenchJson {
    calls: usize,
    p50_ns: u64,
    p99_ns: u64,
    mean_ns: u64,
    calls_per_sec: f64,
}

/// What `go-bench-pair-host` prints.
#[derive(Debug, Deserialize)]
struct PairJson {
    cells: Vec<PairCellJson>,
}

#[derive(Debug, Deserialize)]
struct PairCellJson {
    plugin: Side,
    automtls: bool,
    #[serde(default)]
    error: Option<String>,
    startup_ns: Vec<u64>,
    calls: Vec<BenchJson>,
    memory: Vec<Resident>,
}

/// One plugin under `go-bench-pair-host`, one AutoMTLS setting, over every round.
#[derive(Debug, Clone)]
pub struct PairCell {
    /// `Rust` (`bench-plugin`) or `Go` (`go-kv-plugin`).
    pub plugin: Side,
    /// AutoMTLS on.
    pub automtls: bool,
    /// Why it was not measured (further), if it failed.
    pub error: Option<String>,
    /// Every start-up, ns, in run order.
    pub startup_ns: Vec<u64>,
    /// Each round's `Get`s.
    pub calls: Vec<Summary>,
    /// Each round's reading of the plugin's memory.
    pub memory: Vec<Resident>,
}

/// What `go-kv-host startup` prints.
#[derive(Debug, Deserialize)]
struct StartupJson {
    all_ns: Vec<u64>,
}

impl GoFixtures {
    /// go-plugin's plugin, `go-kv-plugin`.
    pub fn plugin(&self) -> PathBuf {
        self.dir.join("go-kv-plugin")
    }

    /// go-plugin's plugin of the callback round trip, `go-bench-callback-plugin`.
    pub fn callback_plugin(&self) -> PathBuf {
        self.dir.join("go-bench-callback-plugin")
    }

    /// go-plugin's plugin of the stream throughput, `go-bench-stream-plugin`.
    pub fn stream_plugin(&self) -> PathBuf {
        self.dir.join("go-bench-stream-plugin")
    }

    /// `go-kv-host bench`: `calls` `Get`s of `size` bytes by `concurrency` goroutines sharing
    /// one dispensed client, after `warmup` untimed ones, against a fresh `plugin`.
    pub fn bench(
        &self,
        plugin: &PluginCommand,
        automtls: bool,
        size: usize,
        concurrency: usize,
        calls: usize,
        warmup: usize,
    ) -> Result<Summary, String> {
        let args = [
            "bench".to_string(),
            format!("-calls={calls}"),
            format!("-size={size}"),
            format!("-concurrency={concurrency}"),
            format!("-warmup={warmup}"),
        ];
        self.host(plugin, automtls, &args).map(BenchJson::summary)
    }

    /// `go-bench-callback-host`: `calls` callback round trips of `size` bytes, one at a time,
    /// after `warmup` untimed ones, against a fresh `plugin` (speaking `bench.Caller`).
    pub fn callback(
        &self,
        plugin: &PluginCommand,
        automtls: bool,
        size: usize,
        calls: usize,
        warmup: usize,
    ) -> Result<Summary, String> {
        self.bench_host(
            CALLBACK_HOST,
            plugin,
            automtls,
            &[
                format!("-calls={calls}"),
                format!("-size={size}"),
                format!("-warmup={warmup}"),
            ],
        )
    }

    /// `go-bench-stream-host`: `plan.warmup` items of `plan.size` bytes streamed `direction`
    /// untimed, then `plan.items` timed, against a fresh `plugin` (speaking `bench.Transfer`);
    /// `calls` are the items.
    pub fn stream(
        &self,
        plugin: &PluginCommand,
        automtls: bool,
        direction: Direction,
        plan: StreamPlan,
    ) -> Result<Summary, String> {
        self.bench_host(
            STREAM_HOST,
            plugin,
            automtls,
            &[
                format!("-direction={}", direction.name()),
                format!("-items={}", plan.items),
                format!("-size={}", plan.size),
                format!("-warmup={}", plan.warmup),
            ],
        )
    }

    /// `go-bench-pair-host`: one go-plugin host launching `rust` (our `bench-plugin`, which must
    /// answer `Get("startup")` at once: its environment should seed it) and `go-kv-plugin`
    /// alternately, `rounds` rounds of both AutoMTLS settings, measuring start-up, `Get` round
    /// trips and resident memory as `plan` says. One cell per plugin and setting.
    pub fn pair_host(
        &self,
        rust: &PluginCommand,
        plan: GoHostPlan,
        rounds: usize,
    ) -> Result<Vec<PairCell>, String> {
        let mut cmd = Command::new(self.dir.join(PAIR_HOST));
        cmd.arg("-rust")
            .arg(&rust.program)
            .arg("-go")
            .arg(self.plugin())
            .args([
                "-automtls=off,on".to_string(),
                format!("-rounds={rounds}"),
                format!("-startups={}", plan.startups),
                format!("-calls={}", plan.calls),
                format!("-warmup={}", plan.warmup),
                format!("-memory-calls={}", plan.memory_calls),
                format!("-size={}", plan.size),
            ])
            .env_remove("KV_PLUGIN_STORE");
        let out: PairJson = run_json(cmd, rust, PAIR_HOST)?;
        Ok(out
            .cells
            .into_iter()
            .map(|c| PairCell {
                plugin: c.plugin,
                automtls: c.automtls,
                error: c.error,
                startup_ns: c.startup_ns,
                calls: c.calls.into_iter().map(BenchJson::summary).collect(),
                memory: c.memory,
            })
            .collect())
    }

    /// Runs the benchmark host `host` with `-plugin PATH`, `args` and `-automtls` when
    /// `automtls`, and parses the summary it prints.
    fn bench_host(
        &self,
        host: &str,
        plugin: &PluginCommand,
        automtls: bool,
        args: &[String],
    ) -> Result<Summary, String> {
        let mut cmd = Command::new(self.dir.join(host));
        cmd.arg("-plugin").arg(&plugin.program).args(args);
        if automtls {
            cmd.arg("-automtls");
        }
        run_json(cmd, plugin, host).map(BenchJson::summary)
    }

    /// `go-kv-host startup`: `runs` times spawn to first successful `Get` (after one untimed
    /// session that stores the value). Durations in ns, in run order.
    pub fn startup(
        &self,
        plugin: &PluginCommand,
        automtls: bool,
        runs: usize,
    ) -> Result<Vec<u64>, String> {
        let out: StartupJson = self.host(
            plugin,
            automtls,
            &["startup".into(), format!("-runs={runs}")],
        )?;
        Ok(out.all_ns)
    }

    /// Runs go-kv-host with `args` against `plugin` and parses the JSON it prints.
    fn host<T: serde::de::DeserializeOwned>(
        &self,
        plugin: &PluginCommand,
        automtls: bool,
        args: &[String],
    ) -> Result<T, String> {
        let mut cmd = Command::new(self.dir.join("go-kv-host"));
        cmd.args(args)
            .env("KV_PLUGIN", &plugin.program)
            .env("KV_PLUGIN_NO_SHELL", "1");
        for var in [
            "KV_REATTACH",
            "KV_AUTOMTLS",
            "KV_MULTIPLEX",
            "KV_HOST_VERSIONS",
            "KV_SYNC_STDOUT",
            "KV_SYNC_STDERR",
            "KV_STDERR",
            "KV_BENCH_RSS",
        ] {
            cmd.env_remove(var);
        }
        if automtls {
            cmd.env("KV_AUTOMTLS", "1");
        }
        run_json(cmd, plugin, &format!("go-kv-host {}", args.join(" ")))
    }
}

impl BenchJson {
    fn summary(self) -> Summary {
        Summary {
            calls: self.calls,
            p50_ns: self.p50_ns,
            p99_ns: self.p99_ns,
            mean_ns: self.mean_ns,
            calls_per_sec: self.calls_per_sec,
        }
    }
}

/// Runs a Go host (`cmd`, called `what` in errors) that launches `plugin`, with the plugin's
/// environment and working directory, and parses the JSON it prints.
fn run_json<T: serde::de::DeserializeOwned>(
    mut cmd: Command,
    plugin: &PluginCommand,
    what: &str,
) -> Result<T, String> {
    // A plugin killed by the host cannot remove its socket: sockets go to a private directory.
    let sockets = tempfile::Builder::new()
        .prefix("plugin-bench-go")
        .tempdir()
        .map_err(|e| format!("creating a socket directory: {e}"))?;
    cmd.env("PLUGIN_UNIX_SOCKET_DIR", sockets.path())
        .stdin(Stdio::null())
        .envs(plugin.envs.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &plugin.dir {
        cmd.current_dir(dir);
    }
    let out = cmd.output().map_err(|e| format!("running {what}: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{what} printed no JSON result ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
