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
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]

mod broker;
mod client;
mod connection;
mod discover;
mod dispatch;
mod error;
mod exit;
mod internal;
mod logging;
mod native;
mod netrpc;
mod os;
mod plugin;
mod runner;
mod secure;
mod server;
mod stream;
mod tls;
mod transport;

#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic
)]
mod proto {
    tonic::include_proto!("plugin");
}

pub use broker::{BrokerError, BrokerServer, GrpcBroker};
pub use client::{Client, ClientConfig, cleanup_clients, cleanup_started};
pub use connection::GrpcConnection;
pub use discover::discover;
pub use error::{CallError, Error, ServeError};
pub use exit::PluginExit;
pub use logging::HclogLayer;
pub use netrpc::{MuxBroker, MuxStream, NetRpcError, RpcClient, RpcServer};
pub use plugin::{Dispensed, Plugin, PluginSet, ServiceRegistry, VersionedPlugins};
pub use plugin_core::{
    Bincode, ByteBuf, CORE_PROTOCOL_VERSION, Codec, CodecError, ConfigError, GRPC_HEALTH_SERVICE,
    HandshakeConfig, HandshakeError, HandshakeLine, Negotiation, Network, Protocol, ReattachAddr,
    ReattachConfig, ReattachMap, SecureConfigError, VersionList, env,
};
/// Turns a trait into a plugin interface: a client stub (`<Trait>Client`), a server dispatch
/// (`<Trait>Server`) and a registration (`<Trait>Plugin`). The options, the exact generated
/// items and the compile errors are documented below.
///
/// A whole round trip, with the plugin served in-process (test mode) instead of as a child:
///
/// ```
/// use plugin_runtime::{Client, ClientConfig, HandshakeConfig, PluginSet, ServeConfig, ServeTestConfig};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize, thiserror::Error)]
/// pub enum GreetError {
///     #[error("nobody to greet")]
///     Shy,
///     #[error("transport: {0}")]
///     Transport(String),
/// }
///
/// impl From<plugin_runtime::CallError> for GreetError {
///     fn from(e: plugin_runtime::CallError) -> Self {
///         GreetError::Transport(e.to_string())
///     }
/// }
///
/// #[plugin_runtime::plugin_interface]
/// pub trait Greeter {
///     async fn greet(&self, name: String, times: u32) -> Result<String, GreetError>;
/// }
///
/// struct English;
///
/// #[plugin_runtime::async_trait]
/// impl Greeter for English {
///     async fn greet(&self, name: String, times: u32) -> Result<String, GreetError> {
///         if name.is_empty() {
///             return Err(GreetError::Shy);
///         }
///         Ok(vec![format!("Hello, {name}!"); times as usize].join(" "))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handshake = HandshakeConfig::new(1, "GREETER_PLUGIN", "hello");
///
/// // The plugin side.
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let (test, reattach) = ServeTestConfig::new(async { let _ = stopped.await; });
/// let plugins = PluginSet::new().with("greeter", GreeterPlugin::new(English));
/// let config = ServeConfig::new(handshake.clone()).plugins(plugins).logging(false).test(test);
/// let server = tokio::spawn(plugin_runtime::serve(config));
///
/// // The host side: typed trait objects.
/// let client = Client::new(
///     ClientConfig::new(handshake)
///         .reattach(reattach.await?)
///         .plugins(PluginSet::new().with("greeter", GreeterPlugin::host())),
/// )?;
/// let greeter = client.dispense::<dyn Greeter>("greeter").await?;
/// assert_eq!(greeter.greet("Ada".into(), 2).await?, "Hello, Ada! Hello, Ada!");
/// assert!(matches!(greeter.greet(String::new(), 1).await, Err(GreetError::Shy)));
///
/// client.kill().await; // a test-mode plugin is not killed by its host...
/// let _ = stop.send(()); // ...it stops on its own signal
/// server.await??;
/// # Ok(()) }
/// ```
pub use plugin_macros::plugin_interface;
pub use runner::{AddrTranslator, AttachedRunner, PluginReader, Runner, RunnerError, RunnerOutput};
pub use secure::{ChecksumHash, SecureConfig, Sha256};
pub use server::{Listen, ServeConfig, ServeTestConfig, serve, serve_main, serve_mux};
pub use stream::PluginStream;
pub use tls::{Certificate, TlsError};
pub use transport::channel::{ChannelError, GrpcChannel};
pub use transport::listener::ListenError;

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
