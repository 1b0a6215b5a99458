//! What the harness and its plugin agree on: plugin names and the seed variable. The wire is
//! that of go-plugin's KV example (`plugin_fixtures::kv`, `proto.KV`), so the Go fixtures
//! in `tests/go` are interchangeable with `bench-plugin`.

/// The name of the `proto.KV` plugin (protobuf), as in go-plugin's KV example.
pub const PROTOBUF_PLUGIN: &str = "kv";

/// `key=value`: a value `bench-plugin` stores before serving.
pub const SEED_ENV: &str = "BENCH_PLUGIN_SEED";

/// `current_thread`: `bench-plugin` serves on a single-threaded runtime (experiments only).
pub const RUNTIME_ENV: &str = "BENCH_PLUGIN_RUNTIME";

/// The key the start-up measurements read (seeded with [`STARTUP_VALUE`]).
pub const STARTUP_KEY: &str = "startup";

/// The value stored under [`STARTUP_KEY`] (what go-kv-host's `startup` stores too).
pub const STARTUP_VALUE: &str = "ready";

/// The key the latency, throughput and memory measurements read.
pub const BENCH_KEY: &str = "bench";

/// The payload of `size` bytes stored under [`BENCH_KEY`]: the bytes go-kv-host's `bench` uses.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

/// The name of the serde plugin ([`Store`]).
pub const SERDE_PLUGIN: &str = "store";

/// Why a [`Store`] call failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StoreError {
    /// No value is stored under the key.
    NotFound(String),
    /// The call failed on the way (the plugin died, the connection broke...).
    Call(String),
}

impl From<plugin_runtime::CallError> for StoreError {
    fn from(e: plugin_runtime::CallError) -> Self {
        StoreError::Call(e.to_string())
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound(key) => write!(f, "no value for key {key:?}"),
            StoreError::Call(why) => write!(f, "the call failed: {why}"),
        }
    }
}

/// The serde twin of `proto.KV`, as a Rust-only interface would be written with
/// `#[plugin_interface]`: `String` keys and `ByteBuf` values (bincode; a `ByteBuf` is encoded
/// as one byte string, where a `Vec<u8>` would go element by element).
#[plugin_runtime::plugin_interface]
pub trait Store {
    /// The value stored under `key`.
    async fn get(&self, key: String) -> Result<plugin_runtime::ByteBuf, StoreError>;
    /// Stores `value` under `key`.
    async fn put(&self, key: String, value: plugin_runtime::ByteBuf) -> Result<(), StoreError>;
}
