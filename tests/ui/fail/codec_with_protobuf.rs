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

#[plugin_runtime::plugin_interface(encoding = "protobuf", codec = plugin_runtime::Bincode)]
pub trait Kv {
    async fn get(&self, request: Request) -> Result<Response, Status>;
}

fn main() {}
