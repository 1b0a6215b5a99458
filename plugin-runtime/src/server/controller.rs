//! `plugin.GRPCController/Shutdown`: the host asks the plugin to exit.

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::proto::Empty;
use crate::proto::grpc_controller_server::GrpcController;

pub(crate) struct Controller {
    pub(crate) shutdown: watch::Sender<bool>,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("shutdown requested by the host");
        let _ = self.shutdown.send(true);
        Ok(Response::new(Empty {}))
    }
}
