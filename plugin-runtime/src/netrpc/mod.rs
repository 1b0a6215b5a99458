//! go-plugin's net/rpc protocol, both sides: a yamux session per connection with a control
//! stream (Go's `net/rpc` with gob), the plugin's raw stdout and stderr, and a [`MuxBroker`]
//! for further streams. Interfaces are served as net/rpc methods on an [`RpcServer`] and
//! called through an [`RpcClient`].

mod client;
pub(crate) mod control;
mod error;
mod mux_broker;
#[cfg(test)]
mod rpc_tests;
mod server;
pub(crate) mod session;
mod wire;

pub use client::RpcClient;
pub use error::NetRpcError;
pub use mux_broker::{MuxBroker, MuxStream};
pub use server::RpcServer;
