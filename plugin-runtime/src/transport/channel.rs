//! The host's HTTP/2 connection to a plugin, as a tower service that tonic clients accept.
//!
//! tonic's own `Channel` puts a buffer task between callers and the connection (and reconnects,
//! which a plugin connection has no use for: a dropped connection means a dead plugin). Here a
//! request goes straight from the caller's task to the connection's: one task hop fewer per
//! call, measurably faster for small calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::uri::{Authority, Scheme};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tonic::body::Body;

use super::io::BoxedIo;

/// HTTP/2 flow control and framing for a local peer: windows large enough that a message of a
/// few MiB never waits for a window update, frames large enough that it is a few frames, not
/// hundreds (the defaults, 64 KiB windows and 16 KiB frames, are tuned for the internet).
pub(crate) const STREAM_WINDOW: u32 = 8 << 20;
pub(crate) const CONNECTION_WINDOW: u32 = 16 << 20;
pub(crate) const MAX_FRAME: u32 = 1 << 20;

/// One HTTP/2 connection to a plugin; clone it freely. Pass it to any tonic-generated client
/// (`MyServiceClient::new(conn.channel())`), as go-plugin passes its `*grpc.ClientConn`.
///
/// ```no_run
/// # async fn run(client: plugin_runtime::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let channel = client.connection().await?.channel();
/// let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
/// let request = tonic_health::pb::HealthCheckRequest { service: "plugin".into() };
/// health.check(request).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GrpcChannel {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    /// An HTTP/2 connection, up.
    Ready(SendRequest<Body>),
    /// Connected on the first request: a plugin spoken to over the native transport opens
    /// HTTP/2 only for a hand-written tonic client.
    Lazy(Arc<Lazy>),
    /// No HTTP/2 here, and why.
    Unavailable(&'static str),
}

/// A connection opened on first use, once.
struct Lazy {
    connect: Connect,
    connected: tokio::sync::OnceCell<Result<SendRequest<Body>, String>>,
}

/// How a lazy channel connects.
pub(crate) type Connect =
    Box<dyn Fn() -> BoxFuture<'static, std::io::Result<GrpcChannel>> + Send + Sync>;

/// What a request on a channel fails with.
pub type ChannelError = Box<dyn std::error::Error + Send + Sync>;

impl std::fmt::Debug for GrpcChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.inner {
            Inner::Ready(send) if send.is_closed() => "closed",
            Inner::Ready(_) => "open",
            Inner::Lazy(lazy) if lazy.connected.initialized() => "connected on first use",
            Inner::Lazy(_) => "not yet connected",
            Inner::Unavailable(_) => "unavailable",
        };
        f.debug_struct("GrpcChannel")
            .field("state", &state)
            .finish()
    }
}

impl GrpcChannel {
    /// Runs the HTTP/2 handshake over `io` and drives the connection in a task.
    pub(crate) async fn handshake(io: BoxedIo) -> Result<GrpcChannel, hyper::Error> {
        let (send, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            .handshake(TokioIo::new(io))
            .await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "plugin connection ended");
            }
        });
        Ok(GrpcChannel {
            inner: Inner::Ready(send),
        })
    }

    /// A channel that connects with `connect` when first used.
    pub(crate) fn lazy(connect: Connect) -> GrpcChannel {
        GrpcChannel {
            inner: Inner::Lazy(Arc::new(Lazy {
                connect,
                connected: tokio::sync::OnceCell::new(),
            })),
        }
    }

    /// A channel every request on which fails, saying `why`.
    pub(crate) fn unavailable(why: &'static str) -> GrpcChannel {
        GrpcChannel {
            inner: Inner::Unavailable(why),
        }
    }
}

/// The response future of [`GrpcChannel`].
pub(crate) type ResponseFuture = Pin<
    Box<dyn Future<Output = Result<http::Response<hyper::body::Incoming>, ChannelError>> + Send>,
>;

impl tower::Service<http::Request<Body>> for GrpcChannel {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = ChannelError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match &mut self.inner {
            Inner::Ready(send) => send.poll_ready(cx).map_err(Into::into),
            // Checked when the request is sent.
            Inner::Lazy(_) | Inner::Unavailable(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // HTTP/2 needs :scheme and :authority; tonic clients made with `new` leave them out.
        if request.uri().scheme().is_none() {
            let mut parts = request.uri().clone().into_parts();
            parts.scheme = Some(Scheme::HTTP);
            parts.authority = Some(Authority::from_static("localhost"));
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
        match &mut self.inner {
            Inner::Ready(send) => {
                let sent = send.send_request(request);
                Box::pin(async move { sent.await.map_err(Into::into) })
            }
            Inner::Lazy(lazy) => {
                let lazy = lazy.clone();
                Box::pin(async move {
                    let connected = lazy
                        .connected
                        .get_or_init(|| async {
                            match (lazy.connect)().await {
                                Ok(GrpcChannel {
                                    inner: Inner::Ready(send),
                                }) => Ok(send),
                                Ok(_) => Err("connecting gave no HTTP/2 connection".to_string()),
                                Err(e) => Err(format!("connecting to the plugin for gRPC: {e}")),
                            }
                        })
                        .await;
                    let mut send = connected.clone().map_err(ChannelError::from)?;
                    send.ready().await?;
                    Ok(send.send_request(request).await?)
                })
            }
            Inner::Unavailable(why) => {
                let why = *why;
                Box::pin(async move { Err(why.into()) })
            }
        }
    }
}
