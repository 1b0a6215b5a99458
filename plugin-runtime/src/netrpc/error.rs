//! What can go wrong on a net/rpc connection.

use plugin_core::gob::GobError;

use crate::exit::PluginExit;

/// A net/rpc call, a MuxBroker stream or a net/rpc session failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetRpcError {
    /// The peer's method returned an error; net/rpc carries only its text.
    #[error("{0}")]
    Remote(String),
    /// The plugin is gone (exited, crashed or killed) before or during the call.
    #[error("plugin {plugin} {exit}: {method} cannot be called")]
    PluginExited {
        /// The plugin's name.
        plugin: String,
        /// The method.
        method: String,
        /// How it ended.
        exit: PluginExit,
    },
    /// The connection closed, or failed, before the answer came (Go's `rpc.ErrShutdown`).
    #[error(
        "connection to {peer} is shut down ({reason}); {method} was not answered: the peer \
         closed the connection or exited, start it again for new calls"
    )]
    Shutdown {
        /// Who the connection is to.
        peer: String,
        /// The method.
        method: String,
        /// Why the connection ended.
        reason: String,
    },
    /// The arguments could not be gob-encoded, or the reply could not be decoded into the
    /// Rust type (both sides must use gob-compatible types).
    #[error("{method}: the value could not cross as gob")]
    Gob {
        /// The method.
        method: String,
        /// The codec's error.
        #[source]
        source: GobError,
    },
    /// Writing to or reading from a stream failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A MuxBroker id was not dialled by the peer within 5 s (go-plugin's wait).
    #[error(
        "timeout waiting for accept: the peer did not dial MuxBroker id {id} within 5 s; dial \
         the id the other side reserved with next_id, and accept before the peer gives up"
    )]
    AcceptTimeout {
        /// The id.
        id: u32,
    },
    /// The peer answered a MuxBroker dial with another id.
    #[error("bad ack: {got} (expected {expected}); both sides must speak go-plugin's MuxBroker")]
    BadAck {
        /// The id acknowledged.
        got: u32,
        /// The id dialled.
        expected: u32,
    },
    /// The yamux session is over: nothing can be dialled or accepted on it.
    #[error("the net/rpc session with {peer} has ended; start the plugin again")]
    SessionEnded {
        /// Who the session was with.
        peer: String,
    },
    /// An interface has no net/rpc implementation.
    #[error(
        "interface {interface} cannot be {role} over net/rpc: it has no net/rpc implementation; \
         give #[plugin_interface] a netrpc option, or serve this version over gRPC"
    )]
    Unsupported {
        /// The interface.
        interface: &'static str,
        /// "served" or "dispensed".
        role: &'static str,
    },
}

impl NetRpcError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        NetRpcError::Io {
            context: context.into(),
            source,
        }
    }
}
