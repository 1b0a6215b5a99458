//! The plugin's end: serves the unary methods of the registered interfaces, each call in its
//! own task, replies in whatever order they finish.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_util::codec::FramedRead;
use tonic::Status;

use super::frame::{self, Frame, FrameCodec, Incoming};
use super::sniff::{Sniffed, sniff};
use super::writer::write_frames;
use crate::broker::GrpcBroker;
use crate::dispatch::{Dispatch, Shape, panic_status};
use crate::transport::codec::{BoxOutgoing, MessageLimits};
use crate::transport::io::BoxedIo;
use crate::transport::serve::Sorter;

/// One interface's unary methods, as the native server calls them.
trait NativeService: Send + Sync + 'static {
    fn call(
        &self,
        method: usize,
        request: Bytes,
    ) -> BoxFuture<'static, Result<BoxOutgoing, Status>>;
}

struct Native<D>(Arc<D>);

impl<D: Dispatch> NativeService for Native<D> {
    fn call(
        &self,
        method: usize,
        request: Bytes,
    ) -> BoxFuture<'static, Result<BoxOutgoing, Status>> {
        let name = D::METHODS.get(method).copied().unwrap_or("?");
        let inner = self.0.clone();
        // A panicking implementation fails its own call, not the connection.
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(method, request))) {
            Ok(fut) => Box::pin(async move {
                match AssertUnwindSafe(fut).catch_unwind().await {
                    Ok(result) => result,
                    Err(panic) => Err(panic_status(D::SERVICE, name, &*panic)),
                }
            }),
            Err(panic) => {
                let status = panic_status(D::SERVICE, name, &*panic);
                Box::pin(async move { Err(status) })
            }
        }
    }
}

/// The unary methods served natively, by gRPC path (`/package.Service/Method`).
#[derive(Clone, Default)]
pub(crate) struct NativeRoutes {
    methods: HashMap<Bytes, (Arc<dyn NativeService>, usize)>,
}

impl std::fmt::Debug for NativeRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.methods.keys().map(|p| String::from_utf8_lossy(p)))
            .finish()
    }
}

impl NativeRoutes {
    /// Adds the unary methods of `dispatch`.
    pub(crate) fn add<D: Dispatch>(&mut self, dispatch: Arc<D>) {
        let service: Arc<dyn NativeService> = Arc::new(Native(dispatch));
        for (index, method) in D::METHODS.iter().enumerate() {
            if D::SHAPES.get(index).copied().unwrap_or(Shape::Unary) == Shape::Unary {
                let path = Bytes::from(format!("/{}/{method}", D::SERVICE));
                self.methods.insert(path, (service.clone(), index));
            }
        }
    }
}

/// What the plugin's server runs every connection through: native ones are served here (until
/// the host closes them), the others handed back for gRPC.
pub(crate) fn sorter(
    routes: NativeRoutes,
    broker: Option<GrpcBroker>,
    limits: MessageLimits,
) -> Sorter {
    let routes = Arc::new(routes);
    Arc::new(move |io| {
        let (routes, broker) = (routes.clone(), broker.clone());
        Box::pin(async move {
            match sniff(io).await? {
                Sniffed::Other(io) => Some(io),
                Sniffed::Native(io) => {
                    serve_connection(io, routes, broker, limits).await;
                    None
                }
            }
        })
    })
}

/// What a connection's calls share.
struct Calls {
    routes: Arc<NativeRoutes>,
    broker: Option<GrpcBroker>,
    limits: MessageLimits,
    frames: mpsc::UnboundedSender<Bytes>,
    running: Mutex<HashMap<u32, AbortHandle>>,
}

/// Aborts the connection's calls and writer when it ends, however it ends.
struct Stop(Arc<Calls>, AbortHandle);

impl Drop for Stop {
    fn drop(&mut self) {
        let running = std::mem::take(&mut *self.0.lock());
        for (_, call) in running {
            call.abort();
        }
        self.1.abort();
    }
}

/// Serves one native connection (its preface already read) until the host closes it.
async fn serve_connection(
    io: BoxedIo,
    routes: Arc<NativeRoutes>,
    broker: Option<GrpcBroker>,
    limits: MessageLimits,
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
    });
    let _stop = Stop(calls.clone(), writer.abort_handle());
    let mut reader = FramedRead::new(read, FrameCodec::new(limits.max_decode));
    while let Some(next) = reader.next().await {
        let frame = match next {
            Ok(Incoming::Frame(frame)) => frame,
            Ok(Incoming::TooLarge { id, size, max }) => {
                let status = frame::too_large("request", size, max);
                let _ = calls.frames.send(frame::error(id, &status));
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "native connection: reading failed; closing");
                return;
            }
        };
        match frame.kind {
            frame::CALL => calls.start(frame),
            frame::CANCEL => {
                if let Some(call) = calls.lock().remove(&frame.id) {
                    call.abort();
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
    tracing::debug!("native connection closed by the host");
}

impl Calls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, AbortHandle>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts call `frame` in its own task.
    fn start(self: &Arc<Self>, frame: Frame) {
        let id = frame.id;
        let Some((path, request)) = frame::parse_call(frame.body) else {
            let status = Status::invalid_argument("a malformed native call frame");
            let _ = self.frames.send(frame::error(id, &status));
            return;
        };
        if request.len() > self.limits.max_decode {
            let status = frame::too_large("request", request.len(), self.limits.max_decode);
            let _ = self.frames.send(frame::error(id, &status));
            return;
        }
        let Some((service, method)) = self.routes.methods.get(&path).cloned() else {
            let status = Status::unimplemented(format!(
                "{} is not a unary method this plugin serves",
                String::from_utf8_lossy(&path)
            ));
            let _ = self.frames.send(frame::error(id, &status));
            return;
        };
        let call = service.call(method, request);
        let calls = self.clone();
        let served = async move {
            let reply = match call.await {
                Ok(message) => frame::reply(id, &*message, calls.limits.max_encode)
                    .unwrap_or_else(|status| frame::error(id, &status)),
                Err(status) => frame::error(id, &status),
            };
            calls.lock().remove(&id);
            let _ = calls.frames.send(reply);
        };
        // Held across the spawn: the call cannot remove itself before it is recorded.
        let mut running = self.lock();
        let task = match &self.broker {
            Some(broker) => tokio::spawn(broker.scope(served)),
            None => tokio::spawn(served),
        };
        running.insert(id, task.abort_handle());
    }
}
