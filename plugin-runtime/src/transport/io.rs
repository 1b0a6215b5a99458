//! One stream type for unix sockets, TCP and TLS over either.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use plugin_core::Network;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use super::channel::GrpcChannel;
use crate::tls::ClientTls;

/// `AsyncWrite` for a wrapper that passes every write to its field `$io` untouched (the
/// wrappers of the transport only look at what they read); `$param` names a generic stream.
macro_rules! forward_writes {
    ($wrapper:ty, $io:tt $(, $param:ident)?) => {
        impl$(<$param: tokio::io::AsyncWrite + Unpin>)? tokio::io::AsyncWrite for $wrapper {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.$io).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.$io).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.$io.is_write_vectored()
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$io).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$io).poll_shutdown(cx)
            }
        }
    };
}
pub(crate) use forward_writes;

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connected stream, whatever its kind.
pub(crate) struct BoxedIo(Box<dyn Io>);

impl BoxedIo {
    pub(crate) fn new<T: AsyncRead + AsyncWrite + Send + Unpin + 'static>(io: T) -> Self {
        BoxedIo(Box::new(io))
    }
}

impl AsyncRead for BoxedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

forward_writes!(BoxedIo, 0);

impl tonic::transport::server::Connected for BoxedIo {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// `io` with the bytes already read from it (to tell what it speaks) read again first.
pub(crate) struct Prefixed {
    prefix: Bytes,
    io: BoxedIo,
}

impl Prefixed {
    pub(crate) fn boxed(prefix: &[u8], io: BoxedIo) -> BoxedIo {
        BoxedIo::new(Prefixed {
            prefix: Bytes::copy_from_slice(prefix),
            io,
        })
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

forward_writes!(Prefixed, io);

/// Where a plugin listens: the network and address of its handshake line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Address {
    pub(crate) network: Network,
    pub(crate) address: String,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.network, self.address)
    }
}

/// Opens a raw stream to `addr` (no TLS).
pub(crate) async fn dial_raw(addr: &Address) -> io::Result<BoxedIo> {
    match addr.network {
        Network::Unix => Ok(BoxedIo::new(UnixStream::connect(&addr.address).await?)),
        Network::Tcp => {
            let stream = TcpStream::connect(&addr.address).await?;
            stream.set_nodelay(true)?;
            Ok(BoxedIo::new(stream))
        }
    }
}

/// `io` with TLS over it (the client's side) when `tls` is set; as it is without.
pub(crate) async fn secured(io: BoxedIo, tls: Option<&ClientTls>) -> io::Result<BoxedIo> {
    match tls {
        None => Ok(io),
        Some(tls) => Ok(BoxedIo::new(tls.connect(io).await?)),
    }
}

/// A connection to `addr`, TLS first when `tls` is set: what every protocol a host or a
/// broker dials (gRPC, native, net/rpc, the callbacks' session) starts from.
pub(crate) async fn dial_secured(addr: &Address, tls: Option<&ClientTls>) -> io::Result<BoxedIo> {
    secured(dial_raw(addr).await?, tls).await
}

/// A gRPC channel to `addr`, connected (with TLS when `tls` is set) and HTTP/2-handshaken.
pub(crate) async fn connect_channel(
    addr: Address,
    tls: Option<Arc<ClientTls>>,
) -> io::Result<GrpcChannel> {
    channel_over(dial_raw(&addr).await?, tls.as_deref()).await
}

/// A gRPC channel over a connected stream (a multiplexed one, say): TLS first when `tls` is set.
pub(crate) async fn channel_over(io: BoxedIo, tls: Option<&ClientTls>) -> io::Result<GrpcChannel> {
    let io = secured(io, tls).await?;
    GrpcChannel::handshake(io).await.map_err(io::Error::other)
}

/// `connecting`, or a `TimedOut` error once `limit` has passed.
pub(crate) async fn within<T>(
    limit: std::time::Duration,
    connecting: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(limit, connecting)
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection after {limit:?}"),
            ))
        })
}
