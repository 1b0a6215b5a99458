//! The other misuses of callbacks and `field`, each reported on its own tokens.
use std::sync::Arc;

use plugin_runtime::{CallError, Status};

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    #[prost(uint32, tag = "1")]
    pub add_server: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MyError(String);

impl From<CallError> for MyError {
    fn from(e: CallError) -> Self {
        MyError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait AddHelper {
    async fn sum(&self, request: PutRequest) -> Result<Empty, Status>;
}

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait Counter {
    // Two callbacks in one field.
    async fn put(
        &self,
        request: PutRequest,
        #[plugin(field = "add_server")] first: Arc<dyn AddHelper>,
        #[plugin(field = "add_server")] second: Arc<dyn AddHelper>,
    ) -> Result<Empty, Status>;
    // Not a field name.
    async fn get(
        &self,
        request: PutRequest,
        #[plugin(field = "add server")] helper: Arc<dyn AddHelper>,
    ) -> Result<Empty, Status>;
    // An interface as a protobuf response.
    async fn helper(&self, request: PutRequest) -> Result<Arc<dyn AddHelper>, Status>;
}

#[plugin_runtime::plugin_interface]
pub trait Serde {
    // `field` in a serde interface, and an option arguments do not take.
    async fn put(
        &self,
        #[plugin(field = "add_server")] helper: Arc<dyn AddHelper>,
        #[plugin(name = "Helper")] other: Arc<dyn AddHelper>,
    ) -> Result<(), MyError>;
}

fn main() {}
