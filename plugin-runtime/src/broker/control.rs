//! The control stream, `plugin.GRPCBroker/StartStream`: the host opens it once on the main
//! connection and the plugin serves it; both directions carry `ConnInfo` messages. When it
//! ends, the broker on either side is closed for good (as go-plugin's).

use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};

use futures::{Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{BrokerSetup, GrpcBroker, Shared};
use crate::proto::ConnInfo;
use crate::proto::grpc_broker_client::GrpcBrokerClient;
use crate::transport::channel::GrpcChannel;

/// Messages queued for the peer before they go out.
const QUEUE: usize = 16;

impl GrpcBroker {
    /// Host side: opens the control stream on the plugin's main connection.
    pub(crate) fn host(channel: GrpcChannel, setup: BrokerSetup) -> GrpcBroker {
        let (out, outbound) = mpsc::channel(QUEUE);
        let broker = GrpcBroker::new(out, setup);
        let task = tokio::spawn(run_host_stream(
            channel,
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
    channel: GrpcChannel,
    outbound: mpsc::Receiver<ConnInfo>,
    broker: Weak<Shared>,
) {
    let mut client = GrpcBrokerClient::new(channel);
    match client.start_stream(ReceiverStream::new(outbound)).await {
        Ok(response) => {
            let mut inbound = response.into_inner();
            while let Ok(Some(info)) = inbound.message().await {
                match broker.upgrade() {
                    Some(shared) => GrpcBroker { shared }.received(info),
                    None => return,
                }
            }
        }
        // A plugin without a broker (an SDK older than brokers) serves everything else.
        Err(status) => tracing::debug!(%status, "the plugin does not serve the broker"),
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

type ConnInfoStream = Pin<Box<dyn Stream<Item = Result<ConnInfo, Status>> + Send>>;

#[tonic::async_trait]
impl crate::proto::grpc_broker_server::GrpcBroker for BrokerService {
    type StartStreamStream = ConnInfoStream;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<ConnInfoStream>, Status> {
        let outbound = self.outbound.lock().ok().and_then(|mut o| o.take());
        let Some(outbound) = outbound else {
            return Err(Status::already_exists(
                "the broker's stream is already open: a host opens it once per plugin",
            ));
        };
        let mut inbound = request.into_inner();
        let broker = self.broker.clone();
        tokio::spawn(async move {
            while let Ok(Some(info)) = inbound.message().await {
                broker.received(info);
            }
            tracing::debug!("the host closed the broker's stream");
            broker.close();
        });
        let mut closed = self.broker.shared.closed.subscribe();
        let until_closed = async move {
            let _ = closed.wait_for(|closed| *closed).await;
        };
        let stream = ReceiverStream::new(outbound)
            .map(Ok)
            .take_until(until_closed);
        Ok(Response::new(Box::pin(stream)))
    }
}
