//! The targets, as ratios of numbers measured in the same run (reported, never asserted):
//!
//! - Rust-to-Rust gRPC p50 at most 0.7 of go-plugin's Go-to-Go, per size and AutoMTLS setting;
//! - Rust-to-Rust native p50 at most 1.5 of the unix-socket floor at 64 B, 2 at 64 KiB and 1 MiB;
//! - Rust-to-Rust native throughput, 64 concurrent callers, at least 3 times go-plugin's;
//! - start-up at most 0.5 of go-plugin's, per AutoMTLS setting;
//! - plugin resident memory at most 0.5 of a Go plugin's;
//! - under one go-plugin host timing both alternately, our plugin over go-plugin's: start-up
//!   and resident memory at most 0.5, 64 B p50 at most 0.9, per AutoMTLS setting;
//! - and, informational: our p50 over the unix-socket floor at the same size, native p50 with
//!   AutoMTLS on over the TLS floor's (the floor AutoMTLS cannot go below), our callback round
//!   trip's p50 over go-plugin's (gRPC and native; and the `Arc<dyn Echo>` callbacks', kept and
//!   passed per call, over go-plugin's and over two unix-socket round trips), native p50 over
//!   gRPC's and over
//!   go-plugin's, and our stream throughput (MiB/s, each way; higher is better, gRPC and
//!   native) over go-plugin's and over the unix-socket copy floor's.

use crate::plan::{LARGE, MEDIUM, SMALL};
use crate::results::{CallbackArg, Direction, Encoding, Pair, Results, Side, Target};
use crate::units::size_label;

/// p50 latency target: Rust→Rust over go-plugin's Go→Go.
pub const LATENCY: f64 = 0.7;
/// Start-up target: Rust→Rust over Go→Go.
pub const STARTUP: f64 = 0.5;
/// Resident memory target: Rust plugin over Go plugin.
pub const MEMORY: f64 = 0.5;
/// Native p50 target at `size` bytes, over the unix-socket floor at that size.
pub fn native_floor(size: usize) -> Option<f64> {
    match size {
        SMALL => Some(1.5),
        MEDIUM | LARGE => Some(2.0),
        _ => None,
    }
}
/// Under a go-plugin host, start-up target: our plugin over go-plugin's.
pub const GO_HOST_STARTUP: f64 = 0.5;
/// Under a go-plugin host, resident memory target: our plugin over go-plugin's.
pub const GO_HOST_MEMORY: f64 = 0.5;
/// Under a go-plugin host, p50 round trip target (64 B): our plugin over go-plugin's.
pub const GO_HOST_LATENCY: f64 = 0.9;
/// Native throughput target with [`NATIVE_CALLERS`] callers: at least this many times
/// go-plugin's Go→Go.
pub const NATIVE_THROUGHPUT: f64 = 3.0;
/// Concurrent callers of the native throughput target.
pub const NATIVE_CALLERS: usize = 64;

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> Option<f64> {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// A target met when `ratio` is at most `limit`.
fn target(name: String, ratio: Option<f64>, limit: Option<f64>) -> Target {
    Target {
        name,
        ratio,
        target: limit,
        at_least: false,
        met: match (ratio, limit) {
            (Some(r), Some(l)) => Some(r <= l),
            _ => None,
        },
    }
}

/// A target met when `ratio` is at least `bound` (higher is better).
fn at_least(name: String, ratio: Option<f64>, bound: f64) -> Target {
    Target {
        name,
        ratio,
        target: Some(bound),
        at_least: true,
        met: ratio.map(|r| r >= bound),
    }
}

/// The native transport's targets and ratios: p50 over the floor, throughput over go-plugin's,
/// and (informational) p50 over gRPC's and over go-plugin's.
fn native(results: &Results, sizes: &[usize]) -> Vec<Target> {
    let native = Pair::RUST_NATIVE;
    let grpc = Pair::rust(Encoding::Protobuf);
    let p50 = |pair, automtls, size| results.latency_p50(pair, automtls, size).map(|v| v as f64);
    let mut out = Vec::new();
    for automtls in [false, true] {
        for &size in sizes {
            out.push(target(
                format!(
                    "p50 round trip, Rust → Rust native / unix-socket floor, {}, {}",
                    size_label(size),
                    mtls(automtls)
                ),
                ratio(
                    p50(native, automtls, size),
                    results.floor_p50(size).map(|v| v as f64),
                ),
                native_floor(size),
            ));
        }
    }
    for automtls in [false, true] {
        out.push(at_least(
            format!(
                "throughput, {NATIVE_CALLERS} callers, Rust → Rust native / Go → Go (go-plugin), {}",
                mtls(automtls)
            ),
            ratio(
                results.calls_per_sec(native, automtls, NATIVE_CALLERS),
                results.calls_per_sec(Pair::GO, automtls, NATIVE_CALLERS),
            ),
            NATIVE_THROUGHPUT,
        ));
    }
    for &size in sizes {
        out.push(target(
            format!(
                "p50 round trip, Rust → Rust native / TLS floor (TLS over a unix socket), {}, {}",
                size_label(size),
                mtls(true)
            ),
            ratio(
                p50(native, true, size),
                results.tls_floor_p50(size).map(|v| v as f64),
            ),
            None,
        ));
    }
    for (theirs, label) in [
        (grpc, "Rust → Rust gRPC"),
        (Pair::GO, "Go → Go (go-plugin)"),
    ] {
        for automtls in [false, true] {
            for &size in sizes {
                out.push(target(
                    format!(
                        "p50 round trip, Rust → Rust native / {label}, {}, {}",
                        size_label(size),
                        mtls(automtls)
                    ),
                    ratio(p50(native, automtls, size), p50(theirs, automtls, size)),
                    None,
                ));
            }
        }
    }
    out
}

fn mtls(on: bool) -> &'static str {
    if on { "AutoMTLS on" } else { "AutoMTLS off" }
}

