//! The plugin's end: serves the methods of the registered interfaces, each call and stream in
//! its own task, replies in whatever order they finish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::AbortHandle;
use tokio_util::codec::FramedRead;
use tonic::Status;

use super::flow::{Credit, Inbound};
use super::frame::{self, Frame, FrameCodec, Incoming};
use super::sniff::{Sniffed, sniff};
use super::writer::{CLOSE, write_frames};
use crate::broker::GrpcBroker;
use crate::dispatch::{Dispatch, Requests, Responses, Shape, guarded_streaming, guarded_unary};
use crate::transport::codec::{BoxOutgoing, MessageLimits};
use crate::transport::io::BoxedIo;
use crate::transport::serve::Sorter;

/// One interface's methods, as the native server calls them.
trait NativeService: Send + Sync + 'static {
    fn call(
        &self,
        method: usize,
        request: Bytes,
    ) -> BoxFuture<'static, Result<BoxOutgoing, Status>>;

    fn open(
        &self,
        method: usize,
        requests: Requests,
    ) -> BoxFuture<'static, Result<Responses, Status>>;
}

struct Native<D>(Arc<D>);

impl<D: Dispatch> NativeService for Native<D> {
    fn call(
        &self,
        method: usize,
        request: Bytes,
    ) -> BoxFuture<'static, Result<BoxOutgoing, Status>> {
        guarded_unary(self.0.clone(), method, request)
    }

    fn open(
        &self,
        method: usize,
        requests: Requests,
    ) -> BoxFuture<'static, Result<Responses, Status>> {
        guarded_streaming(self.0.clone(), method, requests)
    }
}

/// A method served natively: its interface, index and shape.
#[derive(Clone)]
struct Route {
    service: Arc<dyn NativeService>,
    method: usize,
    shape: Shape,
}

/// The methods served natively, by gRPC path (`/package.Service/Method`), and the services
/// served over gRPC only.
#[derive(Clone, Default)]
pub(crate) struct NativeRoutes {
    methods: HashMap<Bytes, Route>,
    grpc_only: Vec<&'static str>,
}

impl std::fmt::Debug for NativeRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.methods.keys().map(|p| String::from_utf8_lossy(p)))
            .finish()
    }
}

impl NativeRoutes {
    /// Adds the methods of `dispatch`.
    pub(crate) fn add<D: Dispatch>(&mut self, dispatch: Arc<D>) {
        let service: Arc<dyn NativeService> = Arc::new(Native(dispatch));
        for (index, method) in D::METHODS.iter().enumerate() {
            let path = Bytes::from(format!("/{}/{method}", D::SERVICE));
            let route = Route {
                service: service.clone(),
                method: index,
                shape: D::SHAPES.get(index).copied().unwrap_or(Shape::Unary),
            };
            self.methods.insert(path, route);
        }
    }

    /// Records a hand-written tonic service: its methods are called over gRPC (unless a
    /// native implementation of the same service is registered too).
    pub(crate) fn add_grpc_only(&mut self, service: &'static str) {
        self.grpc_only.push(service);
    }

    /// The first frame of every connection: the services without a native implementation.
    fn services_frame(&self) -> Result<Bytes, Status> {
        let native = |name: &str| {
            self.methods.keys().any(|path| {
                path.strip_prefix(b"/").is_some_and(|p| {
                    p.starts_with(name.as_bytes()) && p.get(name.len()) == Some(&b'/')
                })
            })
        };
        frame::services(self.grpc_only.iter().copied().filter(|name| !native(name)))
    }

    /// The route of `path` if it is a method of `shape` (unary or streaming).
    fn route(&self, path: &Bytes, streaming: bool) -> Result<Route, Status> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let route = self.methods.get(path).ok_or_else(|| {
            Status::unimplemented(format!("{} is not a method this plugin serves", shown()))
        })?;
        match (route.shape == Shape::Unary, streaming) {
            (true, true) => Err(Status::internal(format!(
                "{} is a unary method, opened as a stream (host and plugin disagree on the interface)",
                shown()
            ))),
            (false, false) => Err(Status::internal(format!(
                "{} is a streaming method, called as a unary one (host and plugin disagree on the interface)",
                shown()
            ))),
            _ => Ok(route.clone()),
        }
    }
}

