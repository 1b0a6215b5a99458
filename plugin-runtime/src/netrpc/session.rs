//! The net/rpc session: one yamux session per connection (TLS, when on, is around it). The
//! host is yamux's client and opens three streams in order: control (net/rpc), stdout and
//! stderr (raw bytes, plugin to host); every later stream belongs to the MuxBroker.

use std::io;

use tokio::io::AsyncWriteExt as _;

use super::{MuxBroker, RpcClient};
use crate::exit::ExitWatch;
use crate::transport::io::BoxedIo;
use crate::transport::mux::{Mode, Mux};

/// The host's end of a session.
pub(crate) struct HostSession {
    /// The `Control` and `Dispenser` services.
    pub(crate) control: RpcClient,
    pub(crate) broker: MuxBroker,
    pub(crate) stdout: BoxedIo,
    pub(crate) stderr: BoxedIo,
}

/// Starts the session over `io` (already through TLS) and opens its three streams.
pub(crate) async fn open_host(
    io: BoxedIo,
    plugin: &str,
    exit: ExitWatch,
) -> io::Result<HostSession> {
    let (session, inbound) = Mux::start(io, Mode::Client);
    // yamux opens a stream lazily, with its first frame: an empty write sends that frame now,
    // so the plugin accepts the three streams in this order.
    let mut streams = Vec::with_capacity(3);
    for _ in 0..3 {
        let mut stream = session.open().await?;
        let _empty: usize = stream.write(&[]).await?;
        streams.push(stream);
    }
    let mut streams = streams.into_iter();
    let (Some(control), Some(stdout), Some(stderr)) =
        (streams.next(), streams.next(), streams.next())
    else {
        return Err(io::Error::other(
            "the session's streams could not be opened",
        ));
    };
    let broker = MuxBroker::start(session, inbound, plugin);
    Ok(HostSession {
        control: RpcClient::new(control, plugin, Some(exit)),
        broker,
        stdout,
        stderr,
    })
}

/// The plugin's end of a session.
pub(crate) struct PluginSession {
    pub(crate) control: BoxedIo,
    pub(crate) stdout: BoxedIo,
    pub(crate) stderr: BoxedIo,
    pub(crate) broker: MuxBroker,
}

/// Starts the session over `io` (already through TLS) and accepts the host's three streams;
/// `None` when the host goes away first.
pub(crate) async fn accept_plugin(io: BoxedIo) -> Option<PluginSession> {
    let (session, mut inbound) = Mux::start(io, Mode::Server);
    let control = inbound.recv().await?;
    let stdout = inbound.recv().await?;
    let stderr = inbound.recv().await?;
    Some(PluginSession {
        control,
        stdout,
        stderr,
        broker: MuxBroker::start(session, inbound, "host"),
    })
}
