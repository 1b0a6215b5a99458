//! The markdown report: medians, ratios and targets of one run (`results.md`, also printed).

use std::fmt::Write as _;

use crate::results::{Direction, Encoding, LatencyRow, Pair, Results, RowStatus, Side};
use crate::units::{duration, kib, mib_per_s, rate, ratio, size_label};

fn pair_label(pair: Pair) -> String {
    if pair == Pair::GO {
        "Go → Go (go-plugin)".into()
    } else {
        pair.label()
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// The text of a cell: the value when measured, else the row's status.
fn cell(status: &RowStatus, value: Option<String>) -> String {
    match (status, value) {
        (RowStatus::Ok, Some(v)) => v,
        (RowStatus::Failed(_), _) => "**failed**".into(),
        (status, _) => status.to_string(),
    }
}

/// `p50 / p99` of a measured row, else its status.
fn p50_p99(row: &LatencyRow) -> String {
    cell(
        &row.status,
        row.p50_ns
            .zip(row.p99_ns)
            .map(|(a, b)| format!("{} / {}", duration(a), duration(b))),
    )
}

fn ratio_cell(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => ratio(a / b),
        _ => "–".into(),
    }
}

/// Renders `results` as markdown.
pub fn markdown(results: &Results) -> String {
    let mut md = String::new();
    header(&mut md, results);
    targets(&mut md, results);
    latency(&mut md, results);
    callback(&mut md, results);
    throughput(&mut md, results);
    stream(&mut md, results);
    startup(&mut md, results);
    memory(&mut md, results);
    go_host(&mut md, results);
    md
}

fn header(md: &mut String, r: &Results) {
    let m = &r.machine;
    let _ = writeln!(
        md,
        "# rust-plugin against go-plugin and the floor: one run\n"
    );
    let _ = writeln!(
        md,
        "{} CPUs, {}, Go {}, {} build; {} round{} per cell, measured in {:.0} s.\n",
        m.cpus,
        m.kernel,
        m.go.as_deref().unwrap_or("(none)"),
        if m.release_build { "release" } else { "debug" },
        r.rounds,
        if r.rounds == 1 { "" } else { "s" },
        r.duration_s
    );
    if r.tiny {
        let _ = writeln!(
            md,
            "**Tiny smoke-test run (`--tiny`): a handful of calls each, the numbers mean nothing.**\n"
        );
    }
    if let Some(why) = &r.go_skipped {
        let _ = writeln!(
            md,
            "**Every go-plugin row is SKIPPED: {why}. Install Go to compare with go-plugin.**\n"
        );
    }
}

fn targets(md: &mut String, r: &Results) {
    let _ = writeln!(md, "## Targets (reported, not asserted)\n");
    let _ = writeln!(md, "| comparison | measured | target | |");
    let _ = writeln!(md, "|---|---|---|---|");
    for t in &r.targets {
        let measured = t.ratio.map(ratio).unwrap_or_else(|| "not measured".into());
        let bound = if t.at_least { "≥" } else { "≤" };
        let (goal, verdict) = match (t.target, t.met) {
            (Some(goal), Some(true)) => (format!("{bound} {}", ratio(goal)), "met"),
            (Some(goal), Some(false)) => (format!("{bound} {}", ratio(goal)), "**not met**"),
            (Some(goal), None) => (format!("{bound} {}", ratio(goal)), "not measured"),
            (None, _) => ("–".into(), "informational"),
        };
        let _ = writeln!(md, "| {} | {measured} | {goal} | {verdict} |", t.name);
    }
    md.push('\n');
}

fn sizes(r: &Results) -> Vec<usize> {
    let mut sizes: Vec<usize> = r.floor.unix_socket.iter().map(|f| f.size).collect();
    for row in &r.latency {
        if !sizes.contains(&row.size) {
            sizes.push(row.size);
        }
    }
    sizes
}

fn pairs<'a>(rows: impl Iterator<Item = &'a Pair>) -> Vec<Pair> {
    let mut out: Vec<Pair> = Vec::new();
    for p in rows {
        if !out.contains(p) {
            out.push(*p);
        }
    }
    out
}

