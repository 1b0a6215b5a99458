//! The plugins' key-value store: one in-memory map served as `proto.KV` (go-plugin's KV
//! example) and as the serde [`Store`], both views sharing it; seeded from
//! [`SEED_ENV`] so that a freshly started plugin answers a `Get` at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use plugin_fixtures::kv::{Empty, GetRequest, GetResponse, Kv, PutRequest};
use plugin_runtime::Status;

use crate::interface::{SEED_ENV, Store, StoreError};

/// The shared map.
#[derive(Clone, Default)]
pub struct Memory(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl Memory {
    /// An empty map, with the `key=value` of [`SEED_ENV`] stored when it is set.
    pub fn seeded() -> Memory {
        let memory = Memory::default();
        if let Some((key, value)) = std::env::var(SEED_ENV)
            .ok()
            .as_deref()
            .and_then(|s| s.split_once('='))
        {
            memory.put(key.to_string(), value.as_bytes().to_vec());
        }
        memory
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().ok()?.get(key).cloned()
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: String, value: Vec<u8>) {
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
