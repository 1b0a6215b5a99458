//! The chart of a run (`chart.png`), drawn with plotters: p50 round trip per payload size (over
//! the unix-socket floor and the TLS floor), p50 callback round trip, calls per second with the
//! most concurrent callers, stream throughput each way, start-up, every implementation side by
//! side, and our plugin over go-plugin's under one go-plugin host (ratios); AutoMTLS off (light
//! bar) and on (dark bar), the floors in grey. Text is set in DejaVu Sans from the `dejavu` crate, so the chart looks the
//! same on every machine, with or without system fonts.

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::results::{Direction, Encoding, GoHostRow, LatencyRow, Pair, Results, RowStatus, Side};
use crate::units::{duration, mib_per_s, rate, ratio, size_label};

const FONT: &str = "sans-serif";

const TEXT: RGBColor = RGBColor(20, 20, 20);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const RULE: RGBColor = RGBColor(215, 215, 215);
const GRID: RGBColor = RGBColor(238, 238, 238);
const FLOOR: RGBColor = RGBColor(150, 150, 150);
const TLS_FLOOR: RGBColor = RGBColor(95, 95, 95);

/// The (AutoMTLS off, on) colours of `pair`.
fn colours(pair: Pair) -> (RGBColor, RGBColor) {
    if pair.native() {
        return (RGBColor(240, 150, 170), RGBColor(170, 20, 70));
    }
    match (pair.host, pair.plugin, pair.interface) {
        (Side::Rust, Side::Rust, Encoding::Protobuf) => {
            (RGBColor(244, 180, 140), RGBColor(192, 70, 27))
        }
        (Side::Rust, Side::Rust, Encoding::Serde) => {
            (RGBColor(246, 214, 140), RGBColor(176, 126, 16))
        }
        (Side::Go, Side::Go, _) => (RGBColor(150, 220, 240), RGBColor(0, 118, 148)),
        (Side::Rust, Side::Go, _) => (RGBColor(205, 185, 232), RGBColor(106, 61, 154)),
        (Side::Go, Side::Rust, _) => (RGBColor(185, 225, 170), RGBColor(46, 125, 50)),
    }
}

/// Pixel sizes of the layout.
const WIDTH: u32 = 1000;
const MARGIN: u32 = 16;
const LABEL_W: u32 = 240;
const BAR_H: u32 = 18;
const ROW_GAP: u32 = 10;
const TITLE_SIZE: u32 = 19;
const TEXT_SIZE: u32 = 15;
const VALUE_SIZE: u32 = 14;
const AXIS_H: u32 = 26;
const HEADER_LINE: u32 = 22;

/// One bar, or a note where there is no number.
struct Bar {
    value: Result<u64, String>,
    colour: RGBColor,
}

/// One labelled row of one or two bars.
struct Row {
    label: String,
    bars: Vec<Bar>,
}

/// One panel: a title and rows on a shared linear scale starting at zero, whose values
/// `format` writes (durations in ns, or throughputs).
struct Panel {
    title: String,
    rows: Vec<Row>,
    format: fn(u64) -> String,
}

/// Throughput bars are in thousandths of a MiB/s.
const MILLI: f64 = 1000.0;

fn format_mib_per_s(milli: u64) -> String {
    mib_per_s(milli as f64 / MILLI)
}

impl Panel {
    /// The height of the bars and the gaps between rows.
    fn rows_height(&self) -> u32 {
        self.rows
            .iter()
            .map(|r| r.bars.len() as u32 * BAR_H + ROW_GAP)
            .sum()
    }

    fn height(&self) -> u32 {
        TITLE_SIZE + 14 + self.rows_height() + AXIS_H + 12
    }

    /// The longest bar.
    fn max(&self) -> u64 {
        self.rows
            .iter()
            .flat_map(|r| &r.bars)
            .filter_map(|b| b.value.as_ref().ok().copied())
            .max()
            .unwrap_or(1)
            .max(1)
    }
}

fn pair_label(pair: Pair) -> String {
    if pair == Pair::GO {
        format!("{} (go-plugin)", pair.label())
    } else {
        pair.short_label()
    }
}

/// The bar of a measurement: its p50, or a note saying why there is none.
fn bar(found: Option<(&RowStatus, Option<u64>)>, colour: RGBColor) -> Bar {
    let value = match found {
        Some((RowStatus::Ok, p50)) => p50.ok_or_else(|| "no value".to_string()),
        Some((RowStatus::Failed(_), _)) => Err("failed".into()),
        Some((status, _)) => Err(status.to_string()),
        None => Err("not measured".into()),
    };
    Bar { value, colour }
}

