//! The Rust counterpart of go-plugin's `go-kv-plugin` for the measurements of a plugin as a
//! process (start-up, resident memory, and the pairing under a go-plugin host): `proto.KV`
//! only, on the in-memory store, served by `serve_main` as a plugin's `main` is meant to be.
//! `bench-plugin` serves four interfaces more, for the calls, callbacks and streams, and its
//! extra code would be counted against it in a process-to-process comparison.
//!
//! `BENCH_PLUGIN_SEED=key=value` stores one value before serving.

use std::process::ExitCode;

use plugin_bench::interface::PROTOBUF_PLUGIN;
use plugin_bench::memory::Memory;
use plugin_fixtures::kv::{KvPlugin, handshake};
use plugin_runtime::{PluginSet, ServeConfig};

fn main() -> ExitCode {
    let plugins = PluginSet::new().with(PROTOBUF_PLUGIN, KvPlugin::new(Memory::seeded()));
    plugin_runtime::serve_main(ServeConfig::new(handshake()).plugins(plugins))
}
