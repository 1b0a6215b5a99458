//! Measurements with the Rust host (this process, through `plugin_runtime::Client`), against
//! any plugin binary speaking `proto.KV` (our `bench-plugin` or go-plugin's `go-kv-plugin`) or
//! `bench.Caller` (`bench-plugin` or `go-bench-callback-plugin`) or `bench.Transfer`
//! (`bench-plugin` or `go-bench-stream-plugin`), or the Rust-only `Relay` (`bench-plugin`).
//!
//! Every client is killed before a measurement returns, whatever happened (the plugin gets its
//! graceful `Shutdown`, then SIGKILL of its process group; the runtime reaps it).

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use plugin_fixtures::kv::{GetRequest, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{BrokerServer, Client, ClientConfig, PluginSet, Protocol, Status};

use futures::StreamExt;

use crate::interface::{
    BENCH_KEY, CALLBACK_PLUGIN, CallRequest, Callback, CallbackPlugin, Caller, CallerPlugin, Chunk,
    DownloadRequest, Echo, EchoReply, EchoRequest, PROTOBUF_PLUGIN, RELAY_PLUGIN, Relay,
    RelayPlugin, SERDE_PLUGIN, STARTUP_KEY, STARTUP_VALUE, SetupRequest, Store, StoreError,
    StorePlugin, TRANSFER_PLUGIN, Transfer, TransferPlugin, payload,
};
use crate::plan::StreamPlan;
use crate::results::{CallbackArg, Direction};
use crate::stats::Summary;

/// How to launch one plugin binary.
#[derive(Debug, Clone)]
pub struct PluginCommand {
    /// The executable.
    pub program: PathBuf,
    /// Extra environment variables.
    pub envs: Vec<(String, String)>,
    /// The working directory (inherited when `None`).
    pub dir: Option<PathBuf>,
    /// Whether the host asks for the native transport (off: the rows measure gRPC).
    pub native: bool,
}

impl PluginCommand {
    /// A plugin run as `program`, with no extra environment.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        PluginCommand {
            program: program.into(),
            envs: Vec::new(),
            dir: None,
            native: false,
        }
    }

    /// The same plugin, its unary calls on the native transport when `on`.
    pub fn native(mut self, on: bool) -> Self {
        self.native = on;
        self
    }

    /// The same plugin with `key=value` added to its environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// The same plugin running in `dir`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd
    }
}

/// The plugin interface a measurement calls through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// `proto.KV` `Get`, protobuf messages (`plugin_fixtures::kv`).
    Protobuf,
    /// [`Store::get`], bincode through serde (`#[plugin_interface]`).
    Serde,
    /// [`Caller::call`] (protobuf), which the plugin answers by calling back the host's
    /// [`Callback`], served through the broker and dialled by the plugin once, beforehand.
    Callback,
    /// The serde [`Relay`], which the plugin answers by calling back the host's [`Echo`], an
    /// `Arc<dyn Echo>` argument: of [`Relay::setup`], once, beforehand, and kept
    /// ([`CallbackArg::Kept`], each call a [`Relay::call`]), or of every [`Relay::relay`]
    /// ([`CallbackArg::PerCall`]).
    CallbackArg(CallbackArg),
}

/// The host's [`Callback`] and [`Echo`]: the payload, unchanged.
struct Mirror;

#[plugin_runtime::async_trait]
impl Callback for Mirror {
    async fn echo(&self, request: EchoRequest) -> Result<EchoReply, Status> {
        Ok(EchoReply {
            payload: request.payload,
        })
    }
}

#[plugin_runtime::async_trait]
impl Echo for Mirror {
    async fn echo(
        &self,
        payload: plugin_runtime::ByteBuf,
    ) -> Result<plugin_runtime::ByteBuf, StoreError> {
        Ok(payload)
    }
}

/// A dispensed client of any interface.
#[derive(Clone)]
enum Dispensed {
    Protobuf(Arc<dyn Kv>),
    Serde(Arc<dyn Store>),
    /// The plugin's [`Caller`], set up with the host's [`Callback`], served as long as this lives.
    Callback {
        caller: Arc<dyn Caller>,
        _server: Arc<BrokerServer>,
    },
    /// The plugin's [`Relay`] and the host's [`Echo`]: passed with every call (`per_call`), or
    /// given to [`Relay::setup`] already and kept by the plugin.
    Relay {
        relay: Arc<dyn Relay>,
        echo: Arc<dyn Echo>,
        per_call: bool,
    },
}

