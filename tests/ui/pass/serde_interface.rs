#![deny(warnings)]
//! A serde interface with the options and method shapes it accepts.

use std::sync::Arc;

use plugin_runtime::__private::Dispatch; // what the generated server implements; not public API
use plugin_runtime::{CallError, Plugin, PluginSet};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub enum GreetError {
    Empty,
    Call(String),
}

impl From<CallError> for GreetError {
    fn from(e: CallError) -> Self {
        GreetError::Call(e.to_string())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
}

/// Docs are kept.
#[plugin_runtime::plugin_interface(package = "demo.v1", service = "Hello")]
pub trait Greeter {
    /// Several arguments, one a struct.
    async fn greet(
        &self,
        person: Person,
        times: u32,
        tags: Vec<String>,
    ) -> Result<String, GreetError>;
    /// No argument, renamed on the wire.
    #[plugin(name = "Count")]
    async fn greetings_so_far(&self) -> Result<u64, GreetError>;
    /// A raw identifier and a full path to `Result`.
    async fn r#reset(&self, hard: bool) -> std::result::Result<(), GreetError>;
    /// A method named like one of `Arc`'s, with a default body.
    async fn clone(&self) -> Result<(), GreetError> {
        Ok(())
    }
}

struct English;

#[plugin_runtime::async_trait]
impl Greeter for English {
    async fn greet(
        &self,
        person: Person,
        times: u32,
        tags: Vec<String>,
    ) -> Result<String, GreetError> {
        if person.name.is_empty() {
            return Err(GreetError::Empty);
        }
        Ok(format!("Hello, {} x{times} {tags:?}", person.name))
    }

    async fn greetings_so_far(&self) -> Result<u64, GreetError> {
        Ok(0)
    }

    async fn r#reset(&self, _hard: bool) -> Result<(), GreetError> {
        Ok(())
    }
}

fn is_plugin<P: Plugin>() {}
fn is_dispatch<D: Dispatch>() {}
fn shared<T: ?Sized + Send + Sync + 'static>() {}

fn main() {
    is_plugin::<GreeterPlugin>();
    is_dispatch::<GreeterServer>();
    shared::<dyn Greeter>();
    shared::<GreeterClient>();
    assert_eq!(GreeterServer::SERVICE, "demo.v1.Hello");
    assert_eq!(
        GreeterServer::METHODS,
        ["Greet", "Count", "Reset", "Clone", "_Fingerprint"]
    );
    assert_eq!(GreeterPlugin::FINGERPRINT.len(), 16);
    assert!(GreeterPlugin::host().interface().ends_with("::Greeter"));

    let imp: Arc<dyn Greeter> = Arc::new(English);
    let _ = PluginSet::new()
        .with("host", GreeterPlugin::host())
        .with("new", GreeterPlugin::new(English))
        .with("shared", GreeterPlugin::from_arc(imp.clone()));
    let _ = GreeterServer::new(English);
    let _ = GreeterServer::from_arc(imp);
}
