use std::sync::Arc;

use plugin_runtime::{CallError, PluginStream};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct FileError(String);

impl From<CallError> for FileError {
    fn from(e: CallError) -> Self {
        FileError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
pub trait Progress {
    async fn report(&self, done: u64) -> Result<(), FileError>;
}

#[plugin_runtime::plugin_interface]
pub trait Files {
    async fn write(
        &self,
        progress: Arc<dyn Progress>,
        chunks: PluginStream<Vec<u8>, FileError>,
    ) -> Result<u64, FileError>;
    async fn merge(
        &self,
        left: PluginStream<Vec<u8>, FileError>,
        right: PluginStream<Vec<u8>, FileError>,
    ) -> Result<u64, FileError>;
}

fn main() {}