/// What the plugin's server runs every connection through: native ones are served here (until
/// the host closes them), the others handed back for gRPC.
///
/// Once `stopping` turns true (the plugin shuts down), a connection takes no new call, lets
/// the running ones finish (the host's stdio stream delivers the last output) and closes.
pub(crate) fn sorter(
    routes: NativeRoutes,
    broker: Option<GrpcBroker>,
    limits: MessageLimits,
    stopping: Option<watch::Receiver<bool>>,
) -> Sorter {
    let routes = Arc::new(routes);
    Arc::new(move |io| {
        let (routes, broker, stopping) = (routes.clone(), broker.clone(), stopping.clone());
        Box::pin(async move {
            match sniff(io).await? {
                Sniffed::Other(io) => Some(io),
                Sniffed::Native(io) => {
                    serve_connection(io, routes, broker, limits, stopping).await;
                    None
                }
                Sniffed::Session(io) => {
                    match broker {
                        Some(broker) => broker.adopt_native_session(io),
                        None => tracing::warn!("refused a callbacks' session: no broker here"),
                    }
                    None
                }
            }
        })
    })
}

/// Completes once `stopping` turns true (or its sender is gone); never without one.
async fn stopped(stopping: &mut Option<watch::Receiver<bool>>) {
    match stopping {
        Some(stopping) => {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
        None => std::future::pending().await,
    }
}

/// What a connection's calls share.
struct Calls {
    routes: Arc<NativeRoutes>,
    broker: Option<GrpcBroker>,
    limits: MessageLimits,
    frames: mpsc::UnboundedSender<Bytes>,
    running: Mutex<HashMap<u32, Running>>,
    /// Told whenever a call ends, for a connection that waits for the last one.
    ended: Notify,
}

/// A call or stream being served.
struct Running {
    task: AbortHandle,
    /// A stream's requests still to come (none once the host ended them).
    requests: Option<mpsc::UnboundedSender<Result<Bytes, Status>>>,
    /// What a stream's responses may still send.
    credit: Option<Arc<Credit>>,
}

/// Aborts the connection's calls and writer when it ends, however it ends.
struct Stop(Arc<Calls>, AbortHandle);

impl Drop for Stop {
    fn drop(&mut self) {
        let running = std::mem::take(&mut *self.0.lock());
        for (_, call) in running {
            call.task.abort();
        }
        self.1.abort();
    }
}

/// Serves one native connection (its preface already read) until the host closes it, or the
/// plugin stops and its last call ended.
async fn serve_connection(
    io: BoxedIo,
    routes: Arc<NativeRoutes>,
    broker: Option<GrpcBroker>,
    limits: MessageLimits,
    mut stopping: Option<watch::Receiver<bool>>,
) {
    let (read, write) = tokio::io::split(io);
    let (frames, queued) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_frames(write, queued));
    let calls = Arc::new(Calls {
        routes,
        broker,
        limits,
        frames,
        running: Mutex::new(HashMap::new()),
        ended: Notify::new(),
    });
    let _stop = Stop(calls.clone(), writer.abort_handle());
    match calls.routes.services_frame() {
        Ok(services) => {
            let _ = calls.frames.send(services);
        }
        Err(status) => {
            tracing::warn!(%status, "native connection: the list of gRPC-only services does not fit a frame; closing");
            return;
        }
    }
    let mut reader = FramedRead::new(read, FrameCodec::new(limits.max_decode));
    let mut draining = false;
    loop {
        if draining && calls.lock().is_empty() {
            break;
        }
        let next = tokio::select! {
            next = reader.next() => next,
            () = stopped(&mut stopping), if !draining => {
                draining = true;
                continue;
            }
            () = calls.ended.notified(), if draining => continue,
        };
        let Some(next) = next else {
            tracing::debug!("native connection closed by the host");
            return;
        };
        let frame = match next {
            Ok(Incoming::Frame(frame)) => frame,
            Ok(Incoming::TooLarge { id, size, max }) => {
                calls.fail(id, frame::too_large("request", size, max));
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "native connection: reading failed; closing");
                return;
            }
        };
        match frame.kind {
            frame::CALL | frame::OPEN if draining => {
                calls.fail(frame.id, Status::unavailable("the plugin is shutting down"));
            }
            frame::CALL => calls.start(frame),
            frame::OPEN => calls.open(frame),
            frame::MSG => calls.request(frame),
            frame::END => {
                if let Some(stream) = calls.lock().get_mut(&frame.id) {
                    stream.requests = None;
                }
            }
            frame::WINDOW => {
                if let Some(credit) = calls.lock().get(&frame.id).and_then(|s| s.credit.clone()) {
                    credit.grant(frame::parse_window(&frame.body));
                }
            }
            frame::CANCEL => {
                if let Some(call) = calls.lock().remove(&frame.id) {
                    call.task.abort();
                }
            }
            other => {
                tracing::warn!(
                    kind = other,
                    "native connection: unknown frame kind; closing"
                );
                return;
            }
        }
    }
    // The last replies go out before the connection closes.
    let _ = calls.frames.send(CLOSE);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), writer).await;
    tracing::debug!("native connection closed: the plugin stopped");
}

