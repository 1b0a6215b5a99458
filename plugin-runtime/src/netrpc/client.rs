//! Go's `net/rpc` client over one stream: concurrent calls, matched to their answers by
//! sequence number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use plugin_core::gob::netrpc::{RequestHeader, ResponseHeader};
use plugin_core::gob::{Decoder, Encoder, GobError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::oneshot;

use super::NetRpcError;
use super::wire::{Inbox, read_value, type_definitions, write_flush};
use crate::exit::ExitWatch;
use crate::transport::io::BoxedIo;

/// How a pending call learns its outcome (its reply is decoded by the reading task).
enum Answer<'a> {
    Reply(&'a mut Decoder<Inbox>),
    Remote(String),
    Closed(String),
}

type Completion = Box<dyn for<'a> FnOnce(Answer<'a>) + Send>;

#[derive(Default)]
struct Pending {
    next_seq: u64,
    calls: HashMap<u64, Completion>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

/// A net/rpc client on one stream (Go's `*rpc.Client`): calls `"Service.Method"` on the peer.
/// Cheap to clone; calls may run concurrently. The stream closes when the last clone is
/// dropped.
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("peer", &self.inner.peer)
            .finish_non_exhaustive()
    }
}

struct ClientInner {
    peer: String,
    writer: tokio::sync::Mutex<(Encoder<Vec<u8>>, WriteHalf<BoxedIo>)>,
    pending: Arc<Mutex<Pending>>,
    reader: tokio::task::JoinHandle<()>,
    exit: Option<ExitWatch>,
    /// Whatever must live as long as the client (the plugin's owner on the host).
    _owner: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl RpcClient {
    /// A client on `io`; `peer` names the other side in errors.
    pub(crate) fn new(io: BoxedIo, peer: &str, exit: Option<ExitWatch>) -> Self {
        let (read, write) = tokio::io::split(io);
        let pending = Arc::new(Mutex::new(Pending::default()));
        let reader = tokio::spawn(read_answers(read, pending.clone()));
        RpcClient {
            inner: Arc::new(ClientInner {
                peer: peer.to_string(),
                writer: tokio::sync::Mutex::new((Encoder::new(Vec::new()), write)),
                pending,
                reader,
                exit,
                _owner: None,
            }),
        }
    }

    /// The same connection, keeping `owner` alive while any clone lives.
    pub(crate) fn owned_by(self, owner: Arc<dyn std::any::Any + Send + Sync>) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner._owner = Some(owner);
                RpcClient {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => RpcClient { inner },
        }
    }

