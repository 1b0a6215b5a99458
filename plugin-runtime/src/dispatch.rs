//! Serving an interface: one generic tonic service routes `/<package>.<Service>/<Method>` to a
//! [`Dispatch`] implementation (written by `#[plugin_interface]`).

use std::convert::Infallible;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;

use crate::broker::GrpcBroker;
use crate::transport::codec::{BoxOutgoing, MessageLimits, RawCodec};

/// The server side of one interface: decodes a request, calls the implementation, encodes the
/// reply. Implemented by the code `#[plugin_interface]` generates.
pub trait Dispatch: Send + Sync + 'static {
    /// The gRPC service name, `package.Service`.
    const SERVICE: &'static str;
    /// The method names; a method's index is its id in [`Dispatch::call`].
    const METHODS: &'static [&'static str];

    /// Handles one unary call of method `method` with the encoded `request`.
    fn call(
        self: Arc<Self>,
        method: usize,
        request: Bytes,
    ) -> BoxFuture<'static, Result<BoxOutgoing, Status>>;
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
        let served = async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .apply_max_message_size_config(Some(limits.max_decode), Some(limits.max_encode));
            Ok(grpc.unary(call, req).await)
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

impl<D: Dispatch> tonic::server::UnaryService<Bytes> for MethodCall<D> {
    type Response = BoxOutgoing;
    type Future = BoxFuture<'static, Result<tonic::Response<BoxOutgoing>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let name = D::METHODS[self.method];
        let fut = self.inner.clone().call(self.method, request.into_inner());
        Box::pin(async move {
            // A panicking implementation fails its own call, not the connection.
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(result) => result.map(tonic::Response::new),
                Err(panic) => {
                    let what = panic_message(&*panic);
                    tracing::error!(service = D::SERVICE, method = name, panic = %what, "plugin method panicked");
                    Err(Status::internal(format!(
                        "{}/{name} panicked while serving the call: {what}",
                        D::SERVICE
                    )))
                }
            }
        })
    }
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
