//! `plugin.GRPCController/Shutdown`: the host asks the plugin to exit.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::watch;
use tonic::Status;

use crate::__private::{prost_body, unknown_method};
use crate::dispatch::Dispatch;
use crate::internal::SHUTDOWN;
use crate::proto::Empty;
use crate::transport::codec::BoxOutgoing;

pub(crate) struct Controller {
    pub(crate) shutdown: watch::Sender<bool>,
}

impl Dispatch for Controller {
    const SERVICE: &'static str = SHUTDOWN.service;
    const METHODS: &'static [&'static str] = &[SHUTDOWN.name];

    fn call(
        self: Arc<Self>,
        method: usize,
        _request: Bytes,
    ) -> BoxFuture<'static, Result<BoxOutgoing, Status>> {
        let answer = if method == 0 {
            tracing::debug!("shutdown requested by the host");
            let _ = self.shutdown.send(true);
            Ok(prost_body(Empty {}))
        } else {
            Err(unknown_method(Self::SERVICE, method))
        };
        Box::pin(std::future::ready(answer))
    }
}
