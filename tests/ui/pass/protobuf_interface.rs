#![deny(warnings)]
//! Protobuf interfaces: `Status` or an own error type convertible to and from it.

use plugin_runtime::__private::Dispatch; // what the generated server implements; not public API
use plugin_runtime::{CallError, Plugin, Status};

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetRequest {
    #[prost(string, tag = "1")]
    pub key: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub value: Vec<u8>,
}

#[plugin_runtime::plugin_interface(package = "proto", service = "KV", encoding = "protobuf")]
pub trait Kv {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status>;
    #[plugin(name = "GetAgain")]
    async fn get_again(&self, request: GetRequest) -> Result<GetResponse, Status>;
}

#[derive(Debug)]
pub struct StoreError(Status);

impl From<CallError> for StoreError {
    fn from(e: CallError) -> Self {
        StoreError(e.into())
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Status {
        e.0
    }
}

#[plugin_runtime::plugin_interface(package = "store", encoding = "protobuf")]
pub(crate) trait Store {
    async fn fetch_value(&self, request: GetRequest) -> Result<GetResponse, StoreError>;
}

fn is_plugin<P: Plugin>() {}

fn main() {
    is_plugin::<KvPlugin>();
    is_plugin::<StorePlugin>();
    assert_eq!(KvServer::SERVICE, "proto.KV");
    assert_eq!(KvServer::METHODS, ["Get", "GetAgain"]);
    assert_eq!(StoreServer::SERVICE, "store.Store");
    assert_eq!(StoreServer::METHODS, ["FetchValue"]);
}
