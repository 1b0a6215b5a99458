//! `plugin-bench`: rust-plugin against go-plugin and against the physical floor, in one run.
//! See the crate documentation; `plugin-bench --help` for the options.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plugin_bench::floor::{ECHO_PEER_FLAG, echo_peer};
use plugin_bench::plan::Plan;
use plugin_bench::run::{Options, run};
use plugin_bench::rust::{Interface, PluginCommand, throughput};
use plugin_bench::{chart, report};

const USAGE: &str = "\
usage: plugin-bench [--tiny] [--out DIR] [--plugin PATH] [--go-module DIR] [--go-out DIR]
       plugin-bench hot-path [--size BYTES] [--calls N] [--concurrency C] [--automtls] [--serde]
                             [--plugin PATH]

Measures rust-plugin against go-plugin and against the physical floor in one run, prints a
markdown report (medians, ratios, targets) and writes DIR/results.json, DIR/results.md and
DIR/chart.png.

  --tiny           a smoke test: every measurement, a handful of calls (numbers meaningless)
  --out DIR        where to write the results (default: docs/bench of this workspace)
  --plugin PATH    the Rust bench plugin (default: bench-plugin next to this binary)
  --go-module DIR  the Go fixtures' module (default: tests/go of this workspace)
  --go-out DIR     where to build the Go fixtures (default: TARGET/bench-go)

Without a Go toolchain the go-plugin rows are reported as skipped.
Full runs should use a release build: scripts/bench.sh.

hot-path: only Rust host -> Rust plugin calls (default: 20000 Gets of 64 B, one caller,
AutoMTLS off, protobuf), printing their summary as JSON: a steady workload to run under a
profiler (perf record -g, valgrind --tool=callgrind --trace-children=yes).";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

struct Args {
    tiny: bool,
    out: PathBuf,
    plugin: Option<PathBuf>,
    go_module: PathBuf,
    go_out: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        tiny: false,
        out: workspace().join("docs").join("bench"),
        plugin: None,
        go_module: workspace().join("tests").join("go"),
        go_out: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--tiny" => parsed.tiny = true,
            "--out" => parsed.out = value("--out")?.into(),
            "--plugin" => parsed.plugin = Some(value("--plugin")?.into()),
            "--go-module" => parsed.go_module = value("--go-module")?.into(),
            "--go-out" => parsed.go_out = Some(value("--go-out")?.into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().map(String::as_str) == Some(ECHO_PEER_FLAG) {
        let socket = argv.nth(1).unwrap_or_default();
        return match echo_peer(Path::new(&socket)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("plugin-bench echo peer: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if argv.peek().is_some_and(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if argv.peek().is_some_and(|a| a == "hot-path") {
        argv.next();
        return match hot_path(argv) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("plugin-bench hot-path: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let args = match parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("plugin-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bench(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("plugin-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Rust host → Rust plugin calls only, for profilers.
fn hot_path(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("locating this executable: {e}"))?;
    let mut plugin = exe.with_file_name("bench-plugin");
    let (mut size, mut calls, mut concurrency) = (64usize, 20_000usize, 1usize);
    let (mut automtls, mut interface) = (false, Interface::Protobuf);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| {
            args.next()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--size" => size = number("--size")?,
            "--calls" => calls = number("--calls")?,
            "--concurrency" => concurrency = number("--concurrency")?.max(1),
            "--automtls" => automtls = true,
            "--serde" => interface = Interface::Serde,
            "--plugin" => plugin = args.next().ok_or("--plugin needs a path")?.into(),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let summary = rt.block_on(throughput(
        &PluginCommand::new(plugin),
        interface,
        automtls,
        size,
        concurrency,
        calls,
        calls / 10,
    ))?;
    println!(
        "{}",
        serde_json::to_string(&summary).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn bench(args: Args) -> Result<ExitCode, String> {
    let exe = std::env::current_exe().map_err(|e| format!("locating this executable: {e}"))?;
    let profile_dir = exe.parent().unwrap_or(Path::new("."));
    let target_dir = profile_dir.parent().unwrap_or(profile_dir);
    let options = Options {
        plan: if args.tiny {
            Plan::tiny()
        } else {
            Plan::full()
        },
        plugin: args
            .plugin
            .unwrap_or_else(|| profile_dir.join("bench-plugin")),
        go_module: args.go_module,
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
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    let png = chart::render(&results);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("creating {}: {e}", args.out.display()))?;
    for (name, bytes) in [
        ("results.json", json.as_bytes()),
        ("results.md", markdown.as_bytes()),
        ("chart.png", &png[..]),
    ] {
        let path = args.out.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    println!("{markdown}");
    eprintln!(
        "plugin-bench: wrote {0}/results.json, {0}/results.md and {0}/chart.png ({1:.0} s of measurement)",
        args.out.display(),
        results.duration_s
    );
    let failures = results.failures();
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for f in &failures {
            eprintln!("plugin-bench: FAILED: {f}");
        }
        Ok(ExitCode::FAILURE)
    }
}
