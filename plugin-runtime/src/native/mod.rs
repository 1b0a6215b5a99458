//! The native transport: this SDK's own protocol between a host and a plugin that are both
//! Rust, on the plugin's socket (TLS inside when on), in place of HTTP/2 and gRPC.
//!
//! A host of this SDK sets [`plugin_core::env::RUST_NATIVE`]; a plugin of this SDK then
//! announces [`plugin_core::Protocol::RustNative`] (unless the negotiated version's set keeps
//! to gRPC) and its server tells the two kinds of connection apart by their first bytes
//! ([`frame::PREFACE`] or HTTP/2's). Everything then travels on one native connection, many
//! calls at once: unary calls, the three shapes of streams (with flow control), cancellation,
//! and go-plugin's own services (the broker's control stream, stdio, shutdown, health), which
//! are [`Dispatch`](crate::dispatch::Dispatch) implementations like the interfaces. Callbacks
//! (`Arc<dyn Trait>` arguments and results) are streams of one more connection, the callbacks'
//! session ([`MUX_PREFACE`], then go-plugin's `MuxBroker` over yamux), each carrying a native
//! session of its own. HTTP/2 is opened only if a hand-written tonic client asks for
//! [`GrpcConnection::channel`](crate::GrpcConnection::channel).
//!
//! go-plugin peers never see any of it: a go-plugin host does not set the variable (and a
//! copy inherited through one names another process), and a go-plugin plugin ignores it.

mod client;
mod flow;
pub(crate) mod frame;
mod server;
mod sniff;
mod writer;

pub(crate) use client::{NativeClient, Services};
pub(crate) use frame::MUX_PREFACE;
pub(crate) use server::{NativeRoutes, sorter};
