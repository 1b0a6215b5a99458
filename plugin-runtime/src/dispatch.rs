//! Serving an interface: one generic tonic service routes `/<package>.<Service>/<Method>` to a
//! [`Dispatch`] implementation (written by `#[plugin_interface]`).

use std::convert::Infallible;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt as _, Stream, StreamExt as _};
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;

use crate::broker::GrpcBroker;
use crate::transport::codec::{BoxOutgoing, MessageLimits, RawCodec};

/// How a method's messages flow, as gRPC has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Streams both ways.
    Bidi,
}

/// The requests of a streaming call, as they arrive (one for server streaming).
pub type Requests = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send + 'static>>;
/// The responses of a streaming call, as they are produced (one for client streaming).
pub type Responses = Pin<Box<dyn Stream<Item = Result<BoxOutgoing, Status>> + Send + 'static>>;

/// The server side of one interface: decodes a request, calls the implementation, encodes the
/// reply. Implemented by the code `#[plugin_interface]` generates.
pub trait Dispatch: Send + Sync + 'static {
    /// The gRPC service name, `package.Service`.
    const SERVICE: &'static str;
    /// The method names; a method's index is its id in [`Dispatch::call`].
    const METHODS: &'static [&'static str];
    /// Each method's shape, by index; a method past the end is unary.
    const SHAPES: &'static [Shape] = &[];

    /// Handles one unary call of method `method` with the encoded `request`.
    fn call(
        self: Arc<Self>,
        method: usize,
        request: Bytes,
    ) -> BoxFuture<'static, Result<BoxOutgoing, Status>> {
        drop(request);
        let status = Status::unimplemented(format!(
            "{} has no unary method number {method}",
            Self::SERVICE
        ));
        Box::pin(async move { Err(status) })
    }

    /// Handles one streaming call of method `method`: its requests as they come, its
    /// responses as the implementation produces them. Dropping the responses (the caller went
    /// away) drops the implementation's stream.
    fn call_streaming(
        self: Arc<Self>,
        method: usize,
        requests: Requests,
    ) -> BoxFuture<'static, Result<Responses, Status>> {
        drop(requests);
        let status = Status::unimplemented(format!(
            "{} has no streaming method number {method}",
            Self::SERVICE
        ));
        Box::pin(async move { Err(status) })
    }
}

/// A tower service serving one [`Dispatch`] under its gRPC service name.
pub(crate) struct DispatchService<D> {
    inner: Arc<D>,
    limits: MessageLimits,
    /// The broker of the connection served: `GrpcBroker::current()` inside the calls.
    broker: Option<GrpcBroker>,
}

impl<D> Clone for DispatchService<D> {
    fn clone(&self) -> Self {
        DispatchService {
            inner: self.inner.clone(),
            limits: self.limits,
            broker: self.broker.clone(),
        }
    }
}

impl<D: Dispatch> DispatchService<D> {
    pub(crate) fn new(inner: Arc<D>, limits: MessageLimits, broker: Option<GrpcBroker>) -> Self {
        DispatchService {
            inner,
            limits,
            broker,
        }
    }
}

impl<D: Dispatch> NamedService for DispatchService<D> {
    const NAME: &'static str = D::SERVICE;
}

impl<D: Dispatch> tower::Service<http::Request<Body>> for DispatchService<D> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let method = req
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(D::SERVICE))
            .and_then(|p| p.strip_prefix('/'))
            .and_then(|name| D::METHODS.iter().position(|m| *m == name));
        let Some(method) = method else {
            let status = Status::unimplemented(format!(
                "{} is not a method of {}",
                req.uri().path(),
                D::SERVICE
            ));
            return Box::pin(async move { Ok(status.into_http()) });
        };
        let call = MethodCall::<D> {
            inner: self.inner.clone(),
            method,
            _d: PhantomData,
        };
        let limits = self.limits;
        let shape = D::SHAPES.get(method).copied().unwrap_or(Shape::Unary);
        let served = async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .apply_max_message_size_config(Some(limits.max_decode), Some(limits.max_encode));
            Ok(match shape {
                Shape::Unary => grpc.unary(call, req).await,
                Shape::ServerStreaming => grpc.server_streaming(call, req).await,
                Shape::ClientStreaming => grpc.client_streaming(call, req).await,
                Shape::Bidi => grpc.streaming(call, req).await,
            })
        };
        match &self.broker {
            Some(broker) => Box::pin(broker.scope(served)),
            None => Box::pin(served),
        }
    }
}

struct MethodCall<D> {
    inner: Arc<D>,
    method: usize,
    _d: PhantomData<fn() -> D>,
}

