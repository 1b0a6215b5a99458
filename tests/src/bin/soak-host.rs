//! The soak: many calls through one client, sampling both processes' memory and descriptors.
//! Run it with `scripts/soak.sh`; it is not part of the test suite.
//!
//! `soak-host [--calls N] [--every N] [--csv PATH] [--plugin PATH]` launches `serde-fixture`
//! (next to this binary unless `--plugin`), dispenses its `jobs` (serde) and `echo` (protobuf)
//! interfaces from one client and calls them in turn, N times in all (default 1,000,000),
//! checking every answer. Every `--every` calls (default 10,000) it samples the host's and the
//! plugin's resident memory (`VmRSS`) and open descriptors (`/proc/<pid>/fd`), writes the
//! samples as CSV, and prints a summary with a verdict: exit 0 when both stay flat, 1 when
//! not, 2 when a call failed or the run could not start.
//!
//! "Flat": after a warm-up of the first tenth of the samples (at least the one taken before
//! any call), (a) every resident-memory sample is within 10% of those samples' median, (b) the
//! mean of their last quarter is at most 5% above the mean of their first quarter (no slow
//! creep), and (c) the descriptor count varies by at most 2.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Instant;

use plugin_runtime::{Client, ClientConfig, PluginSet};
use plugin_tests::interfaces::{Echo, EchoPlugin, EchoRequest, Jobs, JobsPlugin, Task, handshake};

struct Args {
    calls: u64,
    every: u64,
    csv: Option<PathBuf>,
    plugin: PathBuf,
}

const USAGE: &str = "usage: soak-host [--calls N] [--every N] [--csv PATH] [--plugin PATH]";

fn args() -> Result<Args, String> {
    let mut args = Args {
        calls: 1_000_000,
        every: 10_000,
        csv: None,
        plugin: std::env::current_exe()
            .map_err(|e| format!("locating this binary: {e}"))?
            .with_file_name("serde-fixture"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag} {v:?}: {e}"));
        match flag.as_str() {
            "--calls" => args.calls = number(value()?)?,
            "--every" => args.every = number(value()?)?.max(1),
            "--csv" => args.csv = Some(value()?.into()),
            "--plugin" => args.plugin = value()?.into(),
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {flag:?}; {USAGE}")),
        }
    }
    Ok(args)
}

/// One sample of both processes.
#[derive(Clone, Copy)]
struct Sample {
    calls: u64,
    seconds: f64,
    host_rss_kib: u64,
    host_fds: u64,
    plugin_rss_kib: u64,
    plugin_fds: u64,
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// Open descriptors of a process (for `self`, less the one reading the directory).
fn fds(pid: &str) -> Result<u64, String> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|e| format!("reading /proc/{pid}/fd: {e}"))?;
    let n = dir.count() as u64;
    Ok(if pid == "self" {
        n.saturating_sub(1)
    } else {
        n
    })
}

fn sample(calls: u64, start: Instant, plugin: &str) -> Result<Sample, String> {
    Ok(Sample {
        calls,
        seconds: start.elapsed().as_secs_f64(),
        host_rss_kib: rss_kib("self")?,
        host_fds: fds("self")?,
        plugin_rss_kib: rss_kib(plugin)?,
        plugin_fds: fds(plugin)?,
    })
}

