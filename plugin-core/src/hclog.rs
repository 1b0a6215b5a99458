//! go-hclog's line format, the language of a plugin's stderr: plugins write one JSON object a
//! line (`@level`, `@message`, `@timestamp`, then the fields as top-level keys), and hosts read
//! those back at their level, along with `[LEVEL]`-prefixed and plain lines.
//!
//! ```
//! use plugin_core::hclog::{Level, Line};
//!
//! let line = Level::Warn.format("disk low", "2026-01-02T03:04:05.000006Z", [("free", 3.into())]);
//! assert_eq!(
//!     line,
//!     r#"{"@level":"warn","@message":"disk low","@timestamp":"2026-01-02T03:04:05.000006Z","free":3}"#
//! );
//! let Line::Entry(entry) = Line::parse(&line) else { panic!("an hclog entry") };
//! assert_eq!((entry.level, entry.message.as_str()), (Level::Warn, "disk low"));
//! assert_eq!(Line::parse("[INFO] ready"), Line::Plain { level: Some(Level::Info), text: "[INFO] ready" });
//! ```

use std::fmt;

use serde_json::{Map, Value};

/// go-hclog's levels (its `Off` and `NoLevel` never appear on a line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `trace`
    Trace,
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

impl Level {
    /// The name in `@level`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// A level name as hclog reads it: any case, surrounding spaces ignored, `warning` too.
    pub fn parse(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "trace" => Some(Level::Trace),
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    /// The level of a `[TRACE]` ... `[ERROR]` prefixed line, as go-plugin's host reads them.
    pub fn from_prefix(line: &str) -> Option<Level> {
        const PREFIXES: [(&str, Level); 5] = [
            ("[TRACE]", Level::Trace),
            ("[DEBUG]", Level::Debug),
            ("[INFO]", Level::Info),
            ("[WARN]", Level::Warn),
            ("[ERROR]", Level::Error),
        ];
        PREFIXES
            .into_iter()
            .find(|(prefix, _)| line.starts_with(prefix))
            .map(|(_, level)| level)
    }

    /// One JSON line (without its newline) with this level, `message`, `timestamp` (go-plugin's
    /// layout `2006-01-02T15:04:05.000000Z07:00`) and `fields` as top-level keys.
    pub fn format<K: Into<String>>(
        self,
        message: &str,
        timestamp: &str,
        fields: impl IntoIterator<Item = (K, Value)>,
    ) -> String {
        let mut map = Map::new();
        map.insert("@level".into(), self.name().into());
        map.insert("@message".into(), message.into());
        map.insert("@timestamp".into(), timestamp.into());
        for (key, value) in fields {
            map.insert(key.into(), value);
        }
        Value::Object(map).to_string()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One hclog JSON entry, as read by a host.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `@level`.
    pub level: Level,
    /// `@message` (non-strings as their JSON text).
    pub message: String,
    /// Every other key, `@timestamp` as `timestamp`, in key order.
    pub fields: Vec<(String, Value)>,
}

/// A line of a plugin's stderr, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// An hclog JSON entry.
    Entry(Entry),
    /// JSON that is not an hclog entry (no known `@level`): logged verbatim.
    Json(&'a str),
    /// Anything else, with the level of its `[LEVEL]` prefix if it has one.
    Plain {
        /// The prefix's level.
        level: Option<Level>,
        /// The whole line.
        text: &'a str,
    },
}

impl<'a> Line<'a> {
    /// Classifies one line (without its newline).
    pub fn parse(line: &'a str) -> Line<'a> {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => match Entry::from_map(map) {
                Some(entry) => Line::Entry(entry),
                None => Line::Json(line),
            },
            _ => Line::Plain {
                level: Level::from_prefix(line),
                text: line,
            },
        }
    }
}

impl Entry {
    fn from_map(mut map: Map<String, Value>) -> Option<Entry> {
        let level = match map.get("@level")? {
            Value::String(s) => Level::parse(s)?,
            _ => return None,
        };
        map.remove("@level");
        let message = match map.remove("@message") {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if let Some(ts) = map.remove("@timestamp") {
            map.insert("timestamp".into(), ts);
        }
        Some(Entry {
            level,
            message,
            fields: map.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_level_message_and_fields() {
        let line = r#"{"@level":"WARNING","@message":"disk low","@timestamp":"t","free":3}"#;
        let Line::Entry(entry) = Line::parse(line) else {
            panic!("an entry: {line}")
        };
        assert_eq!(entry.level, Level::Warn);
        assert_eq!(entry.message, "disk low");
        assert_eq!(
            entry.fields,
            vec![
                ("free".to_string(), Value::from(3)),
                ("timestamp".to_string(), Value::from("t"))
            ]
        );
    }

    #[test]
    fn json_without_a_known_level_is_not_an_entry() {
        for line in [r#"{"a":1}"#, r#"{"@level":"loud"}"#, r#"{"@level":3}"#] {
            assert_eq!(Line::parse(line), Line::Json(line));
        }
    }

    #[test]
    fn plain_lines_keep_their_prefix_level() {
        assert_eq!(
            Line::parse("[ERROR] boom"),
            Line::Plain {
                level: Some(Level::Error),
                text: "[ERROR] boom"
            }
        );
        assert_eq!(
            Line::parse("[1,2]"),
            Line::Plain {
                level: None,
                text: "[1,2]"
            }
        );
    }

    #[test]
    fn a_formatted_line_parses_back() {
        for level in [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ] {
            let line = level.format("m", "t", [("k", Value::from("v"))]);
            let Line::Entry(entry) = Line::parse(&line) else {
                panic!("an entry: {line}")
            };
            assert_eq!((entry.level, entry.message.as_str()), (level, "m"));
        }
    }
}
