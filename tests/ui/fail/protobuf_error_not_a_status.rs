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

#[derive(Debug)]
pub struct KvError;

impl From<plugin_runtime::CallError> for KvError {
    fn from(_: plugin_runtime::CallError) -> Self {
        KvError
    }
}

#[plugin_runtime::plugin_interface(encoding = "protobuf")]
pub trait Kv {
    async fn get(&self, request: Request) -> Result<Response, KvError>;
}

fn main() {}
