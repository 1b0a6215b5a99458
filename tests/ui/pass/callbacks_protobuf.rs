#![deny(warnings)]
//! Protobuf interfaces passing interfaces as go-plugin does: the request message carries the
//! callback's broker id in a `u32` field, named with `#[plugin(field = "...")]`.

use std::sync::Arc;

use plugin_runtime::__private::Dispatch; // generated, not public API
use plugin_runtime::{Plugin, Status};

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    #[prost(uint32, tag = "1")]
    pub add_server: u32,
    #[prost(string, tag = "2")]
    pub key: String,
    #[prost(int64, tag = "3")]
    pub value: i64,
    #[prost(uint32, tag = "4")]
    pub r#type: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SumRequest {
    #[prost(int64, tag = "1")]
    pub a: i64,
    #[prost(int64, tag = "2")]
    pub b: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SumResponse {
    #[prost(int64, tag = "1")]
    pub r: i64,
}

#[plugin_runtime::plugin_interface(package = "proto", service = "AddHelper", encoding = "protobuf")]
pub trait AddHelper {
    async fn sum(&self, request: SumRequest) -> Result<SumResponse, Status>;
}

#[plugin_runtime::plugin_interface(package = "proto", service = "Counter", encoding = "protobuf")]
pub trait Counter {
    /// go-plugin's `Put`: the helper's id in `add_server`.
    async fn put(
        &self,
        request: PutRequest,
        #[plugin(field = "add_server")] helper: Arc<dyn AddHelper>,
    ) -> Result<Empty, Status>;
    /// Two callbacks, before the request; a field named by a keyword.
    async fn put_twice(
        &self,
        #[plugin(field = "type")] first: Arc<dyn AddHelper + Send + Sync>,
        #[plugin(field = "add_server")] second: Arc<dyn AddHelper>,
        request: PutRequest,
    ) -> Result<Empty, Status>;
}

struct Store;

#[plugin_runtime::async_trait]
impl Counter for Store {
    async fn put(&self, request: PutRequest, helper: Arc<dyn AddHelper>) -> Result<Empty, Status> {
        helper
            .sum(SumRequest {
                a: 0,
                b: request.value,
            })
            .await?;
        Ok(Empty {})
    }

    async fn put_twice(
        &self,
        _first: Arc<dyn AddHelper + Send + Sync>,
        _second: Arc<dyn AddHelper>,
        _request: PutRequest,
    ) -> Result<Empty, Status> {
        Ok(Empty {})
    }
}

fn is_plugin<P: Plugin>() {}

fn main() {
    is_plugin::<CounterPlugin>();
    let _ = CounterPlugin::new(Store);
    assert_eq!(CounterServer::METHODS, ["Put", "PutTwice"]);
}