impl Dispensed {
    async fn dispense(client: &Client, interface: Interface) -> Result<Dispensed, String> {
        match interface {
            Interface::Protobuf => client
                .dispense::<dyn Kv>(PROTOBUF_PLUGIN)
                .await
                .map(Dispensed::Protobuf)
                .map_err(|e| format!("dispensing {PROTOBUF_PLUGIN}: {e}")),
            Interface::Serde => client
                .dispense::<dyn Store>(SERDE_PLUGIN)
                .await
                .map(Dispensed::Serde)
                .map_err(|e| format!("dispensing {SERDE_PLUGIN}: {e}")),
            Interface::Callback => {
                let caller = client
                    .dispense::<dyn Caller>(CALLBACK_PLUGIN)
                    .await
                    .map_err(|e| format!("dispensing {CALLBACK_PLUGIN}: {e}"))?;
                let broker = client.broker().await.map_err(|e| e.to_string())?;
                let id = broker.next_id();
                let server = broker
                    .accept_and_serve(id, CallbackPlugin::new(Mirror))
                    .await
                    .map_err(|e| format!("serving the Callback: {e}"))?;
                caller
                    .setup(SetupRequest { callback_id: id })
                    .await
                    .map_err(|s| format!("Setup: {s}"))?;
                Ok(Dispensed::Callback {
                    caller,
                    _server: Arc::new(server),
                })
            }
            Interface::CallbackArg(arg) => {
                let relay = client
                    .dispense::<dyn Relay>(RELAY_PLUGIN)
                    .await
                    .map_err(|e| format!("dispensing {RELAY_PLUGIN}: {e}"))?;
                let echo: Arc<dyn Echo> = Arc::new(Mirror);
                if arg == CallbackArg::Kept {
                    relay
                        .setup(echo.clone())
                        .await
                        .map_err(|e| format!("setup: {e}"))?;
                }
                Ok(Dispensed::Relay {
                    relay,
                    echo,
                    per_call: arg == CallbackArg::PerCall,
                })
            }
        }
    }

    /// Stores `value` under `key` (nothing to store for a callback: each call carries its
    /// payload).
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), String> {
        match self {
            Dispensed::Protobuf(kv) => kv
                .put(PutRequest {
                    key: key.to_string(),
                    value,
                })
                .await
                .map(drop)
                .map_err(|s| format!("Put {key}: {s}")),
            Dispensed::Serde(store) => store
                .put(key.to_string(), value.into())
                .await
                .map_err(|e| format!("put {key}: {e}")),
            Dispensed::Callback { .. } | Dispensed::Relay { .. } => Ok(()),
        }
    }

    /// One `Get` of `key`, or for a callback one `Call` carrying `expected`; the reply is checked
    /// against `expected` (as go-kv-host's `bench` checks every reply).
    async fn get(&self, key: &str, expected: &[u8]) -> Result<(), String> {
        let value = match self {
            Dispensed::Protobuf(kv) => {
                kv.get(GetRequest {
                    key: key.to_string(),
                })
                .await
                .map_err(|s| format!("Get {key}: {s}"))?
                .value
            }
            Dispensed::Serde(store) => store
                .get(key.to_string())
                .await
                .map_err(|e| format!("get {key}: {e}"))?
                .into_vec(),
            Dispensed::Callback { caller, .. } => {
                caller
                    .call(CallRequest {
                        payload: expected.to_vec(),
                    })
                    .await
                    .map_err(|s| format!("Call: {s}"))?
                    .payload
            }
            Dispensed::Relay {
                relay,
                echo,
                per_call: true,
            } => relay
                .relay(echo.clone(), expected.to_vec().into())
                .await
                .map_err(|e| format!("relay: {e}"))?
                .into_vec(),
            Dispensed::Relay { relay, .. } => relay
                .call(expected.to_vec().into())
                .await
                .map_err(|e| format!("call: {e}"))?
                .into_vec(),
        };
        if value != expected {
            return Err(format!(
                "Get {key}: {} bytes that differ from the {} expected",
                value.len(),
                expected.len()
            ));
        }
        Ok(())
    }
}

fn config(plugin: &PluginCommand, automtls: bool) -> ClientConfig {
    ClientConfig::new(handshake())
        .command(plugin.command())
        .auto_mtls(automtls)
        // gRPC unless asked: the native transport would be chosen by default.
        .native_transport(plugin.native)
        .plugins(
            PluginSet::new()
                .with(PROTOBUF_PLUGIN, KvPlugin::host())
                .with(SERDE_PLUGIN, StorePlugin::host())
                .with(CALLBACK_PLUGIN, CallerPlugin::host())
                .with(TRANSFER_PLUGIN, TransferPlugin::host())
                .with(RELAY_PLUGIN, RelayPlugin::host()),
        )
}

