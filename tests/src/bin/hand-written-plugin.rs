//! A plugin serving go-plugin's KV interface through a hand-written tonic service (registered
//! with `ServiceRegistry::add_service`, not `#[plugin_interface]`), for hosts that dispense it
//! with the generated client: on the native transport, its calls must go over gRPC.
//!
//! `Get` answers `hand-written:<key>`; `Put` accepts anything.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use plugin_fixtures::kv::{Empty, GetRequest, GetResponse, PutRequest, handshake};
use plugin_runtime::{
    CallError, Dispensed, GrpcConnection, Plugin, PluginSet, ServeConfig, ServeError,
    ServiceRegistry, Status,
};
use tonic::body::Body;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic_prost::ProstCodec;

/// `proto.KV`, by hand.
#[derive(Clone)]
struct HandKv;

impl NamedService for HandKv {
    const NAME: &'static str = "proto.KV";
}

struct Get;

impl UnaryService<GetRequest> for Get {
    type Response = GetResponse;
    type Future = Ready<Result<tonic::Response<GetResponse>, Status>>;

    fn call(&mut self, request: tonic::Request<GetRequest>) -> Self::Future {
        let key = request.into_inner().key;
        ready(Ok(tonic::Response::new(GetResponse {
            value: format!("hand-written:{key}").into_bytes(),
        })))
    }
}

struct Put;

impl UnaryService<PutRequest> for Put {
    type Response = Empty;
    type Future = Ready<Result<tonic::Response<Empty>, Status>>;

    fn call(&mut self, _: tonic::Request<PutRequest>) -> Self::Future {
        ready(Ok(tonic::Response::new(Empty {})))
    }
}

impl tower::Service<http::Request<Body>> for HandKv {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            Ok(match request.uri().path() {
                "/proto.KV/Get" => {
                    let codec = ProstCodec::<GetResponse, GetRequest>::default();
                    Grpc::new(codec).unary(Get, request).await
                }
                "/proto.KV/Put" => {
                    let codec = ProstCodec::<Empty, PutRequest>::default();
                    Grpc::new(codec).unary(Put, request).await
                }
                other => Status::unimplemented(format!("{other} is not served")).into_http(),
            })
        })
    }
}

/// The registration: the hand-written service only.
struct HandKvPlugin;

impl Plugin for HandKvPlugin {
    fn interface(&self) -> &'static str {
        "proto.KV (hand-written)"
    }

    fn grpc_client(
        &self,
        conn: GrpcConnection,
    ) -> BoxFuture<'static, Result<Dispensed, CallError>> {
        Box::pin(async move { Ok(Dispensed::new(Arc::new(conn))) })
    }

    fn grpc_server(&self, registry: &mut ServiceRegistry) -> Result<(), ServeError> {
        registry.add_service(HandKv);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), ServeError> {
    let config = ServeConfig::new(handshake()).plugins(PluginSet::new().with("kv", HandKvPlugin));
    plugin_runtime::serve(config).await
}
