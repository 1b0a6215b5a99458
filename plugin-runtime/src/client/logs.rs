//! The plugin's stderr, read line by line: each line is copied to the configured writer, kept
//! in a short tail for error messages, and re-emitted as a `tracing` event (target `plugin`)
//! at the level the plugin logged it, with its fields, the way go-plugin's host does.

use std::collections::VecDeque;
use std::fmt;

use plugin_core::hclog::{self, Line};
use serde_json::Value;
use tracing::Level;

/// Lines longer than this are handed on in pieces (go-plugin's default log buffer).
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Cuts a byte stream that arrives in chunks into lines: without their `\n` (and `\r`), lines
/// over [`MAX_LINE`] in pieces, invalid UTF-8 replaced.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// Calls `each` with every line `chunk` completes.
    pub(crate) fn push(&mut self, mut chunk: &[u8], each: &mut impl FnMut(&str)) {
        while !chunk.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let (taken, complete) = match chunk.iter().take(room).position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len().min(room), false),
            };
            self.partial.extend_from_slice(&chunk[..taken]);
            chunk = &chunk[taken..];
            if complete || self.partial.len() >= MAX_LINE {
                Self::emit(&self.partial, each);
                self.partial.clear();
            }
        }
    }

    /// Calls `each` with what is left after the last newline, if anything.
    pub(crate) fn finish(&mut self, each: &mut impl FnMut(&str)) {
        if !self.partial.is_empty() {
            Self::emit(&self.partial, each);
            self.partial.clear();
        }
    }

    fn emit(line: &[u8], each: &mut impl FnMut(&str)) {
        each(String::from_utf8_lossy(line).trim_end_matches(['\n', '\r']));
    }
}

/// The last lines of the plugin's stderr, for error messages.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    lines: VecDeque<String>,
}

const TAIL_LINES: usize = 20;
const TAIL_LINE_MAX: usize = 512;

impl Tail {
    pub(crate) fn push(&mut self, line: &str) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        let mut line = line.to_string();
        if line.len() > TAIL_LINE_MAX {
            let mut cut = TAIL_LINE_MAX;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        self.lines.push_back(line);
    }

    pub(crate) fn text(&self) -> String {
        self.lines.iter().map(|l| format!("  {l}\n")).collect()
    }
}

/// Turns stderr lines into `tracing` events, or, on a host that installed no `tracing`
/// subscriber, prints them on the host's stderr (as go-plugin's default logger does): the
/// plugin's log entries from info up and every other line (`eprintln!`, panics), so nothing the
/// plugin meant to be seen is silently lost.
pub(crate) struct LogForwarder {
    plugin: String,
    panicking: bool,
}

/// An hclog entry's extra fields, printed as `key=value` pairs.
struct Fields<'a>(&'a [(String, Value)]);

impl fmt::Display for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match v {
                Value::String(s) => write!(f, "{k}={s}")?,
                other => write!(f, "{k}={other}")?,
            }
        }
        Ok(())
    }
}

impl LogForwarder {
    pub(crate) fn new(plugin: &str) -> Self {
        LogForwarder {
            plugin: plugin.to_string(),
            panicking: false,
        }
    }

    /// Emits one line (without its newline).
    pub(crate) fn line(&mut self, line: &str) {
        match Line::parse(line) {
            Line::Entry(entry) => {
                // Printed without a subscriber only from info up: the plugin chose its levels,
                // and the runtime's own debug events are noise for someone who set up nothing.
                if !tracing::dispatcher::has_been_set() && entry.level < hclog::Level::Info {
                    return;
                }
                self.emit(entry.level, &entry.message, &entry.fields)
            }
            Line::Json(text) => self.emit(hclog::Level::Debug, text, &[]),
            Line::Plain { level, text } => {
                let level = level.unwrap_or_else(|| {
                    if text.starts_with("panic: ") || text.starts_with("fatal error: ") {
                        // Everything after a panic is its trace: keep it at error (go-plugin 1.7).
                        self.panicking = true;
                    }
                    if self.panicking {
                        hclog::Level::Error
                    } else {
                        hclog::Level::Debug
                    }
                });
                self.emit(level, text, &[]);
            }
        }
    }

    fn emit(&self, level: hclog::Level, message: &str, fields: &[(String, Value)]) {
        let (plugin, fields) = (&self.plugin, Fields(fields));
        if !tracing::dispatcher::has_been_set() {
            let level = level.name().to_uppercase();
            match fields.0 {
                [] => eprintln!("[{level}] plugin {plugin}: {message}"),
                _ => eprintln!("[{level}] plugin {plugin}: {message} {fields}"),
            }
            return;
        }
        macro_rules! at {
            ($lvl:expr) => {
                if fields.0.is_empty() {
                    tracing::event!(target: "plugin", $lvl, plugin = %plugin, "{message}")
                } else {
                    tracing::event!(target: "plugin", $lvl, plugin = %plugin, fields = %fields, "{message}")
                }
            };
        }
        match level {
            hclog::Level::Error => at!(Level::ERROR),
            hclog::Level::Warn => at!(Level::WARN),
            hclog::Level::Info => at!(Level::INFO),
            hclog::Level::Debug => at!(Level::DEBUG),
            hclog::Level::Trace => at!(Level::TRACE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        let mut each = |l: &str| out.push(l.to_string());
        for chunk in chunks {
            lines.push(chunk, &mut each);
        }
        lines.finish(&mut each);
        out
    }

    #[test]
    fn lines_are_cut_across_chunks() {
        assert_eq!(cut(&[b"a\r\nb", b"c\n", b"\nd"]), ["a", "bc", "", "d"]);
        assert_eq!(cut(&[b"\xff\n"]), ["\u{fffd}"]);
    }

    #[test]
    fn long_lines_come_in_pieces() {
        let long = vec![b'x'; MAX_LINE + 10];
        let lines = cut(&[&long, b"\n"]);
        assert_eq!(
            lines.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE, 10]
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut tail = Tail::default();
        for i in 0..30 {
            tail.push(&format!("line {i}"));
        }
        let text = tail.text();
        assert!(text.contains("line 29") && !text.contains("line 9\n"));
    }
}