/// One row per host/plugin pair (in order of first appearance), each with an AutoMTLS-off and an
/// AutoMTLS-on bar; `find` gives a measurement's status and p50.
fn pair_rows<'a>(
    pairs: impl Iterator<Item = Pair>,
    find: impl Fn(Pair, bool) -> Option<(&'a RowStatus, Option<u64>)>,
) -> Vec<Row> {
    let mut seen: Vec<Pair> = Vec::new();
    for pair in pairs {
        if !seen.contains(&pair) {
            seen.push(pair);
        }
    }
    seen.into_iter()
        .map(|pair| {
            let (off, on) = colours(pair);
            Row {
                label: pair_label(pair),
                bars: vec![bar(find(pair, false), off), bar(find(pair, true), on)],
            }
        })
        .collect()
}

/// A floor's row: one grey bar.
fn floor_row(label: String, value: Option<u64>, colour: RGBColor) -> Row {
    Row {
        label,
        bars: vec![Bar {
            value: value.ok_or_else(|| "not measured".into()),
            colour,
        }],
    }
}

/// The p50s of `measured` at `size`, under the floors' `rows`.
fn round_trip_panel(
    title: String,
    mut rows: Vec<Row>,
    measured: &[LatencyRow],
    size: usize,
) -> Panel {
    rows.extend(pair_rows(
        measured.iter().map(|r| r.pair),
        |pair, automtls| {
            measured
                .iter()
                .find(|r| r.pair == pair && r.automtls == automtls && r.size == size)
                .map(|r| (&r.status, r.p50_ns))
        },
    ));
    Panel {
        title,
        rows,
        format: duration,
    }
}

fn latency_panel(results: &Results, size: usize) -> Panel {
    let title = format!("p50 round trip, Get of {}", size_label(size));
    let mut floors = vec![floor_row(
        "floor: unix socket".into(),
        results.floor_p50(size),
        FLOOR,
    )];
    if !results.floor.tls_unix_socket.is_empty() {
        floors.push(floor_row(
            "floor: TLS over unix socket".into(),
            results.tls_floor_p50(size),
            TLS_FLOOR,
        ));
    }
    round_trip_panel(title, floors, &results.latency, size)
}

/// The callback round trip: two round trips per call, so its floor is two of the socket's.
fn callback_panel(results: &Results, size: usize) -> Panel {
    let title = format!(
        "p50 callback round trip, host → plugin → host → plugin → host, {}",
        size_label(size)
    );
    let floor = floor_row(
        "floor: 2 × unix socket".into(),
        results.floor_p50(size).map(|ns| 2 * ns),
        FLOOR,
    );
    round_trip_panel(title, vec![floor], &results.callback, size)
}

/// Ratio bars are in thousandths.
fn format_ratio(milli: u64) -> String {
    ratio(milli as f64 / MILLI)
}

/// Under one go-plugin host: our plugin over go-plugin's, start-up, resident memory and p50
/// round trip, per AutoMTLS setting (the targets: 0.5, 0.5 and 0.9).
fn go_host_panel(results: &Results) -> Panel {
    type Read = fn(&GoHostRow) -> Option<u64>;
    let size = results.go_host.first().map_or(0, |r| r.size);
    use crate::targets::{GO_HOST_LATENCY, GO_HOST_MEMORY, GO_HOST_STARTUP};
    let measures: [(String, Read); 3] = [
        (
            format!("start-up (target ≤ {})", ratio(GO_HOST_STARTUP)),
            |r| r.startup_p50_ns,
        ),
        (
            format!("VmRSS (target ≤ {})", ratio(GO_HOST_MEMORY)),
            |r| r.vm_rss_kb,
        ),
        (
            format!(
                "p50, {} (target ≤ {})",
                size_label(size),
                ratio(GO_HOST_LATENCY)
            ),
            |r| r.p50_ns,
        ),
    ];
    let (off, on) = colours(Pair::protobuf(Side::Go, Side::Rust));
    let rows = measures
        .into_iter()
        .map(|(label, read)| Row {
            label,
            bars: [(false, off), (true, on)]
                .into_iter()
                .map(|(automtls, colour)| {
                    let rows = (
                        results.go_host_row(Side::Rust, automtls),
                        results.go_host_row(Side::Go, automtls),
                    );
                    let value = match rows {
                        (Some(a), Some(b)) if !a.status.is_ok() || !b.status.is_ok() => {
                            let failed = a.status.is_failed() || b.status.is_failed();
                            Err(if failed {
                                "failed".into()
                            } else {
                                a.status.to_string()
                            })
                        }
                        (Some(a), Some(b)) => match (read(a), read(b)) {
                            (Some(x), Some(y)) if y > 0 => {
                                Ok((x as f64 / y as f64 * MILLI).round() as u64)
                            }
                            _ => Err("no value".into()),
                        },
                        _ => Err("not measured".into()),
                    };
                    Bar { value, colour }
                })
                .collect(),
        })
        .collect();
    Panel {
        title: "under one go-plugin host: Rust plugin / Go plugin (ratio, shorter is better)"
            .into(),
        rows,
        format: format_ratio,
    }
}

