#![deny(warnings)]
//! Methods under `#[cfg]`: one that is compiled out disappears from the client, the server and
//! the fingerprint; two methods may share a wire name under exclusive cfgs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use plugin_runtime::CallError;
use plugin_runtime::__private::Dispatch; // what the generated server implements; not public API
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct ApiError(String);

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        ApiError(e.to_string())
    }
}

/// Exists only where the cfg holds: a method using it must vanish entirely.
#[cfg(any())]
#[derive(Serialize, Deserialize)]
pub struct Never;

#[plugin_runtime::plugin_interface]
pub trait Api {
    #[cfg(any())]
    async fn gone(&self, never: Never) -> Result<Never, ApiError>;
    #[cfg(all())]
    async fn kept(&self) -> Result<u32, ApiError>;
    #[cfg(not(any()))]
    #[plugin(name = "Version")]
    async fn version_new(&self) -> Result<u32, ApiError>;
    #[cfg(any())]
    #[plugin(name = "Version")]
    async fn version_old(&self) -> Result<String, ApiError>;
    async fn last(&self) -> Result<(), ApiError>;
}

/// The same interface as compiled: its fingerprint must be `Api`'s.
mod as_compiled {
    use super::ApiError;

    #[plugin_runtime::plugin_interface(service = "Api")]
    pub trait Api {
        async fn kept(&self) -> Result<u32, ApiError>;
        #[plugin(name = "Version")]
        async fn version_new(&self) -> Result<u32, ApiError>;
        async fn last(&self) -> Result<(), ApiError>;
    }
}

/// The number of the last method called, 1-based.
static CALLED: AtomicUsize = AtomicUsize::new(0);

struct Imp;

#[plugin_runtime::async_trait]
impl Api for Imp {
    async fn kept(&self) -> Result<u32, ApiError> {
        CALLED.store(1, Ordering::SeqCst);
        Ok(1)
    }
    async fn version_new(&self) -> Result<u32, ApiError> {
        CALLED.store(2, Ordering::SeqCst);
        Ok(2)
    }
    async fn last(&self) -> Result<(), ApiError> {
        CALLED.store(3, Ordering::SeqCst);
        Ok(())
    }
}

fn main() {
    assert_eq!(ApiServer::METHODS, ["Kept", "Version", "Last", "_Fingerprint"]);
    assert_eq!(ApiPlugin::FINGERPRINT, as_compiled::ApiPlugin::FINGERPRINT);

    // Each index reaches its own method (no arguments: an empty request decodes as `()`).
    let server = Arc::new(ApiServer::new(Imp));
    for (index, called) in [(0, 1), (1, 2), (2, 3)] {
        let reply = futures::executor::block_on(server.clone().call(index, Default::default()));
        assert!(reply.is_ok(), "method {index}");
        assert_eq!(CALLED.load(Ordering::SeqCst), called);
    }
    let unknown = futures::executor::block_on(server.call(4, Default::default()));
    assert!(unknown.is_err());

    assert_eq!(
        format!("{:?}", ApiServer::new(Imp)),
        "ApiServer { service: \"plugin.Api\", .. }"
    );
    assert_eq!(
        format!("{:?}", ApiPlugin::host()),
        "ApiPlugin { service: \"plugin.Api\", side: \"host\" }"
    );
}
