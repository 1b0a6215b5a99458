//! go-plugin's `examples/basic`, interchangeable with it: the `Greeter` interface over
//! go-plugin's default protocol, net/rpc. go-plugin's `basic` host runs our
//! `greeter-netrpc-plugin` (placed at `./plugin/greeter`), and our `basic` host runs
//! go-plugin's greeter plugin.
//!
//! On the wire the interface is go-plugin's `shared.GreeterRPC`: one net/rpc method,
//! `Plugin.Greet`, taking nothing (a nil `interface{}`) and answering a string.

use plugin_runtime::{CallError, HandshakeConfig};
use serde::{Deserialize, Serialize};

/// go-plugin's basic handshake: cookie `BASIC_PLUGIN=hello`, protocol version 1.
pub fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "BASIC_PLUGIN", "hello")
}

/// Why a greeting failed: net/rpc carries errors as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{0}")]
pub struct GreetError(pub String);

impl From<CallError> for GreetError {
    fn from(e: CallError) -> Self {
        GreetError(e.to_string())
    }
}

/// go-plugin's `shared.Greeter`, served as net/rpc's `Plugin.Greet`.
#[plugin_runtime::plugin_interface(netrpc)]
pub trait Greeter {
    /// A greeting.
    async fn greet(&self) -> Result<String, GreetError>;
}
