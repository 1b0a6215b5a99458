//! The control stream, `plugin.GRPCBroker/StartStream`: the host opens it once on the main
//! connection and the plugin serves it; both directions carry `ConnInfo` messages. When it
//! ends, the broker on either side is closed for good (as go-plugin's).

use std::sync::{Arc, Mutex, Weak};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::{BrokerSetup, GrpcBroker, Shared};
use crate::__private::{decode_prost, prost_body, unknown_method};
use crate::connection::GrpcConnection;
use crate::dispatch::{Dispatch, Requests, Responses, Shape};
use crate::internal::START_STREAM;
use crate::proto::ConnInfo;

/// Messages queued for the peer before they go out.
const QUEUE: usize = 16;

impl GrpcBroker {
    /// Host side: opens the control stream on the plugin's main connection (`conn`, without a
    /// call deadline: the stream lasts as long as the plugin).
    pub(crate) fn host(conn: GrpcConnection, setup: BrokerSetup) -> GrpcBroker {
        let (out, outbound) = mpsc::channel(QUEUE);
        let broker = GrpcBroker::new(out, setup);
        let task = tokio::spawn(run_host_stream(
            conn,
            outbound,
            Arc::downgrade(&broker.shared),
        ));
        if let Ok(mut stream) = broker.shared.stream.lock() {
            *stream = Some(task);
        }
        broker
    }

    /// Plugin side: the broker, and the service the host opens its stream on.
    pub(crate) fn plugin(setup: BrokerSetup) -> (GrpcBroker, BrokerService) {
        let (out, outbound) = mpsc::channel(QUEUE);
        let broker = GrpcBroker::new(out, setup);
        let service = BrokerService {
            broker: broker.clone(),
            outbound: Mutex::new(Some(outbound)),
        };
        (broker, service)
    }
}

async fn run_host_stream(
    conn: GrpcConnection,
    outbound: mpsc::Receiver<ConnInfo>,
    broker: Weak<Shared>,
) {
    let requests = ReceiverStream::new(outbound).map(prost_body);
    match conn
        .bidi_streaming(START_STREAM.path, Box::pin(requests))
        .await
    {
        Ok(mut inbound) => {
            while let Some(Ok(message)) = inbound.next().await {
                let info = match decode_prost::<ConnInfo>(message) {
                    Ok(info) => info,
                    Err(e) => {
                        tracing::warn!(error = %e, "the plugin's broker sent a malformed message; closing the broker");
                        break;
                    }
                };
                match broker.upgrade() {
                    Some(shared) => GrpcBroker { shared }.received(info),
                    None => return,
                }
            }
        }
        // A plugin without a broker (an SDK older than brokers) serves everything else.
        Err(error) => tracing::debug!(%error, "the plugin does not serve the broker"),
    }
    if let Some(shared) = broker.upgrade() {
        GrpcBroker { shared }.close();
    }
}

/// The plugin's `plugin.GRPCBroker` service.
pub(crate) struct BrokerService {
    broker: GrpcBroker,
    /// Taken by the one stream the host opens.
    outbound: Mutex<Option<mpsc::Receiver<ConnInfo>>>,
}

impl BrokerService {
    /// Opens the one control stream: `inbound` feeds the broker, the returned stream carries
    /// what the broker sends until it closes.
    fn open(&self, mut inbound: Requests) -> Result<Responses, Status> {
        let outbound = self.outbound.lock().ok().and_then(|mut o| o.take());
        let Some(outbound) = outbound else {
            return Err(Status::already_exists(
                "the broker's stream is already open: a host opens it once per plugin",
            ));
        };
        let broker = self.broker.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = inbound.next().await {
                match decode_prost::<ConnInfo>(message) {
                    Ok(info) => broker.received(info),
                    Err(e) => {
                        tracing::warn!(error = %e, "the host's broker sent a malformed message; closing the broker");
                        break;
                    }
                }
            }
            tracing::debug!("the host closed the broker's stream");
            broker.close();
        });
        let mut closed = self.broker.shared.closed.subscribe();
        let until_closed = async move {
            let _ = closed.wait_for(|closed| *closed).await;
        };
        let stream = ReceiverStream::new(outbound)
            .map(|info| Ok(prost_body(info)))
            .take_until(until_closed);
        Ok(Box::pin(stream))
    }
}

impl Dispatch for BrokerService {
    const SERVICE: &'static str = START_STREAM.service;
    const METHODS: &'static [&'static str] = &[START_STREAM.name];
    const SHAPES: &'static [Shape] = &[Shape::Bidi];

    fn call_streaming(
        self: Arc<Self>,
        method: usize,
        requests: Requests,
    ) -> BoxFuture<'static, Result<Responses, Status>> {
        let answer = match method {
            0 => self.open(requests),
            other => Err(unknown_method(Self::SERVICE, other)),
        };
        Box::pin(std::future::ready(answer))
    }
}
