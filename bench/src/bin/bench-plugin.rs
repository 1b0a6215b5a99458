//! The Rust plugin of the benchmarks: an in-memory key-value store served twice, as `proto.KV`
//! (protobuf, go-plugin's KV example, plugin name `kv`) and as the serde interface
//! `plugin_bench::Store` (plugin name `store`). Both views share one map.
//!
//! `BENCH_PLUGIN_SEED=key=value` stores one value before serving, so that freshly started
//! plugins can answer a `Get` at once (the start-up measurements time spawn to first `Get`).
//!
//! The plugin runs on tokio's default multi-thread runtime, as `#[tokio::main]` plugins do;
//! `BENCH_PLUGIN_RUNTIME=current_thread` runs it on one thread instead (for experiments with
//! `plugin-bench hot-path`).

use std::collections::HashMap;
use std::error::Error;
use std::sync::{Arc, Mutex};

use plugin_bench::interface::{
    PROTOBUF_PLUGIN, RUNTIME_ENV, SEED_ENV, SERDE_PLUGIN, Store, StoreError, StorePlugin,
};
use plugin_fixtures::kv::{Empty, GetRequest, GetResponse, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{PluginSet, ServeConfig, Status};

/// The shared map.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl Memory {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: String, value: Vec<u8>) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, value);
        }
    }
}

#[plugin_runtime::async_trait]
impl Kv for Memory {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        match Memory::get(self, &request.key) {
            Some(value) => Ok(GetResponse { value }),
            None => Err(Status::not_found(format!(
                "key {:?} not found",
                request.key
            ))),
        }
    }

    async fn put(&self, request: PutRequest) -> Result<Empty, Status> {
        Memory::put(self, request.key, request.value);
        Ok(Empty {})
    }
}

#[plugin_runtime::async_trait]
impl Store for Memory {
    async fn get(&self, key: String) -> Result<plugin_runtime::ByteBuf, StoreError> {
        Memory::get(self, &key)
            .map(plugin_runtime::ByteBuf::from)
            .ok_or(StoreError::NotFound(key))
    }

    async fn put(&self, key: String, value: plugin_runtime::ByteBuf) -> Result<(), StoreError> {
        Memory::put(self, key, value.into_vec());
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let memory = Memory::default();
    if let Some((key, value)) = std::env::var(SEED_ENV)
        .ok()
        .as_deref()
        .and_then(|s| s.split_once('='))
    {
        memory.put(key.to_string(), value.as_bytes().to_vec());
    }
    let plugins = PluginSet::new()
        .with(PROTOBUF_PLUGIN, KvPlugin::new(memory.clone()))
        .with(SERDE_PLUGIN, StorePlugin::new(memory.clone()));
    let runtime = if std::env::var(RUNTIME_ENV).as_deref() == Ok("current_thread") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Runtime::new()?
    };
    runtime.block_on(plugin_runtime::serve(
        ServeConfig::new(handshake()).plugins(plugins),
    ))?;
    Ok(())
}
