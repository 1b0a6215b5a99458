//! go-plugin's own services (the controller, stdio, the broker's control stream, health), by
//! name: one place for their paths, which both transports serve and the host calls. Each is a
//! [`Dispatch`](crate::dispatch::Dispatch) like an interface, so it travels on the native
//! transport as it does on gRPC.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use tonic::Status;

use crate::__private::{decode_prost, prost_body};
use crate::dispatch::Dispatch;
use crate::proto::{grpc_broker_server, grpc_controller_server, grpc_stdio_server};
use crate::transport::codec::BoxOutgoing;

/// One method of go-plugin's services.
pub(crate) struct Method {
    /// `package.Service`.
    pub(crate) service: &'static str,
    /// The method's name.
    pub(crate) name: &'static str,
    /// `/package.Service/Method`.
    pub(crate) path: &'static str,
}

/// `plugin.GRPCController/Shutdown`: the host asks the plugin to exit.
pub(crate) const SHUTDOWN: Method = Method {
    service: grpc_controller_server::SERVICE_NAME,
    name: "Shutdown",
    path: "/plugin.GRPCController/Shutdown",
};

/// `plugin.GRPCStdio/StreamStdio`: the plugin's stdout and stderr, to the host.
pub(crate) const STREAM_STDIO: Method = Method {
    service: grpc_stdio_server::SERVICE_NAME,
    name: "StreamStdio",
    path: "/plugin.GRPCStdio/StreamStdio",
};

/// `plugin.GRPCBroker/StartStream`: the broker's control stream.
pub(crate) const START_STREAM: Method = Method {
    service: grpc_broker_server::SERVICE_NAME,
    name: "StartStream",
    path: "/plugin.GRPCBroker/StartStream",
};

/// `grpc.health.v1.Health/Check`: the host's ping.
pub(crate) const HEALTH_CHECK: Method = Method {
    service: "grpc.health.v1.Health",
    name: "Check",
    path: "/grpc.health.v1.Health/Check",
};

/// The health service on the native transport (gRPC has tonic-health's, with `Watch`): the
/// plugin serves while it runs, under go-plugin's service name and the empty one.
pub(crate) struct Health;

impl Dispatch for Health {
    const SERVICE: &'static str = HEALTH_CHECK.service;
    const METHODS: &'static [&'static str] = &[HEALTH_CHECK.name];

    fn call(
        self: Arc<Self>,
        method: usize,
        request: Bytes,
    ) -> BoxFuture<'static, Result<BoxOutgoing, Status>> {
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
        let answer = match (method, decode_prost::<HealthCheckRequest>(request)) {
            (0, Ok(request))
                if request.service.is_empty()
                    || request.service == plugin_core::GRPC_HEALTH_SERVICE =>
            {
                Ok(prost_body(HealthCheckResponse {
                    status: ServingStatus::Serving as i32,
                }))
            }
            (0, Ok(request)) => Err(Status::not_found(format!(
                "no health status for service {:?}",
                request.service
            ))),
            (0, Err(e)) => Err(crate::__private::bad_request(e)),
            (other, _) => Err(crate::__private::unknown_method(Self::SERVICE, other)),
        };
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_is_its_service_and_name() {
        for method in [SHUTDOWN, STREAM_STDIO, START_STREAM, HEALTH_CHECK] {
            assert_eq!(method.path, format!("/{}/{}", method.service, method.name));
        }
    }
}
