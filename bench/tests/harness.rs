//! The harness runs on a tiny configuration and writes well-formed output: `results.json` with
//! every key and positive numbers, a markdown report with consistent tables, a PNG chart. The
//! numbers themselves are never asserted (no wall-clock assertions).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const HARNESS: &str = env!("CARGO_BIN_EXE_plugin-bench");
const PLUGIN: &str = env!("CARGO_BIN_EXE_bench-plugin");

fn tiny_run(out: &Path, path: Option<&str>) -> Output {
    let mut cmd = Command::new(HARNESS);
    cmd.args(["--tiny", "--out"])
        .arg(out)
        .args(["--plugin", PLUGIN]);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let output = cmd.output().expect("plugin-bench runs");
    assert!(
        output.status.success(),
        "plugin-bench --tiny failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn json(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

fn positive(row: &Value, key: &str) {
    let n = row[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {row}"));
    assert!(n > 0.0, "{key} is not positive in {row}");
}

fn needs_go(row: &Value) -> bool {
    row["host"] == "go" || row["plugin"] == "go"
}

/// Every row is `ok` with positive `keys`, or (only when Go is missing) skipped.
fn check_rows(results: &Value, section: &str, keys: &[&str], expected: usize) {
    let rows = results[section]
        .as_array()
        .unwrap_or_else(|| panic!("{section} is not an array"));
    assert_eq!(rows.len(), expected, "rows of {section}");
    let go_skipped = !results["go_skipped"].is_null();
    for row in rows {
        for key in ["host", "plugin", "interface", "automtls", "status"] {
            assert!(!row[key].is_null(), "{section} row without {key}: {row}");
        }
        let status = row["status"].as_str().expect("status is a string");
        if go_skipped && needs_go(row) {
            assert_eq!(status, "skipped: no Go toolchain", "{row}");
            continue;
        }
        assert_eq!(status, "ok", "{section}: {row}");
        for key in keys {
            positive(row, key);
        }
    }
}

fn check_json(results: &Value) {
    assert_eq!(results["schema"], 1);
    assert_eq!(results["tiny"], true);
    positive(results, "duration_s");
    positive(results, "rounds");
    positive(&results["machine"], "cpus");
    let sockets = results["floor"]["unix_socket"].as_array().expect("floor");
    let sizes: Vec<u64> = sockets.iter().filter_map(|f| f["size"].as_u64()).collect();
    assert_eq!(sizes, [64, 64 * 1024, 1024 * 1024]);
    for f in sockets {
        positive(f, "p50_ns");
        positive(f, "p99_ns");
    }
    // The TLS floor: the same sizes, in TLS as AutoMTLS negotiates it.
    let tls = results["floor"]["tls_unix_socket"]
        .as_array()
        .expect("TLS floor");
    let tls_sizes: Vec<u64> = tls.iter().filter_map(|f| f["size"].as_u64()).collect();
    assert_eq!(tls_sizes, sizes);
    for f in tls {
        positive(f, "p50_ns");
        positive(f, "p99_ns");
    }
    assert_eq!(
        results["floor"]["tls_negotiated"],
        "TLSv1_3 TLS13_AES_256_GCM_SHA384"
    );
    let copies = results["floor"]["copy"].as_array().expect("copy floor");
    let directions: Vec<&str> = copies
        .iter()
        .filter_map(|f| f["direction"].as_str())
        .collect();
    assert_eq!(directions, ["download", "upload"]);
    for f in copies {
        positive(f, "mib_per_s");
        assert_eq!(f["size"], 64 * 1024, "{f}");
        assert_eq!(
            f["rounds"].as_array().expect("rounds").len() as u64,
            results["rounds"].as_u64().unwrap()
        );
    }
    let spawn = &results["floor"]["spawn"][0];
    assert_eq!(spawn["command"], "/bin/true");
    positive(spawn, "p50_ns");
    positive(spawn, "min_ns");
    // 6 pairs (protobuf, native, serde, Go, both crossings) x 2 AutoMTLS x 3 sizes.
    check_rows(results, "latency", &["p50_ns", "p99_ns", "size"], 36);
    for section in [
        "latency",
        "callback",
        "throughput",
        "stream",
        "startup",
        "memory",
    ] {
        let native: Vec<&Value> = results[section]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["transport"] == "native")
            .collect();
        assert!(!native.is_empty(), "no native row in {section}");
        for row in native {
            assert_eq!(
                (&row["host"], &row["plugin"]),
                (&"rust".into(), &"rust".into())
            );
            assert_eq!(row["status"], "ok", "{section}: {row}");
        }
    }
    // 5 protobuf pairs (Rust gRPC and native, Go, both crossings) and 4 `Arc<dyn Echo>` ones
    // (Rust → Rust, gRPC and native, kept and per call) x 2 AutoMTLS, one size: the callback
    // round trip.
    check_rows(results, "callback", &["p50_ns", "p99_ns", "size"], 18);
    let mut args = Vec::new();
    for row in results["callback"].as_array().unwrap() {
        assert_eq!(row["size"], 64, "{row}");
        if row["callback_arg"].is_null() {
            assert_eq!(row["interface"], "protobuf", "{row}");
        } else {
            assert_eq!(row["interface"], "serde", "{row}");
            assert_eq!(
                (&row["host"], &row["plugin"]),
                (&"rust".into(), &"rust".into())
            );
            args.push((
                row["transport"].as_str().unwrap_or("grpc").to_string(),
                row["callback_arg"]
                    .as_str()
                    .expect("callback_arg")
                    .to_string(),
            ));
        }
        if row["status"] == "ok" {
            let rounds = row["rounds"].as_array().expect("rounds");
            assert_eq!(rounds.len() as u64, results["rounds"].as_u64().unwrap());
            for round in rounds {
                positive(round, "calls");
            }
        }
    }
    args.sort();
    args.dedup();
    assert_eq!(
        args,
        [
            ("grpc".to_string(), "kept".to_string()),
            ("grpc".into(), "per_call".into()),
            ("native".into(), "kept".into()),
            ("native".into(), "per_call".into()),
        ]
    );
    // 3 pairs (gRPC, native, Go) x 2 AutoMTLS x 3 concurrencies.
    check_rows(results, "throughput", &["calls_per_sec", "concurrency"], 18);
    // 5 pairs (Rust gRPC and native, Go, both crossings) x 2 AutoMTLS x 2 directions: the
    // stream throughput.
    check_rows(results, "stream", &["mib_per_s", "size", "items"], 20);
    for row in results["stream"].as_array().unwrap() {
        assert_eq!(row["size"], 64 * 1024, "{row}");
        assert_eq!(row["interface"], "protobuf", "{row}");
        assert!(
            row["direction"] == "download" || row["direction"] == "upload",
            "{row}"
        );
        if row["status"] == "ok" {
            for round in row["rounds"].as_array().expect("rounds") {
                assert_eq!(round["calls"], row["items"], "every item timed: {row}");
            }
        }
    }
    // 5 pairs (gRPC, native, Go, both crossings) x 2 AutoMTLS.
    check_rows(results, "startup", &["p50_ns", "min_ns"], 10);
    for row in results["startup"].as_array().unwrap() {
        if row["host"] == "rust" && row["status"] == "ok" {
            for key in ["total_ns", "start_ns", "dispense_ns", "first_call_ns"] {
                positive(&row["phases"], key);
            }
        }
    }
    check_rows(results, "memory", &["vm_rss_kb", "vm_hwm_kb", "calls"], 3);
    // Under one go-plugin host: 2 plugins x 2 AutoMTLS.
    check_rows(
        results,
        "go_host",
        &[
            "startup_p50_ns",
            "startup_min_ns",
            "p50_ns",
            "p99_ns",
            "vm_rss_kb",
            "vm_hwm_kb",
            "memory_calls",
        ],
        4,
    );
    for row in results["go_host"].as_array().unwrap() {
        assert_eq!(row["host"], "go", "{row}");
        assert_eq!(row["size"], 64, "{row}");
        if row["status"] == "ok" {
            let rounds = results["rounds"].as_u64().unwrap();
            assert_eq!(row["rounds"].as_array().unwrap().len() as u64, rounds);
            assert_eq!(
                row["memory_rounds"].as_array().unwrap().len() as u64,
                rounds
            );
            assert!(
                !row["startup_all_ns"].as_array().unwrap().is_empty(),
                "{row}"
            );
        }
    }
    let plugins: Vec<&Value> = results["go_host"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["plugin"])
        .collect();
    assert_eq!(plugins, ["rust", "go", "rust", "go"]);
    let targets = results["targets"].as_array().expect("targets");
    assert!(targets.len() >= 9, "{targets:?}");
    for t in targets {
        assert!(t["name"].is_string(), "{t}");
        if let Some(r) = t["ratio"].as_f64() {
            assert!(r > 0.0, "{t}");
        }
        if t["target"].is_number() && t["ratio"].is_number() {
            assert!(t["met"].is_boolean(), "{t}");
        }
    }
    let named = |part: &str| {
        targets
            .iter()
            .filter(|t| t["name"].as_str().is_some_and(|n| n.contains(part)))
            .count()
    };
    // Per AutoMTLS setting: 3 sizes over the floor; 3 sizes, one throughput, one callback and 2
    // stream directions over go-plugin.
    assert_eq!(named("Rust → Rust native / unix-socket floor"), 6);
    assert_eq!(named("Rust → Rust native / Go → Go"), 2 * (3 + 1 + 1 + 2));
    // AutoMTLS on only: 3 sizes.
    assert_eq!(named("Rust → Rust native / TLS floor"), 3);
    // Per `Arc<dyn Echo>` pair and AutoMTLS setting: over go-plugin's and over the floor.
    assert_eq!(named("`Arc<dyn Echo>` argument"), 4 * 2 * 2);
    assert_eq!(
        named("argument, passed per call / 2 unix-socket round trips"),
        2 * 2
    );
    // Start-up, memory and 64 B p50, per AutoMTLS setting, each with a target.
    let go_host: Vec<&Value> = targets
        .iter()
        .filter(|t| {
            t["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("under a go-plugin host, Rust plugin / Go plugin"))
        })
        .collect();
    assert_eq!(go_host.len(), 6, "{go_host:?}");
    for t in go_host {
        assert!(t["target"].is_number(), "{t}");
        if results["go_skipped"].is_null() {
            assert!(t["met"].is_boolean(), "{t}");
        }
    }
}

/// Every table has a header, a separator and rows with as many cells as its header.
fn check_markdown(md: &str) -> usize {
    for heading in [
        "## Targets",
        "## Per-call round trip",
        "## Callback round trip",
        "## Throughput",
        "## Stream throughput",
        "## Start-up",
        "## Plugin resident memory",
        "## Under a go-plugin host",
    ] {
        assert!(md.contains(heading), "no {heading:?} in:\n{md}");
    }
    assert!(md.contains("| host → plugin | AutoMTLS | 64 B | 64 KiB | 1 MiB |"));
    assert!(md.contains("| host → plugin | AutoMTLS | callback p50 / p99 | `Get` p50 |"));
    for label in [
        "Rust → Rust, `Arc<dyn Echo>` argument, kept",
        "Rust → Rust, `Arc<dyn Echo>` argument, passed per call",
        "Rust → Rust native, `Arc<dyn Echo>` argument, kept",
        "Rust → Rust native, `Arc<dyn Echo>` argument, passed per call",
    ] {
        for automtls in ["off", "on"] {
            assert!(
                md.contains(&format!("| {label} | {automtls} |")),
                "no row {label:?}"
            );
        }
    }
    assert!(md.contains(
        "| host → plugin | AutoMTLS | plugin → host (server streaming) | host → plugin (client streaming) |"
    ));
    assert!(md.contains("| floor: TLS 1.3 over a unix socket, 2 processes | – |"));
    assert!(md.contains("| *p50 ratio Rust → Rust native / TLS floor* | on |"));
    assert!(md.contains(
        "| plugin | AutoMTLS | start-up median / fastest | `Get` p50 / p99 | VmRSS / VmHWM |"
    ));
    for label in [
        "Rust → Rust",
        "Rust → Rust native",
        "Rust → Rust (serde)",
        "Go → Go (go-plugin)",
        "Rust → Go",
        "Go → Rust",
    ] {
        assert!(
            md.contains(&format!("| {label} | off |")),
            "no row {label:?}"
        );
    }
    let mut tables = 0;
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('|') {
            let cells = lines[i].matches('|').count();
            assert!(
                lines[i + 1].starts_with("|---"),
                "no separator after {:?}",
                lines[i]
            );
            assert_eq!(
                lines[i + 1].matches('|').count(),
                cells,
                "{:?}",
                lines[i + 1]
            );
            let mut j = i + 2;
            while j < lines.len() && lines[j].starts_with('|') {
                assert_eq!(lines[j].matches('|').count(), cells, "row {:?}", lines[j]);
                assert!(
                    !lines[j].contains("failed"),
                    "a failed measurement: {:?}",
                    lines[j]
                );
                j += 1;
            }
            assert!(j > i + 2, "an empty table at {:?}", lines[i]);
            tables += 1;
            i = j;
        } else {
            i += 1;
        }
    }
    tables
}

/// The PNG decodes (signature, chunk CRCs, image data); its dimensions.
fn check_png(png: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("chart.png is a valid PNG");
    (image.width(), image.height())
}

#[test]
fn a_tiny_run_writes_json_markdown_and_a_chart() {
    let out = tempfile::tempdir().unwrap();
    let output = tiny_run(out.path(), None);
    let results = json(out.path());
    check_json(&results);
    let md = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    assert_eq!(
        check_markdown(&md),
        8,
        "targets, latency, callback, throughput, stream, start-up, memory, go-plugin host"
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        md.trim(),
        "the report is printed too"
    );
    let (w, h) = check_png(&std::fs::read(out.path().join("chart.png")).unwrap());
    assert_eq!(w, 1000);
    assert!(h > 600, "{h}");
}

/// PATH without any directory holding a `go` executable.
fn path_without_go() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("go").exists())
        .collect();
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

#[test]
fn without_go_the_go_rows_are_skipped_and_said_loudly() {
    let out = tempfile::tempdir().unwrap();
    let output = tiny_run(out.path(), Some(&path_without_go()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("every go-plugin row is SKIPPED: no Go toolchain"),
        "{stderr}"
    );
    let results = json(out.path());
    assert_eq!(results["go_skipped"], "no Go toolchain");
    check_json(&results);
    let md = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    check_markdown(&md);
    assert!(md.contains("SKIPPED: no Go toolchain"), "{md}");
    assert!(
        md.contains("| Go → Go (go-plugin) | off | skipped: no Go toolchain |"),
        "{md}"
    );
    check_png(&std::fs::read(out.path().join("chart.png")).unwrap());
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = Command::new(HARNESS).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: plugin-bench"));
    let help = Command::new(HARNESS).arg("--help").output().unwrap();
    assert!(help.status.success());
}