/// Stream throughput `direction`: the copy floor, then every pair.
fn stream_panel(results: &Results, direction: Direction) -> Panel {
    let milli = |v: f64| (v * MILLI) as u64;
    let mut rows = vec![Row {
        label: "floor: unix-socket copy".into(),
        bars: vec![Bar {
            value: results
                .copy_floor_mib_per_s(direction)
                .map(milli)
                .ok_or_else(|| "not measured".into()),
            colour: FLOOR,
        }],
    }];
    rows.extend(pair_rows(
        results.stream.iter().map(|r| r.pair),
        |pair, automtls| {
            results
                .stream
                .iter()
                .find(|r| r.pair == pair && r.automtls == automtls && r.direction == direction)
                .map(|r| (&r.status, r.mib_per_s.map(milli)))
        },
    ));
    let size = results.stream.first().map_or(0, |r| r.size);
    Panel {
        title: format!(
            "stream throughput, {}, {} items (longer is better)",
            direction.label(),
            size_label(size)
        ),
        rows,
        format: format_mib_per_s,
    }
}

fn format_rate(per_sec: u64) -> String {
    rate(per_sec as f64)
}

/// Calls per second with `concurrency` callers, every pair (no floor: it is one caller's).
fn throughput_panel(results: &Results, concurrency: usize) -> Panel {
    let rows = pair_rows(
        results
            .throughput
            .iter()
            .filter(|r| r.concurrency == concurrency)
            .map(|r| r.pair),
        |pair, automtls| {
            results
                .throughput
                .iter()
                .find(|r| r.pair == pair && r.automtls == automtls && r.concurrency == concurrency)
                .map(|r| (&r.status, r.calls_per_sec.map(|v| v.round() as u64)))
        },
    );
    let size = results.throughput.first().map_or(0, |r| r.size);
    Panel {
        title: format!(
            "throughput, {concurrency} concurrent callers, Get of {} (longer is better)",
            size_label(size)
        ),
        rows,
        format: format_rate,
    }
}

fn startup_panel(results: &Results) -> Panel {
    let mut rows: Vec<Row> = results
        .floor
        .spawn
        .iter()
        .map(|s| Row {
            label: format!("floor: spawn {}", s.command),
            bars: vec![Bar {
                value: Ok(s.p50_ns),
                colour: FLOOR,
            }],
        })
        .collect();
    rows.extend(pair_rows(
        results.startup.iter().map(|r| r.pair),
        |pair, automtls| {
            results
                .startup
                .iter()
                .find(|r| r.pair == pair && r.automtls == automtls)
                .map(|r| (&r.status, r.p50_ns))
        },
    ));
    Panel {
        title: "start-up: spawn to first successful call (median)".into(),
        rows,
        format: duration,
    }
}

fn panels(results: &Results) -> Vec<Panel> {
    let mut sizes: Vec<usize> = results.floor.unix_socket.iter().map(|f| f.size).collect();
    for row in &results.latency {
        if !sizes.contains(&row.size) {
            sizes.push(row.size);
        }
    }
    let mut panels: Vec<Panel> = sizes
        .into_iter()
        .map(|size| latency_panel(results, size))
        .collect();
    if let Some(first) = results.callback.first() {
        panels.push(callback_panel(results, first.size));
    }
    if let Some(most) = results.throughput.iter().map(|r| r.concurrency).max() {
        panels.push(throughput_panel(results, most));
    }
    if !results.stream.is_empty() {
        panels.extend(Direction::ALL.map(|d| stream_panel(results, d)));
    }
    panels.push(startup_panel(results));
    if !results.go_host.is_empty() {
        panels.push(go_host_panel(results));
    }
    panels
}