/// `what` (a p50 that `p50` reads) of `ours` (a Rust → Rust pair) over go-plugin's Go → Go, per
/// AutoMTLS setting and size.
fn against_go(
    results: &Results,
    ours: Pair,
    what: &str,
    p50: fn(&Results, Pair, bool, usize) -> Option<u64>,
    sizes: &[usize],
    limit: Option<f64>,
) -> Vec<Target> {
    let mut out = Vec::new();
    for automtls in [false, true] {
        for &size in sizes {
            out.push(target(
                format!(
                    "{what}, {} / Go → Go (go-plugin), {}, {}",
                    ours.label(),
                    size_label(size),
                    mtls(automtls)
                ),
                ratio(
                    p50(results, ours, automtls, size).map(|v| v as f64),
                    p50(results, Pair::GO, automtls, size).map(|v| v as f64),
                ),
                limit,
            ));
        }
    }
    out
}

/// Every target and informational ratio of `results`.
pub fn evaluate(results: &Results, sizes: &[usize]) -> Vec<Target> {
    let ours = Pair::rust(Encoding::Protobuf);
    let mut out = against_go(
        results,
        ours,
        "p50 round trip",
        Results::latency_p50,
        sizes,
        Some(LATENCY),
    );
    out.extend(native(results, sizes));
    for automtls in [false, true] {
        out.push(target(
            format!(
                "start-up, Rust → Rust / Go → Go (go-plugin), {}",
                mtls(automtls)
            ),
            ratio(
                results.startup_p50(ours, automtls).map(|v| v as f64),
                results.startup_p50(Pair::GO, automtls).map(|v| v as f64),
            ),
            Some(STARTUP),
        ));
    }
    out.push(target(
        "plugin resident memory (VmRSS), Rust plugin / Go plugin".into(),
        ratio(
            results.resident(Side::Rust).map(|r| r.vm_rss_kb as f64),
            results.resident(Side::Go).map(|r| r.vm_rss_kb as f64),
        ),
        Some(MEMORY),
    ));
    out.extend(go_host(results));
    let mut callback_sizes: Vec<usize> = results.callback.iter().map(|r| r.size).collect();
    callback_sizes.sort_unstable();
    callback_sizes.dedup();
    for pair in [ours, Pair::RUST_NATIVE] {
        out.extend(against_go(
            results,
            pair,
            "p50 callback round trip",
            Results::callback_p50,
            &callback_sizes,
            None,
        ));
    }
    out.extend(callback_args(results, &callback_sizes));
    if !results.stream.is_empty() {
        for automtls in [false, true] {
            for direction in Direction::ALL {
                let what = format!(
                    "stream throughput (MiB/s), {}, {}",
                    direction.label(),
                    mtls(automtls)
                );
                let theirs = results.stream_mib_per_s(Pair::GO, automtls, direction);
                let grpc = results.stream_mib_per_s(ours, automtls, direction);
                let native = results.stream_mib_per_s(Pair::RUST_NATIVE, automtls, direction);
                out.push(target(
                    format!("{what}, Rust → Rust / Go → Go (go-plugin)"),
                    ratio(grpc, theirs),
                    None,
                ));
                out.push(target(
                    format!("{what}, Rust → Rust native / Go → Go (go-plugin)"),
                    ratio(native, theirs),
                    None,
                ));
                out.push(target(
                    format!("{what}, Rust → Rust / unix-socket copy floor"),
                    ratio(grpc, results.copy_floor_mib_per_s(direction)),
                    None,
                ));
            }
        }
    }
    for automtls in [false, true] {
        for &size in sizes {
            out.push(target(
                format!(
                    "p50 round trip, Rust → Rust / unix-socket floor, {}, {}",
                    size_label(size),
                    mtls(automtls)
                ),
                ratio(
                    results.latency_p50(ours, automtls, size).map(|v| v as f64),
                    results.floor_p50(size).map(|v| v as f64),
                ),
                None,
            ));
        }
    }
    out
}

