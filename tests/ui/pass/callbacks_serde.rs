#![deny(warnings)]
//! Serde interfaces passing interfaces: `Arc<dyn Trait>` arguments and results (callbacks),
//! with or without `+ Send + Sync`, under any path to `Arc`.

use std::sync::Arc;

use plugin_runtime::__private::{Brokered, Dispatch}; // generated, not public API
use plugin_runtime::{CallError, Plugin};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct JobError(String);

impl From<CallError> for JobError {
    fn from(e: CallError) -> Self {
        JobError(e.to_string())
    }
}

#[plugin_runtime::plugin_interface]
pub trait Progress {
    async fn report(&self, done: u32, of: u32) -> Result<(), JobError>;
}

#[plugin_runtime::plugin_interface]
pub trait Job {
    async fn cancel(&self) -> Result<(), JobError>;
}

pub mod events {
    /// A callback from another module, named by path.
    #[plugin_runtime::plugin_interface]
    pub trait Sink {
        async fn event(&self, text: String) -> Result<(), super::JobError>;
    }
}

#[plugin_runtime::plugin_interface]
pub trait Jobs {
    /// Values and callbacks in any order.
    async fn start(
        &self,
        name: String,
        progress: Arc<dyn Progress>,
        steps: u32,
        events: std::sync::Arc<dyn events::Sink + Send + Sync>,
    ) -> Result<Arc<dyn Job>, JobError>;
    /// A callback alone, and a callback result with the markers.
    async fn watch(
        &self,
        progress: Arc<dyn Progress + Send + Sync + 'static>,
    ) -> Result<Arc<dyn Job + Send + Sync>, JobError>;
    /// Nothing brokered.
    async fn count(&self) -> Result<u64, JobError>;
}

struct Running;

#[plugin_runtime::async_trait]
impl Job for Running {
    async fn cancel(&self) -> Result<(), JobError> {
        Ok(())
    }
}

struct Runner;

#[plugin_runtime::async_trait]
impl Jobs for Runner {
    async fn start(
        &self,
        name: String,
        progress: Arc<dyn Progress>,
        steps: u32,
        events: Arc<dyn events::Sink + Send + Sync>,
    ) -> Result<Arc<dyn Job>, JobError> {
        events.event(name).await?;
        progress.report(0, steps).await?;
        Ok(Arc::new(Running))
    }

    async fn watch(
        &self,
        _progress: Arc<dyn Progress + Send + Sync + 'static>,
    ) -> Result<Arc<dyn Job + Send + Sync>, JobError> {
        Ok(Arc::new(Running))
    }

    async fn count(&self) -> Result<u64, JobError> {
        Ok(0)
    }
}

fn brokered<T: ?Sized + Brokered>() {}
fn is_plugin<P: Plugin>() {}
fn is_dispatch<D: Dispatch>() {}

fn main() {
    brokered::<dyn Progress>();
    brokered::<dyn Job>();
    brokered::<dyn events::Sink>();
    brokered::<dyn Jobs>();
    is_plugin::<JobsPlugin>();
    is_dispatch::<JobsServer>();
    let _ = JobsPlugin::new(Runner);
    assert_eq!(
        JobsServer::METHODS,
        ["Start", "Watch", "Count", "_Fingerprint"]
    );
    assert_eq!(JobsPlugin::FINGERPRINT.len(), 16);
}