/// Runs `body` with a started client of `plugin`, then kills the client whatever happened.
async fn with_client<T, F, Fut>(
    plugin: &PluginCommand,
    automtls: bool,
    body: F,
) -> Result<T, String>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let client = Client::new(config(plugin, automtls)).map_err(|e| e.to_string())?;
    let result = body(client.clone()).await;
    let checked = result.and_then(|value| transport_as_asked(plugin, &client).map(|()| value));
    client.kill().await;
    checked
}

/// Whether a started `client` talks the transport `plugin` asked for, so that a row labelled
/// native never measures gRPC (a Rust plugin answers `rustnative` only when asked; go-plugin
/// never does).
fn transport_as_asked(plugin: &PluginCommand, client: &Client) -> Result<(), String> {
    let native = client.protocol() == Some(Protocol::RustNative);
    if native == plugin.native {
        return Ok(());
    }
    let got = client.protocol().map_or("none", Protocol::as_str);
    Err(if plugin.native {
        format!(
            "asked {} for the native transport, but it answered protocol {got}: \
             is it a plugin of this SDK, with ServeConfig::native_transport on?",
            plugin.program.display()
        )
    } else {
        format!(
            "asked {} for gRPC, but it answered protocol {got}",
            plugin.program.display()
        )
    })
}

/// A fresh plugin, `size` bytes stored, `warmup` untimed `Get`s, then `calls` `Get`s shared by
/// `concurrency` callers on one dispensed client (one caller: the latency measurements); every
/// call is timed, and so is the whole batch. With [`Interface::Callback`], `Call`s of `size`
/// bytes instead, each calling back the host's [`Callback`] (set up before the warm-up).
pub async fn throughput(
    plugin: &PluginCommand,
    interface: Interface,
    automtls: bool,
    size: usize,
    concurrency: usize,
    calls: usize,
    warmup: usize,
) -> Result<Summary, String> {
    with_client(plugin, automtls, |client| async move {
        let caller = Dispensed::dispense(&client, interface).await?;
        let value = Arc::new(payload(size));
        caller.put(BENCH_KEY, value.to_vec()).await?;
        for _ in 0..warmup {
            caller.get(BENCH_KEY, &value).await?;
        }
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (caller, value, next) = (caller.clone(), value.clone(), next.clone());
                tokio::spawn(async move {
                    let mut samples = Vec::with_capacity(calls / concurrency + 1);
                    while next.fetch_add(1, Ordering::Relaxed) < calls {
                        let t = Instant::now();
                        caller.get(BENCH_KEY, &value).await?;
                        samples.push(t.elapsed().as_nanos() as u64);
                    }
                    Ok::<_, String>(samples)
                })
            })
            .collect();
        let mut samples = Vec::with_capacity(calls);
        let mut first_error = None;
        for task in tasks {
            match task.await {
                Ok(Ok(s)) => samples.extend(s),
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Err(e) => first_error = first_error.or(Some(format!("caller task: {e}"))),
            }
        }
        let wall = start.elapsed().as_nanos() as u64;
        match first_error {
            Some(e) => Err(e),
            None => Ok(Summary::from_samples(samples, wall)),
        }
    })
    .await
}

/// A fresh plugin's `bench.Transfer`: `plan.warmup` items of `plan.size` bytes streamed
/// `direction` untimed, then `plan.items` timed, each from the one before (the first from the
/// call's start), the receiving side comparing every item with the payload. `calls_per_sec`
/// counts items.
pub async fn stream(
    plugin: &PluginCommand,
    automtls: bool,
    direction: Direction,
    plan: StreamPlan,
) -> Result<Summary, String> {
    let StreamPlan {
        size,
        items,
        warmup,
    } = plan;
    with_client(plugin, automtls, |client| async move {
        let transfer = client
            .dispense::<dyn Transfer>(TRANSFER_PLUGIN)
            .await
            .map_err(|e| format!("dispensing {TRANSFER_PLUGIN}: {e}"))?;
        let data = bytes::Bytes::from(payload(size));
        if warmup > 0 {
            transfer_items(&*transfer, direction, &data, warmup).await?;
        }
        let start = Instant::now();
        let samples = transfer_items(&*transfer, direction, &data, items).await?;
        Ok(Summary::from_samples(
            samples,
            start.elapsed().as_nanos() as u64,
        ))
    })
    .await
}