/// Call `n`: serde on even numbers, protobuf on odd; the answer must be this call's.
async fn call(n: u64, jobs: &Arc<dyn Jobs>, echo: &Arc<dyn Echo>) -> Result<(), String> {
    if n.is_multiple_of(2) {
        let task = Task {
            id: n,
            tags: vec![],
            payload: n.to_le_bytes().to_vec(),
        };
        let report = jobs
            .run(n.to_string(), 2, task.clone())
            .await
            .map_err(|e| format!("serde call {n}: {e}"))?;
        if report.task != task || report.text != n.to_string().repeat(2) {
            return Err(format!("serde call {n}: someone else's answer"));
        }
    } else {
        let text = format!("echo {n}");
        let reply = echo
            .echo(EchoRequest {
                text: text.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("protobuf call {n}: {e:?}"))?;
        if reply.text != text {
            return Err(format!(
                "protobuf call {n}: {:?} instead of {text:?}",
                reply.text
            ));
        }
    }
    Ok(())
}

async fn soak(args: &Args) -> Result<Vec<Sample>, String> {
    let client = Client::new(
        ClientConfig::new(handshake())
            .command(Command::new(&args.plugin))
            .plugins(
                PluginSet::new()
                    .with("jobs", JobsPlugin::host())
                    .with("echo", EchoPlugin::host()),
            ),
    )
    .map_err(|e| format!("config: {e}"))?;
    let result = calls(&client, args).await;
    client.kill().await;
    result
}

async fn calls(client: &Client, args: &Args) -> Result<Vec<Sample>, String> {
    let jobs = client
        .dispense::<dyn Jobs>("jobs")
        .await
        .map_err(|e| format!("dispensing jobs from {}: {e}", args.plugin.display()))?;
    let echo = client
        .dispense::<dyn Echo>("echo")
        .await
        .map_err(|e| format!("dispensing echo: {e}"))?;
    let plugin = client
        .pid()
        .ok_or("the plugin has no process id")?
        .to_string();
    let start = Instant::now();
    let mut samples = vec![sample(0, start, &plugin)?];
    for n in 1..=args.calls {
        call(n, &jobs, &echo).await?;
        if n.is_multiple_of(args.every) || n == args.calls {
            let s = sample(n, start, &plugin)?;
            eprintln!(
                "{n:>9} calls  host {} KiB {} fds  plugin {} KiB {} fds",
                s.host_rss_kib, s.host_fds, s.plugin_rss_kib, s.plugin_fds
            );
            samples.push(s);
        }
    }
    Ok(samples)
}

fn csv(samples: &[Sample]) -> String {
    let mut out = String::from("calls,seconds,host_rss_kib,host_fds,plugin_rss_kib,plugin_fds\n");
    for s in samples {
        let _ = writeln!(
            out,
            "{},{:.3},{},{},{},{}",
            s.calls, s.seconds, s.host_rss_kib, s.host_fds, s.plugin_rss_kib, s.plugin_fds
        );
    }
    out
}

/// One column's figures and whether it stayed flat (see the module's rule).
struct Column {
    name: &'static str,
    first: u64,
    last: u64,
    min: u64,
    max: u64,
    median: u64,
    verdict: Result<(), String>,
}

fn column(name: &'static str, values: &[u64], memory: bool) -> Column {
    // The first sample is taken before any call: always part of the warm-up.
    let warm_up = (values.len() / 10).max(1).min(values.len() - 1);
    let warm: Vec<u64> = values[warm_up..].to_vec();
    let mut sorted = warm.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    let verdict = if memory {
        let band = median as f64 * 0.10;
        let quarter = warm.len().div_ceil(4);
        let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len() as f64;
        let (early, late) = (mean(&warm[..quarter]), mean(&warm[warm.len() - quarter..]));
        if (max as f64 - median as f64) > band || (median as f64 - min as f64) > band {
            Err(format!(
                "{min}..{max} KiB leaves 10% of the median {median} KiB"
            ))
        } else if late > early * 1.05 {
            Err(format!(
                "crept from {early:.0} to {late:.0} KiB (more than 5%)"
            ))
        } else {
            Ok(())
        }
    } else if max - min > 2 {
        Err(format!("varied from {min} to {max}"))
    } else {
        Ok(())
    };
    Column {
        name,
        first: values[0],
        last: values[values.len() - 1],
        min: *values.iter().min().unwrap_or(&0),
        max: *values.iter().max().unwrap_or(&0),
        median,
        verdict,
    }
}

fn summary(samples: &[Sample]) -> (String, bool) {
    let pick = |f: fn(&Sample) -> u64| samples.iter().map(f).collect::<Vec<_>>();
    let columns = [
        column("host_rss_kib", &pick(|s| s.host_rss_kib), true),
        column("host_fds", &pick(|s| s.host_fds), false),
        column("plugin_rss_kib", &pick(|s| s.plugin_rss_kib), true),
        column("plugin_fds", &pick(|s| s.plugin_fds), false),
    ];
    let last = samples[samples.len() - 1];
    let mut out = format!(
        "{} calls in {:.1} s ({:.0} calls/s), {} samples\n\n\
         | column | first | last | min | max | median after warm-up | verdict |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
        last.calls,
        last.seconds,
        last.calls as f64 / last.seconds.max(f64::EPSILON),
        samples.len()
    );
    for c in &columns {
        let verdict = match &c.verdict {
            Ok(()) => "flat".to_string(),
            Err(why) => format!("NOT flat: {why}"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {verdict} |",
            c.name, c.first, c.last, c.min, c.max, c.median
        );
    }
    let flat = columns.iter().all(|c| c.verdict.is_ok());
    let _ = write!(out, "\nverdict: {}", if flat { "flat" } else { "NOT flat" });
    (out, flat)
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak-host: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak-host: no runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let samples = match runtime.block_on(soak(&args)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("soak-host: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.csv
        && let Err(e) = std::fs::write(path, csv(&samples))
    {
        eprintln!("soak-host: writing {}: {e}", path.display());
        return ExitCode::from(2);
    }
    let (text, flat) = summary(&samples);
    println!("{text}");
    if flat {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
