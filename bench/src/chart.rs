//! The chart of a run (`chart.png`): p50 round trip per payload size and start-up, every
//! implementation side by side, AutoMTLS off (light bar) and on (dark bar), the floor in grey.

use crate::font;
use crate::png::Indexed;
use crate::results::{Encoding, OK, Pair, Results, Side};
use crate::units::{duration_ascii, size_label};

const BG: u8 = 0;
const TEXT: u8 = 1;
const MUTED: u8 = 2;
const RULE: u8 = 3;
const FLOOR: u8 = 4;

const PALETTE: [[u8; 3]; 15] = [
    [255, 255, 255], // background
    [20, 20, 20],    // text
    [110, 110, 110], // muted text
    [215, 215, 215], // rules
    [150, 150, 150], // floor
    [244, 180, 140], // Rust → Rust, AutoMTLS off
    [192, 70, 27],   // Rust → Rust, on
    [246, 214, 140], // Rust → Rust (serde), off
    [176, 126, 16],  // Rust → Rust (serde), on
    [150, 220, 240], // Go → Go, off
    [0, 118, 148],   // Go → Go, on
    [205, 185, 232], // Rust → Go, off
    [106, 61, 154],  // Rust → Go, on
    [185, 225, 170], // Go → Rust, off
    [46, 125, 50],   // Go → Rust, on
];

/// The (AutoMTLS off, on) colours of `pair`.
fn colours(pair: Pair) -> (u8, u8) {
    let base = match (pair.host, pair.plugin, pair.interface) {
        (Side::Rust, Side::Rust, Encoding::Protobuf) => 5,
        (Side::Rust, Side::Rust, Encoding::Serde) => 7,
        (Side::Go, Side::Go, _) => 9,
        (Side::Rust, Side::Go, _) => 11,
        (Side::Go, Side::Rust, _) => 13,
    };
    (base, base + 1)
}

const WIDTH: usize = 1000;
const SCALE: usize = 2;
const MARGIN: usize = 16;
const LABEL_W: usize = 270;
const VALUE_W: usize = 110;
const BAR_H: usize = 18;
const LINE_H: usize = font::HEIGHT * SCALE + 8;

/// A palette canvas.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![BG; width * height],
        }
    }

    fn rect(&mut self, x: usize, y: usize, w: usize, h: usize, colour: u8) {
        for row in y..(y + h).min(self.height) {
            let start = row * self.width + x.min(self.width);
            let end = row * self.width + (x + w).min(self.width);
            self.pixels[start..end].fill(colour);
        }
    }

    fn text(&mut self, x: usize, y: usize, text: &str, colour: u8, scale: usize) {
        for (i, c) in text.chars().enumerate() {
            let glyph = font::glyph(c);
            let gx = x + i * font::ADVANCE * scale;
            for (r, bits) in glyph.iter().enumerate() {
                for col in 0..font::WIDTH {
                    if bits & (1 << (font::WIDTH - 1 - col)) != 0 {
                        self.rect(gx + col * scale, y + r * scale, scale, scale, colour);
                    }
                }
            }
        }
    }
}

/// One bar (or a note where there is no number).
struct Bar {
    value: Result<u64, String>,
    colour: u8,
}

/// One labelled row of one or two bars.
struct Row {
    label: String,
    bars: Vec<Bar>,
}

/// One panel: a title and rows on a shared linear scale starting at zero.
struct Panel {
    title: String,
    rows: Vec<Row>,
}

fn ascii_label(pair: Pair) -> String {
    let label = pair.label().replace('→', "->");
    if pair == Pair::GO {
        format!("{label} (go-plugin)")
    } else {
        label
    }
}

fn status_note(status: &str) -> String {
    if status.starts_with("failed") {
        "failed".into()
    } else {
        status.to_string()
    }
}

/// One row per host/plugin pair (in order of first appearance), each with an AutoMTLS-off and an
/// AutoMTLS-on bar; `find` gives a measurement's status and p50.
fn pair_rows<'a>(
    pairs: impl Iterator<Item = Pair>,
    find: impl Fn(Pair, bool) -> Option<(&'a str, Option<u64>)>,
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
            let bars = [(false, off), (true, on)]
                .into_iter()
                .map(|(automtls, colour)| Bar {
                    value: match find(pair, automtls) {
                        Some((status, p50)) if status == OK => p50.ok_or_else(|| "no value".into()),
                        Some((status, _)) => Err(status_note(status)),
                        None => Err("not measured".into()),
                    },
                    colour,
                })
                .collect();
            Row {
                label: ascii_label(pair),
                bars,
            }
        })
        .collect()
}