/// Streams `items` items of `data` `direction`; the time of each, from the one before.
async fn transfer_items(
    transfer: &dyn Transfer,
    direction: Direction,
    data: &bytes::Bytes,
    items: usize,
) -> Result<Vec<u64>, String> {
    let start = Instant::now();
    // When each item arrived (download) or was taken by the transport (upload).
    let mut times = Vec::with_capacity(items);
    match direction {
        Direction::Download => {
            let mut stream = transfer
                .download(DownloadRequest {
                    items: items as u32,
                    size: data.len() as u32,
                })
                .await
                .map_err(|s| format!("Download: {s}"))?;
            while let Some(chunk) = stream.next().await {
                let item = times.len();
                let chunk = chunk.map_err(|s| format!("Download, item {item}: {s}"))?;
                if chunk.data != *data {
                    return Err(format!(
                        "Download, item {item}: its bytes are not the payload"
                    ));
                }
                times.push(Instant::now());
            }
            if times.len() != items {
                return Err(format!("Download: {} items, not {items}", times.len()));
            }
        }
        Direction::Upload => {
            let (tx, mut rx) = futures::channel::mpsc::unbounded();
            let item = data.clone();
            let chunks = futures::stream::iter(0..items).map(move |_| {
                let _ = tx.unbounded_send(Instant::now());
                Ok(Chunk { data: item.clone() })
            });
            let reply = transfer
                .upload(Box::pin(chunks))
                .await
                .map_err(|s| format!("Upload: {s}"))?;
            if reply.items != items as u64 || reply.bytes != (items * data.len()) as u64 {
                return Err("Upload: the plugin counted other items than were sent".into());
            }
            while let Ok(time) = rx.try_recv() {
                times.push(time);
            }
        }
    }
    Ok(times
        .iter()
        .scan(start, |last, &time| {
            let ns = (time - *last).as_nanos() as u64;
            *last = time;
            Some(ns)
        })
        .collect())
}

/// One start-up through the Rust host, and where its time went (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StartupRun {
    /// Spawn to first successful call.
    pub total_ns: u64,
    /// `Client::new` and `Client::start`: spawn, handshake line, connection (TLS included).
    pub start_ns: u64,
    /// `Client::dispense`.
    pub dispense_ns: u64,
    /// The first `Get`.
    pub first_call_ns: u64,
}

/// Start-up, `runs` times: from `Client::new` (spawn) to the first successful `Get` of
/// [`STARTUP_KEY`] (the plugin must already hold it: seeded or persisted). Each plugin is
/// killed after its run, untimed. In run order.
pub async fn startup(
    plugin: &PluginCommand,
    automtls: bool,
    runs: usize,
) -> Result<Vec<StartupRun>, String> {
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let client = Client::new(config(plugin, automtls)).map_err(|e| e.to_string())?;
        let result = async {
            client.start().await.map_err(|e| e.to_string())?;
            let started = t.elapsed();
            let caller = Dispensed::dispense(&client, Interface::Protobuf).await?;
            let dispensed = t.elapsed();
            caller.get(STARTUP_KEY, STARTUP_VALUE.as_bytes()).await?;
            let total = t.elapsed();
            transport_as_asked(plugin, &client)?;
            Ok::<_, String>(StartupRun {
                total_ns: total.as_nanos() as u64,
                start_ns: started.as_nanos() as u64,
                dispense_ns: (dispensed - started).as_nanos() as u64,
                first_call_ns: (total - dispensed).as_nanos() as u64,
            })
        }
        .await;
        client.kill().await;
        all.push(result?);
    }
    Ok(all)
}

/// Stores [`STARTUP_VALUE`] under [`STARTUP_KEY`] through one short-lived plugin (for plugins
/// that persist values, such as go-kv-plugin's file store).
pub async fn store_startup_value(plugin: &PluginCommand, automtls: bool) -> Result<(), String> {
    with_client(plugin, automtls, |client| async move {
        Dispensed::dispense(&client, Interface::Protobuf)
            .await?
            .put(STARTUP_KEY, STARTUP_VALUE.as_bytes().to_vec())
            .await
    })
    .await
}

/// A plugin's resident memory, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resident {
    /// `VmRSS`: resident now, KiB.
    pub vm_rss_kb: u64,
    /// `VmHWM`: the peak resident size, KiB.
    pub vm_hwm_kb: u64,
}

/// A fresh plugin's resident memory after `calls` `Get`s of `size` bytes.
pub async fn memory(
    plugin: &PluginCommand,
    automtls: bool,
    size: usize,
    calls: usize,
) -> Result<Resident, String> {
    with_client(plugin, automtls, |client| async move {
        let caller = Dispensed::dispense(&client, Interface::Protobuf).await?;
        let value = payload(size);
        caller.put(BENCH_KEY, value.clone()).await?;
        for _ in 0..calls {
            caller.get(BENCH_KEY, &value).await?;
        }
        let pid = client.pid().ok_or("the plugin's pid is unknown")?;
        resident(pid)
    })
    .await
}

/// `VmRSS` and `VmHWM` of process `pid`.
pub fn resident(pid: u32) -> Result<Resident, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .ok_or_else(|| format!("no {name} line in /proc/{pid}/status"))
    };
    Ok(Resident {
        vm_rss_kb: field("VmRSS:")?,
        vm_hwm_kb: field("VmHWM:")?,
    })
}
