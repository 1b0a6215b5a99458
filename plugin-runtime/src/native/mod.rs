//! The native transport: this SDK's own lane for unary calls between a host and a plugin that
//! are both Rust, beside the gRPC connection on the same socket (TLS inside when on).
//!
//! A host of this SDK sets [`plugin_core::env::RUST_NATIVE`]; a plugin of this SDK then
//! announces [`plugin_core::Protocol::RustNative`] and its server tells the two kinds of
//! connection apart by their first bytes ([`frame::PREFACE`] or HTTP/2's). The host keeps its
//! gRPC connection for everything else (streams, the broker and callbacks, stdio, shutdown,
//! health) and sends unary calls over one native connection, many at once.

mod client;
pub(crate) mod frame;
mod server;
mod sniff;
mod writer;

pub(crate) use client::NativeClient;
pub(crate) use server::{NativeRoutes, sorter};