fn latency_panel(results: &Results, size: usize) -> Panel {
    let mut rows = vec![Row {
        label: "floor: unix socket".into(),
        bars: vec![Bar {
            value: results.floor_p50(size).ok_or_else(|| "not measured".into()),
            colour: FLOOR,
        }],
    }];
    rows.extend(pair_rows(
        results.latency.iter().map(|r| r.pair),
        |pair, automtls| {
            results
                .latency
                .iter()
                .find(|r| r.pair == pair && r.automtls == automtls && r.size == size)
                .map(|r| (r.status.as_str(), r.p50_ns))
        },
    ));
    Panel {
        title: format!("p50 round trip, Get of {}", size_label(size)),
        rows,
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
                .map(|r| (r.status.as_str(), r.p50_ns))
        },
    ));
    Panel {
        title: "start-up: spawn to first successful call (median)".into(),
        rows,
    }
}

fn panel_height(panel: &Panel) -> usize {
    LINE_H
        + 6
        + panel
            .rows
            .iter()
            .map(|r| r.bars.len() * BAR_H + 10)
            .sum::<usize>()
        + 14
}

fn draw_panel(canvas: &mut Canvas, y0: usize, panel: &Panel) -> usize {
    canvas.text(MARGIN, y0, &panel.title, TEXT, SCALE);
    let mut y = y0 + LINE_H + 6;
    let bar_x = MARGIN + LABEL_W;
    let bar_w = WIDTH - bar_x - VALUE_W - MARGIN;
    let max = panel
        .rows
        .iter()
        .flat_map(|r| r.bars.iter())
        .filter_map(|b| b.value.as_ref().ok().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let top = y;
    for row in &panel.rows {
        let h = row.bars.len() * BAR_H;
        let text_y = y + h.saturating_sub(font::HEIGHT * SCALE) / 2;
        canvas.text(MARGIN, text_y, &row.label, TEXT, SCALE);
        for (i, bar) in row.bars.iter().enumerate() {
            let by = y + i * BAR_H;
            match &bar.value {
                Ok(v) => {
                    let w = ((*v as f64 / max as f64) * bar_w as f64).round() as usize;
                    canvas.rect(bar_x, by + 1, w.max(1), BAR_H - 2, bar.colour);
                    canvas.text(bar_x + w + 6, by + 1, &duration_ascii(*v), MUTED, SCALE);
                }
                Err(note) => canvas.text(bar_x + 6, by + 1, note, MUTED, SCALE),
            }
        }
        y += h + 10;
    }
    // The zero line.
    canvas.rect(bar_x - 1, top, 1, y - top - 6, RULE);
    y + 14
}

/// Draws the chart of `results` as a PNG file.
pub fn render(results: &Results) -> Vec<u8> {
    let mut panels: Vec<Panel> = Vec::new();
    let mut sizes: Vec<usize> = results.floor.unix_socket.iter().map(|f| f.size).collect();
    for row in &results.latency {
        if !sizes.contains(&row.size) {
            sizes.push(row.size);
        }
    }
    for size in sizes {
        panels.push(latency_panel(results, size));
    }
    panels.push(startup_panel(results));

    let header = MARGIN + 3 * font::HEIGHT + 12 + 3 * (font::HEIGHT * SCALE + 6) + 10;
    let height = header + panels.iter().map(panel_height).sum::<usize>() + MARGIN;
    let mut canvas = Canvas::new(WIDTH, height);
    let mut y = MARGIN;
    canvas.text(MARGIN, y, "rust-plugin vs go-plugin vs the floor", TEXT, 3);
    y += 3 * font::HEIGHT + 12;
    let m = &results.machine;
    let mut lines = vec![
        format!(
            "one run, {} CPUs, {} build, Go {}, {} round(s) per cell",
            m.cpus,
            if m.release_build { "release" } else { "debug" },
            m.go.as_deref()
                .unwrap_or("none")
                .split(' ')
                .next()
                .unwrap_or("none"),
            results.rounds
        ),
        "light bar: AutoMTLS off; dark bar: AutoMTLS on; shorter is better".into(),
    ];
    if results.tiny {
        lines.push("TINY SMOKE-TEST RUN: THESE NUMBERS MEAN NOTHING".into());
    } else if results.go_skipped.is_some() {
        lines.push("GO ROWS SKIPPED: no Go toolchain".into());
    } else {
        lines.push("scripts/bench.sh regenerates this chart".into());
    }
    for line in lines {
        canvas.text(MARGIN, y, &line, MUTED, SCALE);
        y += font::HEIGHT * SCALE + 6;
    }
    y += 10;
    for panel in &panels {
        canvas.rect(MARGIN, y - 8, WIDTH - 2 * MARGIN, 1, RULE);
        y = draw_panel(&mut canvas, y, panel);
    }
    Indexed {
        width: WIDTH as u32,
        height: height as u32,
        palette: PALETTE.to_vec(),
        pixels: canvas.pixels,
    }
    .encode()
}