impl Calls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Call `id` has sent its last frame.
    fn done(&self, id: u32) {
        self.lock().remove(&id);
        self.ended.notify_one();
    }

    /// Ends call `id` with `status`, stopping it if it runs.
    fn fail(&self, id: u32, status: Status) {
        if let Some(call) = self.lock().remove(&id) {
            call.task.abort();
        }
        let _ = self.frames.send(frame::error(id, &status));
    }

    /// The route of a CALL or OPEN frame, and what follows its path.
    fn route(&self, frame: Frame, streaming: bool) -> Result<(Route, Bytes), Status> {
        let (path, rest) = frame::parse_call(frame.body)
            .ok_or_else(|| Status::invalid_argument("a malformed native call frame"))?;
        Ok((self.routes.route(&path, streaming)?, rest))
    }

    /// Runs `served` as call `id`'s task (inside the broker's scope, for callbacks).
    fn spawn(
        &self,
        id: u32,
        served: impl std::future::Future<Output = ()> + Send + 'static,
        requests: Option<mpsc::UnboundedSender<Result<Bytes, Status>>>,
        credit: Option<Arc<Credit>>,
    ) {
        // Held across the spawn: the call cannot remove itself before it is recorded.
        let mut running = self.lock();
        let task = match &self.broker {
            Some(broker) => tokio::spawn(broker.scope(served)),
            None => tokio::spawn(served),
        };
        let call = Running {
            task: task.abort_handle(),
            requests,
            credit,
        };
        running.insert(id, call);
    }

    /// Starts unary call `frame` in its own task.
    fn start(self: &Arc<Self>, frame: Frame) {
        let id = frame.id;
        let (route, request) = match self.route(frame, false) {
            Ok(found) => found,
            Err(status) => return self.fail(id, status),
        };
        if request.len() > self.limits.max_decode {
            return self.fail(
                id,
                frame::too_large("request", request.len(), self.limits.max_decode),
            );
        }
        let call = route.service.call(route.method, request);
        let calls = self.clone();
        let served = async move {
            let reply = match call.await {
                Ok(message) => frame::reply(id, &*message, calls.limits.max_encode)
                    .unwrap_or_else(|status| frame::error(id, &status)),
                Err(status) => frame::error(id, &status),
            };
            let _ = calls.frames.send(reply);
            calls.done(id);
        };
        self.spawn(id, served, None, None);
    }

    /// Opens streaming call `frame` in its own task: its requests arrive as MSG frames, its
    /// responses go out as the host's credit allows.
    fn open(self: &Arc<Self>, frame: Frame) {
        let id = frame.id;
        let route = match self.route(frame, true) {
            Ok((route, _)) => route,
            Err(status) => return self.fail(id, status),
        };
        let (requests_tx, requests) = mpsc::unbounded_channel();
        let requests = Inbound::new(id, requests, self.frames.clone());
        let credit = Arc::new(Credit::default());
        let opened = route.service.open(route.method, Box::pin(requests));
        let calls = self.clone();
        let spend = credit.clone();
        let served = async move {
            let last = match opened.await {
                Ok(responses) => {
                    let _ = calls.frames.send(frame::bare(frame::OPENED, id));
                    calls.respond(id, responses, &spend).await
                }
                Err(status) => frame::error(id, &status),
            };
            let _ = calls.frames.send(last);
            calls.done(id);
        };
        self.spawn(id, served, Some(requests_tx), Some(credit));
    }

    /// Sends a stream's responses as the host takes them; its last frame (END or ERROR).
    async fn respond(&self, id: u32, mut responses: Responses, credit: &Credit) -> Bytes {
        while let Some(response) = responses.next().await {
            let message = response.and_then(|message| {
                frame::message(id, "response", &*message, self.limits.max_encode)
            });
            match message {
                Ok((message, size)) => {
                    credit.spend(size).await;
                    let _ = self.frames.send(message);
                }
                Err(status) => return frame::error(id, &status),
            }
        }
        frame::bare(frame::END, id)
    }

    /// Hands a stream its next request (ignored once the stream is over).
    fn request(&self, frame: Frame) {
        let max = self.limits.max_decode;
        let running = self.lock();
        let Some(requests) = running.get(&frame.id).and_then(|s| s.requests.as_ref()) else {
            return;
        };
        if frame.body.len() > max {
            let status = frame::too_large("request", frame.body.len(), max);
            drop(running);
            return self.fail(frame.id, status);
        }
        let _ = requests.send(Ok(frame.body));
    }
}