impl<D: Dispatch> MethodCall<D> {
    fn name(&self) -> &'static str {
        method_name::<D>(self.method)
    }

    fn streaming(&self, requests: Requests) -> BoxFuture<'static, Result<Responses, Status>> {
        guarded_streaming(self.inner.clone(), self.method, requests)
    }
}

fn method_name<D: Dispatch>(method: usize) -> &'static str {
    D::METHODS.get(method).copied().unwrap_or("?")
}

/// The implementation's unary call, a panic (in making the call or in running it) turned into
/// the call's error: a panicking implementation fails its own call, not the connection. Both
/// transports serve through it.
pub(crate) fn guarded_unary<D: Dispatch>(
    inner: Arc<D>,
    method: usize,
    request: Bytes,
) -> BoxFuture<'static, Result<BoxOutgoing, Status>> {
    let name = method_name::<D>(method);
    match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(method, request))) {
        Ok(fut) => Box::pin(async move {
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(result) => result,
                Err(panic) => Err(panic_status(D::SERVICE, name, &*panic)),
            }
        }),
        Err(panic) => {
            let status = panic_status(D::SERVICE, name, &*panic);
            Box::pin(async move { Err(status) })
        }
    }
}

/// The implementation's streaming call, its panics (in the call or in its stream) turned into
/// the call's error. Both transports serve through it.
pub(crate) fn guarded_streaming<D: Dispatch>(
    inner: Arc<D>,
    method: usize,
    requests: Requests,
) -> BoxFuture<'static, Result<Responses, Status>> {
    let name = method_name::<D>(method);
    let panicked = move |panic: &(dyn std::any::Any + Send)| panic_status(D::SERVICE, name, panic);
    let fut =
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call_streaming(method, requests)))
        {
            Ok(fut) => fut,
            Err(panic) => {
                let status = panicked(&*panic);
                return Box::pin(async move { Err(status) });
            }
        };
    Box::pin(async move {
        match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(Ok(responses)) => {
                let guarded = AssertUnwindSafe(responses)
                    .catch_unwind()
                    .map(move |item| item.unwrap_or_else(|p| Err(panicked(&*p))));
                Ok(Box::pin(guarded) as Responses)
            }
            Ok(Err(status)) => Err(status),
            Err(panic) => Err(panicked(&*panic)),
        }
    })
}

impl<D: Dispatch> tonic::server::UnaryService<Bytes> for MethodCall<D> {
    type Response = BoxOutgoing;
    type Future = BoxFuture<'static, Result<tonic::Response<BoxOutgoing>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let fut = guarded_unary(self.inner.clone(), self.method, request.into_inner());
        Box::pin(async move { fut.await.map(tonic::Response::new) })
    }
}

impl<D: Dispatch> tonic::server::ServerStreamingService<Bytes> for MethodCall<D> {
    type Response = BoxOutgoing;
    type ResponseStream = Responses;
    type Future = BoxFuture<'static, Result<tonic::Response<Responses>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let one = futures::stream::once(std::future::ready(Ok(request.into_inner())));
        let fut = self.streaming(Box::pin(one));
        Box::pin(async move { fut.await.map(tonic::Response::new) })
    }
}

impl<D: Dispatch> tonic::server::ClientStreamingService<Bytes> for MethodCall<D> {
    type Response = BoxOutgoing;
    type Future = BoxFuture<'static, Result<tonic::Response<BoxOutgoing>, Status>>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
        let name = self.name();
        let fut = self.streaming(Box::pin(request.into_inner()));
        Box::pin(async move {
            let mut responses = fut.await?;
            match responses.next().await {
                Some(response) => response.map(tonic::Response::new),
                None => Err(Status::internal(format!(
                    "{}/{name} ended without a response",
                    D::SERVICE
                ))),
            }
        })
    }
}

impl<D: Dispatch> tonic::server::StreamingService<Bytes> for MethodCall<D> {
    type Response = BoxOutgoing;
    type ResponseStream = Responses;
    type Future = BoxFuture<'static, Result<tonic::Response<Responses>, Status>>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
        let fut = self.streaming(Box::pin(request.into_inner()));
        Box::pin(async move { fut.await.map(tonic::Response::new) })
    }
}

/// The status of a call whose implementation panicked (logged here), on either transport.
pub(crate) fn panic_status(
    service: &str,
    method: &str,
    panic: &(dyn std::any::Any + Send),
) -> Status {
    let what = panic_message(panic);
    tracing::error!(service, method, panic = %what, "plugin method panicked");
    Status::internal(format!(
        "{service}/{method} panicked while serving the call: {what}"
    ))
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
}
