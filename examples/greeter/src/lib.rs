//! The greeter interface, shared by the `greeter` host and the `greeter-plugin` plugin.
//!
//! A Rust-only interface: plain Rust types cross the process boundary with serde (bincode), and
//! the plugin's errors come back as [`GreetError`] values. Host and plugin must be built from
//! the same version of [`Greeter`]: the host checks the interface fingerprint when it dispenses.

use plugin_runtime::{CallError, HandshakeConfig};
use serde::{Deserialize, Serialize};

/// The handshake of the greeter: cookie `GREETER_PLUGIN=hello`, protocol version 1.
pub fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "GREETER_PLUGIN", "hello")
}

/// The most greetings one call may ask for.
pub const MAX_TIMES: u32 = 10;

/// The languages a greeting can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    /// "Hello".
    English,
    /// "Bonjour".
    French,
    /// "Hallo".
    German,
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "en" => Ok(Language::English),
            "fr" => Ok(Language::French),
            "de" => Ok(Language::German),
            other => Err(format!("unknown language {other:?}; use en, fr or de")),
        }
    }
}

/// Whom to greet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Their name.
    pub name: String,
    /// The language they are greeted in.
    pub language: Language,
}

/// Why a greeting failed: the plugin's own errors, and [`GreetError::Plugin`] for a call that
/// failed on the way (the plugin died, the connection broke).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum GreetError {
    /// The name was empty.
    #[error("a name cannot be empty")]
    EmptyName,
    /// More than [`MAX_TIMES`] greetings were asked for.
    #[error("{0} greetings are too many; at most {MAX_TIMES}")]
    TooMany(u32),
    /// The call itself failed.
    #[error("the greeter plugin failed: {0}")]
    Plugin(String),
}

impl From<CallError> for GreetError {
    fn from(e: CallError) -> Self {
        GreetError::Plugin(e.to_string())
    }
}

/// The greeter interface, served as `plugin.Greeter`.
///
/// `#[plugin_interface]` generates [`GreeterPlugin`] (`GreeterPlugin::host()` for the host,
/// `GreeterPlugin::new(impl)` for the plugin), [`GreeterClient`] and [`GreeterServer`].
#[plugin_runtime::plugin_interface]
pub trait Greeter {
    /// Greets `person` `times` times, each greeting ending with `punctuation`.
    async fn greet(
        &self,
        person: Person,
        times: u32,
        punctuation: char,
    ) -> Result<String, GreetError>;

    /// The languages this greeter speaks.
    async fn languages(&self) -> Result<Vec<Language>, GreetError>;
}
