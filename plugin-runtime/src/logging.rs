//! Logs both Go and Rust hosts read: a `tracing` layer that writes go-hclog's JSON lines.
//!
//! Each event becomes one line on the plugin's real stderr:
//! `{"@level":"info","@message":"...","@timestamp":"2026-01-02T03:04:05.000006Z","key":"value"}`
//! (`@timestamp` with exactly six fractional digits, fields as top-level keys), which go-plugin
//! hosts re-emit at the event's level with its fields, and so do this SDK's hosts.
//!
//! [`crate::serve`] installs it by default. To compose it with other layers yourself:
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! let subscriber = tracing_subscriber::registry().with(plugin_runtime::HclogLayer::new());
//! tracing::subscriber::with_default(subscriber, || tracing::info!(answer = 42, "hello"));
//! ```

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use plugin_core::hclog;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The plugin's original stderr, kept by `serve` before fd 2 is captured for the host.
static LOG_FD: OnceLock<Mutex<File>> = OnceLock::new();

pub(crate) fn set_log_file(file: File) {
    let _ = LOG_FD.set(Mutex::new(file));
}

/// Writes one whole line to the log output (the original stderr once `serve` kept it).
pub(crate) fn write_log_line(line: &[u8]) {
    match LOG_FD.get() {
        Some(file) => {
            if let Ok(mut f) = file.lock() {
                let _ = f.write_all(line);
            }
        }
        None => {
            let _ = std::io::stderr().lock().write_all(line);
        }
    }
}

/// A `tracing` level as go-hclog's.
fn hclog_level(level: &Level) -> hclog::Level {
    match *level {
        Level::TRACE => hclog::Level::Trace,
        Level::DEBUG => hclog::Level::Debug,
        Level::INFO => hclog::Level::Info,
        Level::WARN => hclog::Level::Warn,
        Level::ERROR => hclog::Level::Error,
    }
}

/// `2006-01-02T15:04:05.000000Z07:00` in UTC, the layout go-plugin hosts parse.
pub(crate) fn timestamp() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// A `tracing` layer writing go-hclog JSON lines to the plugin's stderr.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let subscriber = tracing_subscriber::registry().with(plugin_runtime::HclogLayer::new());
/// tracing::subscriber::with_default(subscriber, || tracing::warn!(free = 3, "disk low"));
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct HclogLayer {
    _private: (),
}

impl HclogLayer {
    /// A layer writing to the plugin's original stderr.
    pub fn new() -> Self {
        HclogLayer { _private: () }
    }
}

struct JsonFields<'a> {
    map: &'a mut Map<String, Value>,
    message: String,
}

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.map.insert(
                field.name().to_string(),
                Value::String(format!("{value:?}")),
            );
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.map
                .insert(field.name().to_string(), Value::String(value.to_string()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.map.insert(field.name().to_string(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.map.insert(field.name().to_string(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.map.insert(field.name().to_string(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.map.insert(field.name().to_string(), value.into());
    }
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut map = Map::new();
        let mut fields = JsonFields {
            map: &mut map,
            message: String::new(),
        };
        event.record(&mut fields);
        let message = std::mem::take(&mut fields.message);
        map.insert("@module".into(), event.metadata().target().into());
        let level = hclog_level(event.metadata().level());
        let mut line = level.format(&message, &timestamp(), map);
        line.push('\n');
        write_log_line(line.as_bytes());
    }
}

/// Installs [`HclogLayer`] as the global subscriber, filtered by `RUST_LOG` (default: everything
/// from the plugin at trace, the transport's own crates at warn). Does nothing if a global
/// subscriber is already set.
pub(crate) fn try_init() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "trace,h2=warn,hyper=warn,hyper_util=warn,tower=warn,tonic=warn,rustls=warn,yamux=warn,\
             loona_hpack=warn",
        )
    });
    let _ = tracing_subscriber::registry()
        .with(HclogLayer::new().with_filter(filter))
        .try_init();
}
