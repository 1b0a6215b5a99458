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

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait Kv {
    async fn list(&self) -> Result<Response, Status>;
}

fn main() {}
