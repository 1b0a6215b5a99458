//! Byte streams between host and plugin, and gRPC on top of them.
//!
//! Everything above this module sees one boxed stream type, whether the socket is a unix socket
//! or TCP, and whether TLS is on. gRPC messages cross it through one codec ([`codec`]) that
//! carries already-encoded bytes, so the same machinery serves protobuf and serde interfaces.

pub(crate) mod authority;
pub(crate) mod channel;
pub(crate) mod codec;
pub(crate) mod io;
pub(crate) mod listener;
pub(crate) mod mux;
pub(crate) mod serve;
