//! `plugin-bench`: rust-plugin against go-plugin and against the physical floor, in one run.
//! See the crate documentation; `plugin-bench --help` for the options.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use plugin_bench::floor::{ECHO_PEER_FLAG, ECHO_PEER_TLS_FLAG, echo_peer};
use plugin_bench::plan::Plan;
use plugin_bench::results::{CallbackArg, Results};
use plugin_bench::run::{Options, run};
use plugin_bench::rust::{Interface, PluginCommand, throughput};
use plugin_bench::{chart, report};

/// Measures rust-plugin against go-plugin and against the physical floor in one run, prints a
/// markdown report (medians, ratios, targets) and writes DIR/results.json, DIR/results.md and
/// DIR/chart.png.
///
/// Without a Go toolchain the go-plugin rows are reported as skipped. Full runs should use a
/// release build: scripts/bench.sh.
#[derive(Parser)]
#[command(
    name = "plugin-bench",
    args_conflicts_with_subcommands = true,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    bench: BenchArgs,
    /// Serve as the floor's echo peer on this unix socket (the harness runs itself so).
    #[arg(long = ECHO_PEER_FLAG.trim_start_matches('-'), value_name = "SOCKET", hide = true)]
    echo_peer: Option<PathBuf>,
    /// With --echo-peer: speak TLS, with the keys in this PEM file (the TLS floor).
    #[arg(long = ECHO_PEER_TLS_FLAG.trim_start_matches('-'), value_name = "PEM", hide = true,
          requires = "echo_peer")]
    echo_peer_tls: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// A smoke test: every measurement, a handful of calls (numbers meaningless).
    #[arg(long)]
    tiny: bool,
    /// Where to write the results [default: docs/bench of this workspace].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The Rust bench plugin [default: bench-plugin next to this binary].
    #[arg(long, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// The Rust plugin of start-up, memory and the go-plugin host, serving `proto.KV` only
    /// [default: bench-kv-plugin next to this binary].
    #[arg(long, value_name = "PATH")]
    kv_plugin: Option<PathBuf>,
    /// The Go fixtures' module [default: tests/go of this workspace].
    #[arg(long, value_name = "DIR")]
    go_module: Option<PathBuf>,
    /// Where to build the Go fixtures [default: TARGET/bench-go].
    #[arg(long, value_name = "DIR")]
    go_out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Only Rust host -> Rust plugin calls, printing their summary as JSON: a steady workload
    /// to run under a profiler (perf record -g, valgrind --tool=callgrind --trace-children=yes).
    HotPath(HotPathArgs),
    /// Redraws DIR/chart.png from DIR/results.json, without measuring.
    Chart {
        /// The directory of a run [default: docs/bench of this workspace].
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Args)]
struct HotPathArgs {
    /// Bytes of each `Get` reply.
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    size: usize,
    /// Timed calls (a tenth as many go first, untimed).
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    calls: usize,
    /// Concurrent callers on one dispensed client.
    #[arg(long, value_name = "C", default_value_t = 1,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    concurrency: usize,
    /// With AutoMTLS.
    #[arg(long)]
    automtls: bool,
    /// Through the serde interface instead of protobuf `proto.KV`.
    #[arg(long)]
    serde: bool,
    /// Callback round trips instead (`bench.Caller`, calling back the host's `bench.Callback`).
    #[arg(long, conflicts_with = "serde")]
    callback: bool,
    /// Callback round trips through the serde `Relay` instead, the host's callback an
    /// `Arc<dyn Echo>` argument: kept (passed once to `setup`) or passed with every call.
    #[arg(long, value_name = "HOW", conflicts_with_all = ["serde", "callback"])]
    callback_arg: Option<ArgWhen>,
    /// The Rust bench plugin [default: bench-plugin next to this binary].
    #[arg(long, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// Unary calls on the native transport instead of gRPC.
    #[arg(long)]
    native: bool,
}

/// When `hot-path --callback-arg` passes the `Arc<dyn Echo>`.
#[derive(Clone, Copy, ValueEnum)]
enum ArgWhen {
    /// Once, to `Relay::setup`; the plugin keeps it for every `Relay::call`.
    Kept,
    /// With every `Relay::relay`.
    PerCall,
}