/// The `Arc<dyn Echo>` callbacks (informational), those measured: over go-plugin's brokered
/// callback and over two unix-socket round trips, per AutoMTLS setting and size.
fn callback_args(results: &Results, sizes: &[usize]) -> Vec<Target> {
    let mut out = Vec::new();
    for native in [false, true] {
        for arg in CallbackArg::ALL {
            let pair = Pair::callback_arg(native, arg);
            if !results.callback.iter().any(|r| r.pair == pair) {
                continue;
            }
            out.extend(against_go(
                results,
                pair,
                "p50 callback round trip",
                Results::callback_p50,
                sizes,
                None,
            ));
            for automtls in [false, true] {
                for &size in sizes {
                    out.push(target(
                        format!(
                            "p50 callback round trip, {} / 2 unix-socket round trips, {}, {}",
                            pair.label(),
                            size_label(size),
                            mtls(automtls)
                        ),
                        ratio(
                            results.callback_p50(pair, automtls, size).map(|v| v as f64),
                            results.floor_p50(size).map(|v| 2.0 * v as f64),
                        ),
                        None,
                    ));
                }
            }
        }
    }
    out
}

/// Under one go-plugin host timing both alternately: our plugin over go-plugin's, start-up,
/// resident memory and p50 round trip, per AutoMTLS setting.
fn go_host(results: &Results) -> Vec<Target> {
    type Read = fn(&crate::results::GoHostRow) -> Option<u64>;
    let size = results.go_host.first().map_or(SMALL, |r| r.size);
    let p50 = format!("p50 round trip, {}", size_label(size));
    let measures: [(&str, Read, f64); 3] = [
        ("start-up", |r| r.startup_p50_ns, GO_HOST_STARTUP),
        ("resident memory (VmRSS)", |r| r.vm_rss_kb, GO_HOST_MEMORY),
        (&p50, |r| r.p50_ns, GO_HOST_LATENCY),
    ];
    let mut out = Vec::new();
    for automtls in [false, true] {
        for (what, read, limit) in measures {
            let of = |side| {
                results
                    .go_host_row(side, automtls)
                    .and_then(read)
                    .map(|v| v as f64)
            };
            out.push(target(
                format!(
                    "under a go-plugin host, Rust plugin / Go plugin, {what}, {}",
                    mtls(automtls)
                ),
                ratio(of(Side::Rust), of(Side::Go)),
                Some(limit),
            ));
        }
    }
    out
}
