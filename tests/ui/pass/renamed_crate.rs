#![deny(warnings)]
//! `crate = "..."`: a crate that knows plugin_runtime under another name. Every generated path
//! goes through that name (the macro's unit tests check that no `plugin_runtime` is left).

extern crate plugin_runtime as rt;

use rt::CallError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct GreetError(String);

impl From<CallError> for GreetError {
    fn from(e: CallError) -> Self {
        GreetError(e.to_string())
    }
}

#[rt::plugin_interface(crate = "rt")]
pub trait Greeter {
    async fn greet(&self, name: String) -> Result<String, GreetError>;
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(string, tag = "1")]
    pub key: String,
}

mod nested {
    use super::Request;
    use crate::rt as runtime;

    #[runtime::plugin_interface(crate = "runtime", encoding = "protobuf")]
    pub trait Kv {
        async fn get(&self, request: Request) -> Result<Request, runtime::Status>;
    }
}

struct English;

#[rt::async_trait]
impl Greeter for English {
    async fn greet(&self, name: String) -> Result<String, GreetError> {
        Ok(format!("Hello, {name}!"))
    }
}

fn main() {
    let _ = rt::PluginSet::new().with("greeter", GreeterPlugin::new(English));
    let _ = nested::KvPlugin::host();
}