impl From<ArgWhen> for CallbackArg {
    fn from(when: ArgWhen) -> Self {
        match when {
            ArgWhen::Kept => CallbackArg::Kept,
            ArgWhen::PerCall => CallbackArg::PerCall,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (cli.echo_peer, cli.command) {
        (Some(socket), _) => echo_peer(&socket, cli.echo_peer_tls.as_deref())
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| format!("echo peer: {e}").into()),
        (None, Some(Command::HotPath(args))) => hot_path(args).map(|()| ExitCode::SUCCESS),
        (None, Some(Command::Chart { dir })) => redraw(dir).map(|()| ExitCode::SUCCESS),
        (None, None) => bench(cli.bench),
    };
    result.unwrap_or_else(|e| {
        eprintln!("plugin-bench: {e}");
        ExitCode::FAILURE
    })
}

/// The directory of this workspace.
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
}

/// This executable's directory: where cargo put `bench-plugin` too.
fn profile_dir() -> Result<PathBuf, Box<dyn Error>> {
    let exe = std::env::current_exe().map_err(|e| format!("locating this executable: {e}"))?;
    Ok(exe.parent().unwrap_or(Path::new(".")).to_path_buf())
}

/// Rust host → Rust plugin calls only, for profilers.
fn hot_path(args: HotPathArgs) -> Result<(), Box<dyn Error>> {
    let plugin = match args.plugin {
        Some(plugin) => plugin,
        None => profile_dir()?.join("bench-plugin"),
    };
    let interface = if let Some(when) = args.callback_arg {
        Interface::CallbackArg(when.into())
    } else if args.serde {
        Interface::Serde
    } else if args.callback {
        Interface::Callback
    } else {
        Interface::Protobuf
    };
    let rt = tokio::runtime::Runtime::new()?;
    let summary = rt.block_on(throughput(
        &PluginCommand::new(plugin).native(args.native),
        interface,
        args.automtls,
        args.size,
        args.concurrency,
        args.calls,
        args.calls / 10,
    ))?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

/// Where a run's files go unless `--out` says otherwise.
fn default_out() -> PathBuf {
    workspace().join("docs").join("bench")
}

/// Redraws the chart of the run in `dir` from its `results.json`.
fn redraw(dir: Option<PathBuf>) -> Result<(), Box<dyn Error>> {
    let dir = dir.unwrap_or_else(default_out);
    let json = dir.join("results.json");
    let text =
        std::fs::read_to_string(&json).map_err(|e| format!("reading {}: {e}", json.display()))?;
    let results = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
    draw_chart(&results, &dir)?;
    eprintln!("plugin-bench: wrote {}/chart.png", dir.display());
    Ok(())
}

/// Draws `dir/chart.png`.
fn draw_chart(results: &Results, dir: &Path) -> Result<(), Box<dyn Error>> {
    let chart = dir.join("chart.png");
    chart::render(results, &chart).map_err(|e| format!("drawing {}: {e}", chart.display()))?;
    Ok(())
}

fn bench(args: BenchArgs) -> Result<ExitCode, Box<dyn Error>> {
    let exe = std::env::current_exe().map_err(|e| format!("locating this executable: {e}"))?;
    let profile_dir = profile_dir()?;
    let target_dir = profile_dir.parent().unwrap_or(&profile_dir);
    let out = args.out.unwrap_or_else(default_out);
    let options = Options {
        plan: if args.tiny {
            Plan::tiny()
        } else {
            Plan::full()
        },
        plugin: args
            .plugin
            .unwrap_or_else(|| profile_dir.join("bench-plugin")),
        kv_plugin: args
            .kv_plugin
            .unwrap_or_else(|| profile_dir.join("bench-kv-plugin")),
        go_module: args
            .go_module
            .unwrap_or_else(|| workspace().join("tests").join("go")),
        go_out: args.go_out.unwrap_or_else(|| target_dir.join("bench-go")),
        exe,
    };
    if cfg!(debug_assertions) && !args.tiny {
        eprintln!(
            "plugin-bench: WARNING: this is a debug build; the numbers will not mean much \
             (use scripts/bench.sh, which builds in release)"
        );
    }
    let results = run(&options)?;
    let markdown = report::markdown(&results);
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    write(
        "results.json",
        serde_json::to_string_pretty(&results)?.as_bytes(),
    )?;
    write("results.md", markdown.as_bytes())?;
    draw_chart(&results, &out)?;
    println!("{markdown}");
    eprintln!(
        "plugin-bench: wrote {0}/results.json, {0}/results.md and {0}/chart.png ({1:.0} s of measurement)",
        out.display(),
        results.duration_s
    );
    let failures = results.failures();
    for f in &failures {
        eprintln!("plugin-bench: FAILED: {f}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
