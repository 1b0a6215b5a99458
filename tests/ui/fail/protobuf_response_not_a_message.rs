use plugin_runtime::Status;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(string, tag = "1")]
    pub key: String,
}

/// A serde type, not a `prost::Message`.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Value {
    pub value: String,
}

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait Kv {
    async fn get(&self, request: Request) -> Result<Value, Status>;
}

fn main() {}