/// What a ratio row of the latency table divides by.
#[derive(Clone, Copy)]
enum Against {
    Pair(Pair),
    Floor,
    TlsFloor,
}

fn latency(md: &mut String, r: &Results) {
    let sizes = sizes(r);
    let _ = writeln!(
        md,
        "## Per-call round trip: p50 / p99 (`Get` of a value of that size; median over rounds)\n"
    );
    if let Some(negotiated) = &r.floor.tls_negotiated {
        let _ = writeln!(
            md,
            "The TLS floor is the unix-socket floor with both ends in rustls, configured as \
             AutoMTLS configures a Rust host and a Rust plugin (ring, mutual certificates, \
             negotiated: `{negotiated}`): what AutoMTLS must cost at least, every byte \
             encrypted.\n"
        );
    }
    let _ = write!(md, "| host → plugin | AutoMTLS |");
    for &s in &sizes {
        let _ = write!(md, " {} |", size_label(s));
    }
    let _ = write!(md, "\n|---|---|");
    for _ in &sizes {
        md.push_str("---|");
    }
    md.push('\n');
    let floors = [
        ("floor: unix socket, 2 processes", &r.floor.unix_socket),
        (
            "floor: TLS 1.3 over a unix socket, 2 processes",
            &r.floor.tls_unix_socket,
        ),
    ];
    for (label, floor) in floors {
        if floor.is_empty() {
            continue;
        }
        let _ = write!(md, "| {label} | – |");
        for &s in &sizes {
            let f = floor.iter().find(|f| f.size == s);
            let text = f.map_or("–".into(), |f| {
                format!("{} / {}", duration(f.p50_ns), duration(f.p99_ns))
            });
            let _ = write!(md, " {text} |");
        }
        md.push('\n');
    }
    let pairs = pairs(r.latency.iter().map(|row| &row.pair));
    for automtls in [false, true] {
        for &pair in &pairs {
            let _ = write!(md, "| {} | {} |", pair_label(pair), on_off(automtls));
            for &s in &sizes {
                let row = r
                    .latency
                    .iter()
                    .find(|row| row.pair == pair && row.automtls == automtls && row.size == s);
                let _ = write!(md, " {} |", row.map_or("–".into(), p50_p99));
            }
            md.push('\n');
        }
        let grpc = Pair::rust(Encoding::Protobuf);
        let mut comparisons = vec![
            (grpc, Against::Pair(Pair::GO)),
            (grpc, Against::Floor),
            (Pair::RUST_NATIVE, Against::Pair(Pair::GO)),
            (Pair::RUST_NATIVE, Against::Pair(grpc)),
            (Pair::RUST_NATIVE, Against::Floor),
        ];
        if automtls && !r.floor.tls_unix_socket.is_empty() {
            comparisons.push((Pair::RUST_NATIVE, Against::TlsFloor));
        }
        for (ours, theirs) in comparisons {
            let theirs_label = match theirs {
                Against::Floor => "floor".into(),
                Against::TlsFloor => "TLS floor".into(),
                Against::Pair(p) if p == grpc => "Rust → Rust gRPC".into(),
                Against::Pair(p) => p.label(),
            };
            let _ = write!(
                md,
                "| *p50 ratio {} / {theirs_label}* | {} |",
                ours.label(),
                on_off(automtls)
            );
            for &s in &sizes {
                let a = r.latency_p50(ours, automtls, s).map(|v| v as f64);
                let b = match theirs {
                    Against::Pair(p) => r.latency_p50(p, automtls, s),
                    Against::Floor => r.floor_p50(s),
                    Against::TlsFloor => r.tls_floor_p50(s),
                }
                .map(|v| v as f64);
                let _ = write!(md, " {} |", ratio_cell(a, b));
            }
            md.push('\n');
        }
    }
    md.push('\n');
}

