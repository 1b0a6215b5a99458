//! Out-of-process plugins for Rust, wire-compatible with HashiCorp's go-plugin.
//!
//! A host launches each plugin as a child process, checks go-plugin's handshake, talks gRPC to
//! it over a local socket (with mutual TLS set up automatically) and dispenses typed trait
//! objects. Rust plugins run under Go hosts built on go-plugin, and Rust hosts run Go plugins.
//!
//! - Define an interface with [`plugin_interface`] on a trait.
//! - In the plugin binary, call [`serve`] with a [`ServeConfig`].
//! - In the host, build a [`Client`] from a [`ClientConfig`] and [`Client::dispense`].
//!
//! ```no_run
//! use plugin_runtime::{Client, ClientConfig, HandshakeConfig, PluginSet};
//! # trait Greeter: Send + Sync {}
//! # async fn host(plugins: PluginSet) -> Result<(), plugin_runtime::Error> {
//! let client = Client::new(
//!     ClientConfig::new(HandshakeConfig::new(1, "GREETER_PLUGIN", "hello"))
//!         .command(std::process::Command::new("./greeter-plugin"))
//!         .plugins(plugins),
//! )?;
//! let greeter = client.dispense::<dyn Greeter>("greeter").await?;
//! client.kill().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod client;
mod discover;
pub mod error;
pub mod logging;
mod os;
pub mod plugin;
pub mod secure;
pub mod server;
pub mod tls;
mod transport;

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod proto {
    tonic::include_proto!("plugin");
}

pub use client::{Client, ClientConfig, cleanup_clients, cleanup_started};
pub use discover::discover;
pub use error::{CallError, Error, ServeError};
pub use plugin::{Dispensed, Plugin, PluginSet, ServiceRegistry, VersionedPlugins};
pub use plugin_core as core;
pub use plugin_core::{
    Bincode, Codec, CodecError, HandshakeConfig, HandshakeLine, Network, Protocol, ReattachAddr,
    ReattachConfig, ReattachMap,
};
pub use plugin_macros::plugin_interface;
pub use secure::SecureConfig;
pub use server::{Listen, ServeConfig, ServeTestConfig, serve, serve_mux};
pub use transport::codec::{BoxOutgoing, Outgoing};
pub use transport::connection::GrpcConnection;
pub use transport::dispatch::Dispatch;

/// Implement interfaces with it: `#[plugin_runtime::async_trait] impl MyTrait for MyImpl`.
pub use async_trait::async_trait;
/// For manual TLS configurations.
pub use rustls;
/// For hand-written tonic services and clients.
pub use tonic;
/// A gRPC status: the error of protobuf interfaces.
pub use tonic::{Code, Status};

#[doc(hidden)]
pub mod __private;
