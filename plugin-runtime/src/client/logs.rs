//! The plugin's stderr, read line by line: each line is copied to the configured writer, kept
//! in a short tail for error messages, and re-emitted as a `tracing` event (target `plugin`)
//! at the level the plugin logged it, with its fields, the way go-plugin's host does.

use std::collections::VecDeque;
use std::fmt;

use serde_json::{Map, Value};
use tracing::Level;

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

/// Turns stderr lines into `tracing` events.
pub(crate) struct LogForwarder {
    plugin: String,
    panicking: bool,
}

/// An hclog entry's extra fields, printed as `key=value` pairs.
struct Fields(Vec<(String, Value)>);

impl fmt::Display for Fields {
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
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) {
            if let Some((level, message, fields)) = hclog_entry(map) {
                return emit(level, &self.plugin, &message, &fields);
            }
            return emit(Level::DEBUG, &self.plugin, line, &Fields(Vec::new()));
        }
        let level = if let Some(level) = prefixed_level(line) {
            level
        } else if line.starts_with("panic: ") || line.starts_with("fatal error: ") {
            // Everything after a panic is its trace: keep it at error (go-plugin 1.7).
            self.panicking = true;
            Level::ERROR
        } else if self.panicking {
            Level::ERROR
        } else {
            Level::DEBUG
        };
        emit(level, &self.plugin, line, &Fields(Vec::new()));
    }
}

/// An hclog JSON line: `@level` and `@message` strings; other keys are fields. Lines without
/// a known level are not hclog entries and are logged verbatim.
fn hclog_entry(mut map: Map<String, Value>) -> Option<(Level, String, Fields)> {
    let level = match map.get("@level")? {
        Value::String(s) => parse_level(s)?,
        _ => return None,
    };
    let message = match map.remove("@message") {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    map.remove("@level");
    if let Some(ts) = map.remove("@timestamp") {
        map.insert("timestamp".into(), ts);
    }
    Some((level, message, Fields(map.into_iter().collect())))
}

fn parse_level(s: &str) -> Option<Level> {
    match s.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" | "warning" => Some(Level::WARN),
        "error" => Some(Level::ERROR),
        _ => None,
    }
}

fn prefixed_level(line: &str) -> Option<Level> {
    [
        ("[TRACE]", Level::TRACE),
        ("[DEBUG]", Level::DEBUG),
        ("[INFO]", Level::INFO),
        ("[WARN]", Level::WARN),
        ("[ERROR]", Level::ERROR),
    ]
    .into_iter()
    .find(|(prefix, _)| line.starts_with(prefix))
    .map(|(_, level)| level)
}

fn emit(level: Level, plugin: &str, message: &str, fields: &Fields) {
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
        Level::ERROR => at!(Level::ERROR),
        Level::WARN => at!(Level::WARN),
        Level::INFO => at!(Level::INFO),
        Level::DEBUG => at!(Level::DEBUG),
        _ => at!(Level::TRACE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hclog_lines_keep_level_message_and_fields() {
        let line = r#"{"@level":"warn","@message":"disk low","@timestamp":"2026-01-01T00:00:00.000000Z","free":3}"#;
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else {
            panic!("test line is JSON")
        };
        let (level, message, fields) = hclog_entry(map).unwrap();
        assert_eq!(level, Level::WARN);
        assert_eq!(message, "disk low");
        assert_eq!(
            fields.to_string(),
            "free=3 timestamp=2026-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn json_without_level_is_not_an_entry() {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(r#"{"a":1}"#) else {
            panic!("test line is JSON")
        };
        assert!(hclog_entry(map).is_none());
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