/// The pair whose `Get` a callback row is compared with: the pair itself, or for an
/// `Arc<dyn Echo>` row the `proto.KV` Rust → Rust pair on its transport (no serde `Get` is
/// measured on the native transport).
fn get_pair(pair: Pair) -> Pair {
    match pair.callback_arg {
        None => pair,
        Some(_) if pair.native() => Pair::RUST_NATIVE,
        Some(_) => Pair::rust(Encoding::Protobuf),
    }
}

fn callback(md: &mut String, r: &Results) {
    let Some(first) = r.callback.first() else {
        return;
    };
    let size = first.size;
    let _ = writeln!(
        md,
        "## Callback round trip: p50 / p99 (host → plugin → host → plugin → host, {}; median over rounds)\n",
        size_label(size)
    );
    let _ = writeln!(
        md,
        "The host calls `bench.Caller` `Call`; inside it the plugin calls back the host's \
         `bench.Callback`, which the host serves through the broker and the plugin dialled \
         once, before the calls: two round trips per call. The `Get` column is the pair's plain \
         round trip at the same size (above).\n"
    );
    let arg_rows = r.callback.iter().any(|row| row.pair.callback_arg.is_some());
    if arg_rows {
        let _ = writeln!(
            md,
            "The `Arc<dyn Echo>` rows make the same two round trips as a `#[plugin_interface]` \
             callback does: the host calls the serde `Relay` with an `Arc<dyn Echo>` argument, \
             which the host's stub serves on the broker and the plugin's dispatch dials (native: \
             a stream of the callbacks' session; gRPC: a brokered connection). *Kept*: passed \
             once, to `setup`, and kept by the plugin for every `call` (dialled once, as above); \
             *passed per call*: passed with every `relay`, so each call also serves, dials and \
             closes the callback. Their `Get` column is `proto.KV`'s on the same transport.\n"
        );
    }
    let _ = writeln!(
        md,
        "| host → plugin | AutoMTLS | callback p50 / p99 | `Get` p50 | p50 callback / `Get` | \
         p50 / floor | p50 / Go → Go |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    let floor = r.floor_p50(size).map(|ns| 2 * ns);
    if let Some(f) = r.floor.unix_socket.iter().find(|f| f.size == size) {
        let _ = writeln!(
            md,
            "| floor: 2 unix-socket round trips | – | {} / – | {} | {} | – | – |",
            duration(2 * f.p50_ns),
            duration(f.p50_ns),
            ratio(2.0)
        );
    }
    let pairs = pairs(r.callback.iter().map(|row| &row.pair));
    for automtls in [false, true] {
        let go = r.callback_p50(Pair::GO, automtls, size).map(|v| v as f64);
        for &pair in &pairs {
            let row = r
                .callback
                .iter()
                .find(|row| row.pair == pair && row.automtls == automtls && row.size == size);
            let text = row.map_or("–".into(), p50_p99);
            let callback = r.callback_p50(pair, automtls, size).map(|v| v as f64);
            let get = r.latency_p50(get_pair(pair), automtls, size);
            let _ = writeln!(
                md,
                "| {} | {} | {text} | {} | {} | {} | {} |",
                pair_label(pair),
                on_off(automtls),
                get.map_or("–".into(), duration),
                ratio_cell(callback, get.map(|v| v as f64)),
                ratio_cell(callback, floor.map(|v| v as f64)),
                if pair == Pair::GO {
                    "–".into()
                } else {
                    ratio_cell(callback, go)
                }
            );
        }
        for ours in [Pair::rust(Encoding::Protobuf), Pair::RUST_NATIVE] {
            let _ = writeln!(
                md,
                "| *p50 ratio {} / Go → Go* | {} | {} | {} | | | |",
                ours.label(),
                on_off(automtls),
                ratio_cell(r.callback_p50(ours, automtls, size).map(|v| v as f64), go),
                ratio_cell(
                    r.latency_p50(ours, automtls, size).map(|v| v as f64),
                    r.latency_p50(Pair::GO, automtls, size).map(|v| v as f64)
                )
            );
        }
        for arg in pairs.iter().filter(|p| p.callback_arg.is_some()) {
            let brokered = get_pair(*arg);
            let _ = writeln!(
                md,
                "| *p50 ratio {} / {} (`bench.Callback` brokered)* | {} | {} | | | | |",
                arg.label(),
                brokered.label(),
                on_off(automtls),
                ratio_cell(
                    r.callback_p50(*arg, automtls, size).map(|v| v as f64),
                    r.callback_p50(brokered, automtls, size).map(|v| v as f64)
                ),
            );
        }
    }
    md.push('\n');
}

fn throughput(md: &mut String, r: &Results) {
    let Some(first) = r.throughput.first() else {
        return;
    };
    let mut conc: Vec<usize> = Vec::new();
    for row in &r.throughput {
        if !conc.contains(&row.concurrency) {
            conc.push(row.concurrency);
        }
    }
    let _ = writeln!(
        md,
        "## Throughput: calls per second, concurrent callers on one dispensed client ({} `Get`; median over rounds)\n",
        size_label(first.size)
    );
    let _ = write!(md, "| host → plugin | AutoMTLS |");
    for c in &conc {
        let _ = write!(md, " {c} caller{} |", if *c == 1 { "" } else { "s" });
    }
    let _ = write!(md, "\n|---|---|");
    for _ in &conc {
        md.push_str("---|");
    }
    md.push('\n');
    let pairs = pairs(r.throughput.iter().map(|row| &row.pair));
    for automtls in [false, true] {
        for &pair in &pairs {
            let _ = write!(md, "| {} | {} |", pair_label(pair), on_off(automtls));
            for &c in &conc {
                let row = r.throughput.iter().find(|row| {
                    row.pair == pair && row.automtls == automtls && row.concurrency == c
                });
                let text = row.map_or("–".into(), |row| {
                    cell(&row.status, row.calls_per_sec.map(rate))
                });
                let _ = write!(md, " {text} |");
            }
            md.push('\n');
        }
        for ours in [Pair::rust(Encoding::Protobuf), Pair::RUST_NATIVE] {
            let _ = write!(
                md,
                "| *ratio {} / Go → Go* | {} |",
                ours.label(),
                on_off(automtls)
            );
            for &c in &conc {
                let a = r.calls_per_sec(ours, automtls, c);
                let _ = write!(
                    md,
                    " {} |",
                    ratio_cell(a, r.calls_per_sec(Pair::GO, automtls, c))
                );
            }
            md.push('\n');
        }
    }
    md.push('\n');
}

fn stream(md: &mut String, r: &Results) {
    let Some(first) = r.stream.first() else {
        return;
    };
    let _ = writeln!(
        md,
        "## Stream throughput: MiB/s ({} items of {} per stream, {} in all; median over rounds)\n",
        first.items,
        size_label(first.size),
        size_label(first.items * first.size)
    );
    let _ = writeln!(
        md,
        "`bench.Transfer`: `Download` streams the items plugin → host (server streaming), \
         `Upload` host → plugin (client streaming); the receiving side compares every item with \
         the payload. The floor copies the same items through a unix socket between two \
         processes, compared the same way. Higher is better.\n"
    );
    let _ = write!(md, "| host → plugin | AutoMTLS |");
    for direction in Direction::ALL {
        let _ = write!(md, " {} |", direction.label());
    }
    let _ = writeln!(md, "\n|---|---|---|---|");
    let _ = write!(md, "| floor: unix-socket copy, 2 processes | – |");
    for direction in Direction::ALL {
        let text = r
            .copy_floor_mib_per_s(direction)
            .map_or("–".into(), mib_per_s);
        let _ = write!(md, " {text} |");
    }
    md.push('\n');
    let pairs = pairs(r.stream.iter().map(|row| &row.pair));
    for automtls in [false, true] {
        for &pair in &pairs {
            let _ = write!(md, "| {} | {} |", pair_label(pair), on_off(automtls));
            for direction in Direction::ALL {
                let row = r.stream.iter().find(|row| {
                    row.pair == pair && row.automtls == automtls && row.direction == direction
                });
                let text = row.map_or("–".into(), |row| {
                    cell(&row.status, row.mib_per_s.map(mib_per_s))
                });
                let _ = write!(md, " {text} |");
            }
            md.push('\n');
        }
        for ours in [Pair::rust(Encoding::Protobuf), Pair::RUST_NATIVE] {
            for (label, go) in [("Go → Go", true), ("floor", false)] {
                let _ = write!(
                    md,
                    "| *ratio {} / {label}* | {} |",
                    ours.label(),
                    on_off(automtls)
                );
                for direction in Direction::ALL {
                    let theirs = if go {
                        r.stream_mib_per_s(Pair::GO, automtls, direction)
                    } else {
                        r.copy_floor_mib_per_s(direction)
                    };
                    let ours = r.stream_mib_per_s(ours, automtls, direction);
                    let _ = write!(md, " {} |", ratio_cell(ours, theirs));
                }
                md.push('\n');
            }
        }
    }
    md.push('\n');
}

fn startup(md: &mut String, r: &Results) {
    let runs = r.startup.iter().map(|s| s.all_ns.len()).max().unwrap_or(0);
    let _ = writeln!(
        md,
        "## Start-up: spawn to first successful call (median of {runs})\n"
    );
    let _ = writeln!(
        md,
        "| host → plugin | AutoMTLS | median | fastest | Rust host: start / dispense / first call (medians) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    for s in &r.floor.spawn {
        let _ = writeln!(
            md,
            "| floor: spawn + wait of `{}` | – | {} | {} | |",
            s.command,
            duration(s.p50_ns),
            duration(s.min_ns)
        );
    }
    let pairs = pairs(r.startup.iter().map(|row| &row.pair));
    for automtls in [false, true] {
        for &pair in &pairs {
            let row = r
                .startup
                .iter()
                .find(|row| row.pair == pair && row.automtls == automtls);
            let (median, fastest) = row.map_or(("–".into(), "–".into()), |row| {
                (
                    cell(&row.status, row.p50_ns.map(duration)),
                    cell(&row.status, row.min_ns.map(duration)),
                )
            });
            let phases = row.and_then(|row| row.phases).map_or(String::new(), |p| {
                format!(
                    "{} / {} / {}",
                    duration(p.start_ns),
                    duration(p.dispense_ns),
                    duration(p.first_call_ns)
                )
            });
            let _ = writeln!(
                md,
                "| {} | {} | {median} | {fastest} | {phases} |",
                pair_label(pair),
                on_off(automtls)
            );
        }
        for ours in [Pair::rust(Encoding::Protobuf), Pair::RUST_NATIVE] {
            let _ = writeln!(
                md,
                "| *ratio {} / Go → Go* | {} | {} | | |",
                ours.label(),
                on_off(automtls),
                ratio_cell(
                    r.startup_p50(ours, automtls).map(|v| v as f64),
                    r.startup_p50(Pair::GO, automtls).map(|v| v as f64)
                )
            );
        }
    }
    md.push('\n');
}

fn memory(md: &mut String, r: &Results) {
    let Some(first) = r.memory.first() else {
        return;
    };
    let _ = writeln!(
        md,
        "## Plugin resident memory after {} `Get` calls of {} (Rust host, AutoMTLS {})\n",
        first.calls,
        size_label(first.size),
        on_off(first.automtls)
    );
    let _ = writeln!(md, "| plugin | VmRSS | VmHWM (peak) |");
    let _ = writeln!(md, "|---|---|---|");
    for row in &r.memory {
        let name = match (row.pair.plugin, row.pair.native()) {
            (Side::Rust, false) => "Rust (`bench-kv-plugin`)",
            (Side::Rust, true) => "Rust (`bench-kv-plugin`), native transport",
            (Side::Go, _) => "Go (`go-kv-plugin`, go-plugin)",
        };
        let _ = writeln!(
            md,
            "| {name} | {} | {} |",
            cell(&row.status, row.resident.map(|m| kib(m.vm_rss_kb))),
            cell(&row.status, row.resident.map(|m| kib(m.vm_hwm_kb)))
        );
    }
    let rss = |side| r.resident(side).map(|m| m.vm_rss_kb as f64);
    let hwm = |side| r.resident(side).map(|m| m.vm_hwm_kb as f64);
    let _ = writeln!(
        md,
        "| *ratio Rust / Go* | {} | {} |",
        ratio_cell(rss(Side::Rust), rss(Side::Go)),
        ratio_cell(hwm(Side::Rust), hwm(Side::Go))
    );
    md.push('\n');
}

fn go_host(md: &mut String, r: &Results) {
    let Some(first) = r.go_host.first() else {
        return;
    };
    let starts = r
        .go_host
        .iter()
        .map(|row| row.startup_all_ns.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        md,
        "## Under a go-plugin host: our plugin against go-plugin's, alternately (one Go host, {} `Get`s; medians)\n",
        size_label(first.size)
    );
    let _ = writeln!(
        md,
        "One go-plugin host process (`go-bench-pair-host`) launches `bench-kv-plugin` and \
         `go-kv-plugin` in turn, in every round and for each AutoMTLS setting (the order \
         swapped each round): start-up is spawn to first successful `Get` through go-plugin's \
         client (median of {starts}); the round trips are one fresh plugin's `Get`s one at a \
         time (median over rounds of each round's p50 / p99); the memory is that plugin's \
         `VmRSS` / `VmHWM` from `/proc/<pid>/status` after {} `Get`s (median over rounds).\n",
        first.memory_calls
    );
    let _ = writeln!(
        md,
        "| plugin | AutoMTLS | start-up median / fastest | `Get` p50 / p99 | VmRSS / VmHWM |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    for automtls in [false, true] {
        for side in [Side::Rust, Side::Go] {
            let name = match side {
                Side::Rust => "Rust (`bench-kv-plugin`)",
                Side::Go => "Go (`go-kv-plugin`, go-plugin)",
            };
            let text = |value: &dyn Fn(&crate::results::GoHostRow) -> Option<String>| {
                r.go_host_row(side, automtls)
                    .map_or("–".into(), |row| cell(&row.status, value(row)))
            };
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {} |",
                on_off(automtls),
                text(&|row| row
                    .startup_p50_ns
                    .zip(row.startup_min_ns)
                    .map(|(a, b)| format!("{} / {}", duration(a), duration(b)))),
                text(&|row| row.p50_ns.zip(row.p99_ns).map(|(a, b)| format!(
                    "{} / {}",
                    duration(a),
                    duration(b)
                ))),
                text(
                    &|row| row.vm_rss_kb.zip(row.vm_hwm_kb).map(|(a, b)| format!(
                        "{} / {}",
                        kib(a),
                        kib(b)
                    ))
                ),
            );
        }
        let of = |side, read: fn(&crate::results::GoHostRow) -> Option<u64>| {
            r.go_host_row(side, automtls)
                .and_then(read)
                .map(|v| v as f64)
        };
        let ratio_of = |read: fn(&crate::results::GoHostRow) -> Option<u64>| {
            ratio_cell(of(Side::Rust, read), of(Side::Go, read))
        };
        let _ = writeln!(
            md,
            "| *ratio Rust / Go (p50s, VmRSS)* | {} | {} | {} | {} |",
            on_off(automtls),
            ratio_of(|row| row.startup_p50_ns),
            ratio_of(|row| row.p50_ns),
            ratio_of(|row| row.vm_rss_kb),
        );
    }
    md.push('\n');
}