/// The lines under the chart's title.
fn header_lines(results: &Results) -> Vec<String> {
    let m = &results.machine;
    let go = m.go.as_deref().and_then(|g| g.split(' ').next());
    let mut lines = vec![
        format!(
            "one run, {} CPUs, {} build, Go {}, {} round(s) per cell",
            m.cpus,
            if m.release_build { "release" } else { "debug" },
            go.unwrap_or("none"),
            results.rounds
        ),
        "light bar: AutoMTLS off; dark bar: AutoMTLS on; shorter is better (times), longer is better (MiB/s)".into(),
    ];
    if results.tiny {
        lines.push("TINY SMOKE-TEST RUN: THESE NUMBERS MEAN NOTHING".into());
    } else if results.go_skipped.is_some() {
        lines.push("GO ROWS SKIPPED: no Go toolchain".into());
    } else {
        lines.push("scripts/bench.sh regenerates this chart".into());
    }
    lines
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

fn text_style(size: u32, colour: RGBColor) -> TextStyle<'static> {
    (FONT, size)
        .into_font()
        .color(&colour)
        .pos(Pos::new(HPos::Left, VPos::Center))
}

fn draw_header(area: &Area, lines: &[String]) -> Result<(), Box<dyn Error>> {
    let title = (FONT, 26, FontStyle::Bold)
        .into_font()
        .color(&TEXT)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let x = MARGIN as i32;
    area.draw(&Text::new(
        "rust-plugin vs go-plugin vs the floor",
        (x, 24),
        title,
    ))?;
    for (i, line) in lines.iter().enumerate() {
        let y = 56 + (i as u32 * HEADER_LINE) as i32;
        area.draw(&Text::new(
            line.as_str(),
            (x, y),
            text_style(TEXT_SIZE, MUTED),
        ))?;
    }
    Ok(())
}

