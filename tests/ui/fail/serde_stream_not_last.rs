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
pub trait Files {
    async fn write(&self, chunks: PluginStream<Vec<u8>, FileError>, path: String) -> Result<u64, FileError>;
}

fn main() {}