    /// Calls `method` (`"Service.Method"`) with `args` and waits for its reply. An error the
    /// peer's method returned is [`NetRpcError::Remote`], with its text.
    pub async fn call<A, R>(&self, method: &str, args: &A) -> Result<R, NetRpcError>
    where
        A: Serialize + DeserializeOwned,
        R: DeserializeOwned + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, Outcome>>();
        let completion: Completion = Box::new(move |answer| {
            let result = match answer {
                Answer::Reply(dec) => dec.decode::<R>().map_err(Outcome::Gob),
                Answer::Remote(text) => Err(Outcome::Remote(text)),
                Answer::Closed(reason) => Err(Outcome::Closed(reason)),
            };
            let _ = tx.send(result);
        });
        let seq = {
            let mut pending = self.lock_pending();
            match pending.closed.clone() {
                Some(reason) => Err(reason),
                None => {
                    let seq = pending.next_seq;
                    pending.next_seq += 1;
                    pending.calls.insert(seq, completion);
                    Ok(seq)
                }
            }
        };
        let seq = match seq {
            Ok(seq) => seq,
            Err(reason) => return Err(self.shutdown(method, reason).await),
        };
        let header = RequestHeader {
            service_method: method.to_string(),
            seq,
        };
        if let Err(e) = self.send(&header, args).await {
            self.lock_pending().calls.remove(&seq);
            return Err(e);
        }
        match rx.await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(Outcome::Remote(text))) => Err(NetRpcError::Remote(text)),
            Ok(Err(Outcome::Gob(source))) => Err(NetRpcError::Gob {
                method: method.to_string(),
                source,
            }),
            Ok(Err(Outcome::Closed(reason))) => Err(self.shutdown(method, reason).await),
            Err(_) => Err(self.shutdown(method, "the client was dropped".into()).await),
        }
    }

    /// Calls a method that takes no arguments: sends a nil `interface{}`, as go-plugin's
    /// examples do (`new(interface{})`).
    pub async fn call_without_args<R>(&self, method: &str) -> Result<R, NetRpcError>
    where
        R: DeserializeOwned + Send + 'static,
    {
        self.call(method, &plugin_core::gob::GobValue::Nil).await
    }

    async fn send<A: Serialize + DeserializeOwned>(
        &self,
        header: &RequestHeader,
        args: &A,
    ) -> Result<(), NetRpcError> {
        let mut writer = self.inner.writer.lock().await;
        let (encoder, io) = &mut *writer;
        // The buffer may hold type definitions of a call that failed to encode: they go first.
        let encoded = encoder.encode(header).and_then(|()| encoder.encode(args));
        if let Err(source) = encoded {
            let definitions = type_definitions(encoder.get_mut());
            *encoder.get_mut() = definitions;
            return Err(NetRpcError::Gob {
                method: header.service_method.clone(),
                source,
            });
        }
        let bytes = std::mem::take(encoder.get_mut());
        if let Err(e) = write_flush(io, &bytes).await {
            let reason = format!("writing the call failed: {e}");
            return Err(self.shutdown(&header.service_method, reason).await);
        }
        Ok(())
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The error for a call cut off by the end of the connection: the plugin's exit when it
    /// is ending, otherwise the connection's.
    async fn shutdown(&self, method: &str, reason: String) -> NetRpcError {
        if let Some(mut exit) = self.inner.exit.clone() {
            let wait = tokio::time::Duration::from_millis(250);
            if let Ok(Some(exit)) = tokio::time::timeout(wait, exit.wait()).await {
                return NetRpcError::PluginExited {
                    plugin: self.inner.peer.clone(),
                    method: method.to_string(),
                    exit,
                };
            }
        }
        NetRpcError::Shutdown {
            peer: self.inner.peer.clone(),
            method: method.to_string(),
            reason,
        }
    }
}

/// Why a call did not return its reply.
enum Outcome {
    Remote(String),
    Gob(GobError),
    Closed(String),
}

/// Reads answers until the stream ends, completing the calls they answer; then fails the rest.
async fn read_answers(mut io: ReadHalf<BoxedIo>, pending: Arc<Mutex<Pending>>) {
    let mut dec = Decoder::new(Inbox::default());
    let reason = loop {
        match read_answer(&mut io, &mut dec, &pending).await {
            Ok(true) => {}
            Ok(false) => break "the peer closed it".to_string(),
            Err(e) => break e,
        }
    };
    let calls = {
        let mut pending = pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.closed = Some(reason.clone());
        std::mem::take(&mut pending.calls)
    };
    for (_, completion) in calls {
        completion(Answer::Closed(reason.clone()));
    }
}

/// One answer: `Ok(false)` at a clean end of stream.
async fn read_answer(
    io: &mut ReadHalf<BoxedIo>,
    dec: &mut Decoder<Inbox>,
    pending: &Mutex<Pending>,
) -> Result<bool, String> {
    let Some(value) = read_value(io).await.map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    dec.get_mut().set(value);
    let header: ResponseHeader = dec
        .decode()
        .map_err(|e| format!("reading a response header: {e}"))?;
    let body = read_value(io)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the stream ended before a response body")?;
    dec.get_mut().set(body);
    let completion = pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .calls
        .remove(&header.seq);
    match completion {
        None => dec
            .skip()
            .map_err(|e| format!("reading a response body: {e}"))?,
        Some(completion) if !header.error.is_empty() => {
            dec.skip()
                .map_err(|e| format!("reading a response body: {e}"))?;
            completion(Answer::Remote(header.error));
        }
        Some(completion) => completion(Answer::Reply(dec)),
    }
    Ok(true)
}
