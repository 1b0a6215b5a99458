use std::sync::Arc;

use plugin_runtime::Status;

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    #[prost(int64, tag = "1")]
    pub add_server: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait AddHelper {
    async fn sum(&self, request: PutRequest) -> Result<Empty, Status>;
}

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait Counter {
    async fn put(
        &self,
        request: PutRequest,
        #[plugin(field = "add_server")] helper: Arc<dyn AddHelper>,
        #[plugin(field = "add_servr")] typo: Arc<dyn AddHelper>,
    ) -> Result<Empty, Status>;
}

fn main() {}
