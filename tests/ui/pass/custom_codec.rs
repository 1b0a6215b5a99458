#![deny(warnings)]
//! A codec of the user's own, on a private trait that already names its supertraits.

use std::io::Write;

use plugin_runtime::{CallError, Codec, CodecError};
use serde::Serialize;
use serde::de::DeserializeOwned;

mod codecs {
    pub struct Json;
}

impl Codec for codecs::Json {
    const NAME: &'static str = "json";

    fn encode<T: Serialize + ?Sized, W: Write>(value: &T, out: W) -> Result<(), CodecError> {
        serde_json::to_writer(out, value).map_err(|e| CodecError::Encode {
            codec: Self::NAME,
            reason: e.to_string(),
        })
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(|e| CodecError::Decode {
            codec: Self::NAME,
            ty: std::any::type_name::<T>(),
            reason: e.to_string(),
        })
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Failed(String);

impl From<CallError> for Failed {
    fn from(e: CallError) -> Self {
        Failed(e.to_string())
    }
}

#[plugin_runtime::plugin_interface(codec = codecs::Json)]
trait Counter: Send + Sync + 'static {
    async fn add(&self, amount: i64) -> Result<i64, Failed>;
}

struct Local;

#[plugin_runtime::async_trait]
impl Counter for Local {
    async fn add(&self, amount: i64) -> Result<i64, Failed> {
        Ok(amount)
    }
}

fn main() {
    let _ = CounterPlugin::new(Local);
}