fn draw_panel(area: &Area, panel: &Panel) -> Result<(), Box<dyn Error>> {
    area.draw(&PathElement::new(
        [(MARGIN as i32, 2), ((WIDTH - MARGIN) as i32, 2)],
        RULE,
    ))?;
    let rows_h = f64::from(panel.rows_height());
    // Room right of the longest bar for its value.
    let x_max = panel.max() as f64 * 1.2;
    let mut chart = ChartBuilder::on(area)
        .margin_left(MARGIN)
        // Room for the last tick's label, centred on its tick.
        .margin_right(3 * MARGIN)
        .margin_top(8)
        .margin_bottom(4)
        .caption(
            &panel.title,
            (FONT, TITLE_SIZE, FontStyle::Bold).into_font().color(&TEXT),
        )
        .x_label_area_size(AXIS_H)
        .y_label_area_size(LABEL_W)
        // y counts pixels of the rows' layout down from the top.
        .build_cartesian_2d(0f64..x_max, rows_h..0f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(6)
        .x_label_formatter(&|&v| {
            if v > 0.0 {
                (panel.format)(v as u64)
            } else {
                "0".into()
            }
        })
        .x_label_style(text_style(VALUE_SIZE, MUTED).pos(Pos::new(HPos::Center, VPos::Top)))
        .axis_style(RULE)
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .draw()?;

    let pad = x_max * 0.01;
    let base = area.get_base_pixel();
    let mut top = f64::from(ROW_GAP) / 2.0;
    for row in &panel.rows {
        let height = f64::from(row.bars.len() as u32 * BAR_H);
        let (_, label_y) = chart.backend_coord(&(0.0, top + height / 2.0));
        area.draw(&Text::new(
            row.label.as_str(),
            ((MARGIN + 4) as i32, label_y - base.1),
            text_style(TEXT_SIZE, TEXT),
        ))?;
        for (i, bar) in row.bars.iter().enumerate() {
            let y0 = top + f64::from(i as u32 * BAR_H) + 1.0;
            let y1 = y0 + f64::from(BAR_H) - 2.0;
            let middle = (y0 + y1) / 2.0;
            match &bar.value {
                Ok(v) => {
                    let x = *v as f64;
                    chart
                        .draw_series([Rectangle::new([(0.0, y0), (x, y1)], bar.colour.filled())])?;
                    chart.draw_series([Text::new(
                        (panel.format)(*v),
                        (x + pad, middle),
                        text_style(VALUE_SIZE, MUTED),
                    )])?;
                }
                Err(note) => {
                    chart.draw_series([Text::new(
                        note.clone(),
                        (pad, middle),
                        text_style(VALUE_SIZE, MUTED),
                    )])?;
                }
            }
        }
        top += height + f64::from(ROW_GAP);
    }
    Ok(())
}

/// Draws the chart of `results` into the PNG file `path`.
pub fn render(results: &Results, path: &Path) -> Result<(), Box<dyn Error>> {
    for (style, font) in [
        (FontStyle::Normal, dejavu::sans::regular()),
        (FontStyle::Bold, dejavu::sans::bold()),
    ] {
        register_font(FONT, style, font).map_err(|_| "DejaVu Sans does not load as a font")?;
    }
    let lines = header_lines(results);
    let header_h = 56 + lines.len() as u32 * HEADER_LINE;
    let panels = panels(results);
    let height = header_h + panels.iter().map(Panel::height).sum::<u32>() + MARGIN;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (header, mut rest) = root.split_vertically(header_h);
    draw_header(&header, &lines)?;
    for panel in &panels {
        let (area, below) = rest.split_vertically(panel.height());
        draw_panel(&area, panel)?;
        rest = below;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed run, without its go-plugin-host pairing (the tests that want one add
    /// their own): every panel count below is of the run's other measurements.
    fn committed() -> Results {
        let json = include_str!("../../docs/bench/results.json");
        let mut results: Results = serde_json::from_str(json).expect("results.json parses");
        results.go_host.clear();
        results
    }

    #[test]
    fn draws_a_full_run_with_skipped_and_failed_rows() {
        let mut results = committed();
        results.latency[0].status = RowStatus::Failed("the plugin died".into());
        results.latency[0].p50_ns = None;
        results.startup[1].status = RowStatus::Skipped("no Go toolchain".into());
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("chart.png");
        render(&results, &path).expect("the chart renders");
        let image = image::open(&path).expect("chart.png is a valid PNG");
        assert_eq!(image.width(), WIDTH);
        let panels = panels(&results);
        assert_eq!(
            panels.len(),
            8,
            "three sizes, callbacks, throughput, a stream each way and start-up"
        );
        // The first pair's row comes after the floors (plain, and TLS when measured).
        let first = 1 + usize::from(!results.floor.tls_unix_socket.is_empty());
        assert_eq!(
            panels[0].rows[first].bars[0].value,
            Err("failed".to_string())
        );
    }

    #[test]
    fn callbacks_get_a_panel_over_two_socket_round_trips() {
        let mut results = committed();
        results.stream.clear();
        results.floor.copy.clear();
        results.callback = results
            .latency
            .iter()
            .filter(|r| r.size == 64 && r.pair.interface == Encoding::Protobuf)
            .cloned()
            .collect();
        let panels = panels(&results);
        assert_eq!(
            panels.len(),
            6,
            "three sizes, callbacks, throughput and start-up"
        );
        let callback = &panels[3];
        assert!(callback.title.contains("callback"), "{}", callback.title);
        let floor = results.floor_p50(64).expect("a floor at 64 B");
        assert_eq!(callback.rows[0].bars[0].value, Ok(2 * floor));
        assert_eq!(
            callback.rows.len(),
            1 + 5,
            "the floor and five pairs (gRPC and native Rust → Rust)"
        );
    }

    #[test]
    fn arc_dyn_callbacks_get_short_labelled_rows_in_the_callback_panel() {
        use crate::results::CallbackArg;
        let mut results = committed();
        // Whether the committed run has these rows or not, the test adds them to a run without.
        results
            .callback
            .retain(|row| row.pair.callback_arg.is_none());
        let before = panels(&results);
        let template = results.callback[0].clone();
        let args = [false, true]
            .into_iter()
            .flat_map(|native| CallbackArg::ALL.map(|arg| Pair::callback_arg(native, arg)));
        for (i, pair) in args.enumerate() {
            for automtls in [false, true] {
                results.callback.push(LatencyRow {
                    pair,
                    automtls,
                    p50_ns: Some(100_000 + i as u64),
                    ..template.clone()
                });
            }
        }
        let panels = panels(&results);
        assert_eq!(panels.len(), before.len(), "no panel more");
        let (index, callback) = panels
            .iter()
            .enumerate()
            .find(|(_, p)| p.title.contains("callback"))
            .expect("a callback panel");
        assert_eq!(callback.rows.len(), before[index].rows.len() + 4);
        let labels: Vec<&str> = callback.rows[callback.rows.len() - 4..]
            .iter()
            .map(|r| r.label.as_str())
            .collect();
        assert_eq!(
            labels,
            [
                "Arc<dyn> gRPC, kept",
                "Arc<dyn> gRPC, per call",
                "Arc<dyn> native, kept",
                "Arc<dyn> native, per call"
            ]
        );
        let last = callback.rows.last().expect("a row");
        assert_eq!(last.bars[0].value, Ok(100_003));
        assert_eq!(last.bars[1].value, Ok(100_003));
        let dir = tempfile::tempdir().expect("a temporary directory");
        render(&results, &dir.path().join("chart.png")).expect("the chart renders");
    }

    #[test]
    fn the_tls_floor_and_the_go_host_pairing_get_their_rows_and_panel() {
        use crate::results::{GoHostRow, SocketFloor};
        let mut results = committed();
        let before = panels(&results).len();
        results.floor.tls_unix_socket = results
            .floor
            .unix_socket
            .iter()
            .map(|f| SocketFloor {
                p50_ns: 3 * f.p50_ns,
                ..f.clone()
            })
            .collect();
        let row = |plugin, automtls, startup, rss, p50| GoHostRow {
            pair: Pair::protobuf(Side::Go, plugin),
            automtls,
            status: RowStatus::Ok,
            size: 64,
            startup_p50_ns: Some(startup),
            startup_min_ns: Some(startup),
            startup_all_ns: vec![startup],
            p50_ns: Some(p50),
            p99_ns: Some(p50),
            rounds: Vec::new(),
            memory_calls: 10_000,
            vm_rss_kb: Some(rss),
            vm_hwm_kb: Some(rss),
            memory_rounds: Vec::new(),
        };
        results.go_host = vec![
            row(Side::Rust, false, 3_000_000, 8_000, 90_000),
            row(Side::Go, false, 6_000_000, 16_000, 100_000),
            row(Side::Rust, true, 12_000_000, 9_000, 95_000),
            GoHostRow {
                status: RowStatus::Failed("it broke".into()),
                ..row(Side::Go, true, 1, 1, 1)
            },
        ];
        let panels = panels(&results);
        assert_eq!(
            panels.len(),
            before + 1,
            "one panel more: the go-plugin host"
        );
        let latency = &panels[0];
        assert_eq!(latency.rows[1].label, "floor: TLS over unix socket");
        let floor = results.floor_p50(64).unwrap();
        assert_eq!(latency.rows[1].bars[0].value, Ok(3 * floor));
        let go_host = panels.last().unwrap();
        assert!(
            go_host.title.contains("go-plugin host"),
            "{}",
            go_host.title
        );
        let values: Vec<&Result<u64, String>> =
            go_host.rows.iter().map(|r| &r.bars[0].value).collect();
        assert_eq!(values, [&Ok(500), &Ok(500), &Ok(900)]);
        assert_eq!((go_host.format)(500), "0.50×");
        assert_eq!(go_host.rows[0].bars[1].value, Err("failed".into()));
        let dir = tempfile::tempdir().expect("a temporary directory");
        render(&results, &dir.path().join("chart.png")).expect("the chart renders");
    }

    #[test]
    fn streams_get_a_panel_each_way_over_the_copy_floor() {
        use crate::results::{CopyFloor, StreamRow};
        let mut results = committed();
        results.callback.clear();
        results.stream.clear();
        results.floor.copy.clear();
        for (i, direction) in Direction::ALL.into_iter().enumerate() {
            results.floor.copy.push(CopyFloor {
                direction,
                size: 65536,
                items: 1024,
                mib_per_s: 4000.0 + i as f64,
                rounds: Vec::new(),
            });
            for pair in [Pair::rust(Encoding::Protobuf), Pair::GO] {
                results.stream.push(StreamRow {
                    pair,
                    automtls: false,
                    direction,
                    size: 65536,
                    items: 1024,
                    status: RowStatus::Ok,
                    mib_per_s: Some(600.5),
                    rounds: Vec::new(),
                });
            }
        }
        let panels = panels(&results);
        assert_eq!(
            panels.len(),
            7,
            "three sizes, throughput, two streams and start-up"
        );
        let upload = &panels[5];
        assert!(
            upload.title.contains("client streaming"),
            "{}",
            upload.title
        );
        assert_eq!(upload.rows[0].bars[0].value, Ok(4_001_000));
        assert_eq!((upload.format)(4_001_000), "4,001 MiB/s");
        assert_eq!(upload.rows[1].bars[0].value, Ok(600_500));
        assert_eq!(upload.rows[1].bars[1].value, Err("not measured".into()));
        let dir = tempfile::tempdir().expect("a temporary directory");
        render(&results, &dir.path().join("chart.png")).expect("the chart renders");
    }
}
