//! The Rust plugin of the benchmarks: an in-memory key-value store served twice, as `proto.KV`
//! (protobuf, go-plugin's KV example, plugin name `kv`) and as the serde interface
//! `plugin_bench::Store` (plugin name `store`), both views sharing one map; and the far end of
//! the callback round trip, `bench.Caller` (plugin name `caller`): `Setup` dials the host's
//! `bench.Callback` through the gRPC broker, once, and each `Call` echoes its payload through it;
//! and the far end of the stream throughput, `bench.Transfer` (plugin name `transfer`):
//! `Download` streams the items asked for, `Upload` checks and counts the host's; and the far
//! end of the callback round trip as `#[plugin_interface]` callbacks make it, the serde
//! `plugin_bench::interface::Relay` (plugin name `relay`), whose callback is an
//! `Arc<dyn Echo>` argument: passed with every `relay`, or kept from one `setup` for every `call`.
//!
//! `BENCH_PLUGIN_SEED=key=value` stores one value before serving, so that freshly started
//! plugins can answer a `Get` at once (the start-up measurements time spawn to first `Get`).
//!
//! The plugin runs on tokio's default multi-thread runtime, as `#[tokio::main]` plugins do;
//! `BENCH_PLUGIN_RUNTIME=current_thread` runs it on one thread instead (for experiments with
//! `plugin-bench hot-path`).

use std::error::Error;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use plugin_bench::interface::{
    CALLBACK_PLUGIN, CallReply, CallRequest, Callback, CallbackPlugin, Caller, CallerPlugin, Chunk,
    DownloadRequest, Echo, EchoRequest, PROTOBUF_PLUGIN, RELAY_PLUGIN, RUNTIME_ENV, Relay,
    RelayPlugin, SERDE_PLUGIN, SetupReply, SetupRequest, StoreError, StorePlugin, TRANSFER_PLUGIN,
    Transfer, TransferPlugin, UploadReply, payload,
};
use plugin_bench::memory::Memory;
use plugin_fixtures::kv::{KvPlugin, handshake};
use plugin_runtime::{ByteBuf, GrpcBroker, PluginSet, PluginStream, ServeConfig, Status};

/// `bench.Caller`: calls back the host's `bench.Callback`, dialled by the last `Setup`.
#[derive(Default)]
struct Echoer {
    callback: RwLock<Option<Arc<dyn Callback>>>,
}

#[plugin_runtime::async_trait]
impl Caller for Echoer {
    async fn setup(&self, request: SetupRequest) -> Result<SetupReply, Status> {
        let id = request.callback_id;
        let broker = GrpcBroker::current()
            .ok_or_else(|| Status::failed_precondition("this call came without a gRPC broker"))?;
        // go-plugin sends a brokered server's address once: one dial per id.
        let callback = broker
            .dispense::<dyn Callback>(id, CallbackPlugin::host())
            .await
            .map_err(|e| {
                Status::unavailable(format!("dialing the host's Callback (broker id {id}): {e}"))
            })?;
        *self
            .callback
            .write()
            .map_err(|_| Status::internal("the Callback's lock is poisoned"))? = Some(callback);
        Ok(SetupReply {})
    }

    async fn call(&self, request: CallRequest) -> Result<CallReply, Status> {
        let callback = self
            .callback
            .read()
            .map_err(|_| Status::internal("the Callback's lock is poisoned"))?
            .clone()
            .ok_or_else(|| Status::failed_precondition("Call before Setup: no Callback to call"))?;
        let echo = callback
            .echo(EchoRequest {
                payload: request.payload,
            })
            .await?;
        Ok(CallReply {
            payload: echo.payload,
        })
    }
}

/// `Relay`: calls back the host's `Echo`, passed in the call or kept from the last `setup`.
#[derive(Default)]
struct Relayer {
    kept: RwLock<Option<Arc<dyn Echo>>>,
}

#[plugin_runtime::async_trait]
impl Relay for Relayer {
    async fn relay(&self, echo: Arc<dyn Echo>, payload: ByteBuf) -> Result<ByteBuf, StoreError> {
        echo.echo(payload).await
    }

    async fn setup(&self, echo: Arc<dyn Echo>) -> Result<(), StoreError> {
        *self
            .kept
            .write()
            .map_err(|_| StoreError::Call("the kept Echo's lock is poisoned".into()))? = Some(echo);
        Ok(())
    }

    async fn call(&self, payload: ByteBuf) -> Result<ByteBuf, StoreError> {
        let echo = self
            .kept
            .read()
            .map_err(|_| StoreError::Call("the kept Echo's lock is poisoned".into()))?
            .clone()
            .ok_or_else(|| StoreError::Call("call before setup: no Echo to call".into()))?;
        echo.echo(payload).await
    }
}

/// `bench.Transfer`: streams the payload, checks what comes in.
struct Streams;

#[plugin_runtime::async_trait]
impl Transfer for Streams {
    async fn download(
        &self,
        request: DownloadRequest,
    ) -> Result<PluginStream<Chunk, Status>, Status> {
        // One buffer, shared by every item (as the Go plugin sends one message again and again).
        let data = bytes::Bytes::from(payload(request.size as usize));
        Ok(Box::pin(futures::stream::iter(
            (0..request.items).map(move |_| Ok(Chunk { data: data.clone() })),
        )))
    }

    async fn upload(&self, mut chunks: PluginStream<Chunk, Status>) -> Result<UploadReply, Status> {
        let mut reply = UploadReply::default();
        let mut expected = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let data = chunk?.data;
            if data.len() != expected.len() {
                expected = payload(data.len());
            }
            if data != expected {
                return Err(Status::invalid_argument(format!(
                    "item {}: its bytes are not the payload",
                    reply.items
                )));
            }
            reply.items += 1;
            reply.bytes += data.len() as u64;
        }
        Ok(reply)
    }
}

fn main() -> ExitCode {
    let memory = Memory::seeded();
    let plugins = PluginSet::new()
        .with(PROTOBUF_PLUGIN, KvPlugin::new(memory.clone()))
        .with(SERDE_PLUGIN, StorePlugin::new(memory.clone()))
        .with(CALLBACK_PLUGIN, CallerPlugin::new(Echoer::default()))
        .with(TRANSFER_PLUGIN, TransferPlugin::new(Streams))
        .with(RELAY_PLUGIN, RelayPlugin::new(Relayer::default()));
    let config = ServeConfig::new(handshake()).plugins(plugins);
    if std::env::var(RUNTIME_ENV).as_deref() != Ok("current_thread") {
        // What a plugin's `main` is meant to be.
        return plugin_runtime::serve_main(config);
    }
    let served = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Box::<dyn Error>::from)
        .and_then(|runtime| Ok(runtime.block_on(plugin_runtime::serve(config))?));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-plugin: {e}");
            ExitCode::FAILURE
        }
    }
}
