use plugin_runtime::Status;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(string, tag = "1")]
    pub key: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Response {
    #[prost(string, tag = "1")]
    pub value: String,
}

/// Not a `prost::Message`.
pub struct Key(pub String);

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait Kv {
    async fn get(&self, key: Key) -> Result<Response, Status>;
}

fn main() {}
