//! Go's `net/rpc` server over one stream: `"Service.Method"` dispatched to handlers, each call
//! in its own task (as Go's server runs each in a goroutine), answers written as they finish.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use plugin_core::gob::netrpc::{RequestHeader, ResponseHeader};
use plugin_core::gob::{Decoder, Encoder, GobError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncWriteExt as _, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use super::wire::{Inbox, read_value, type_definitions, write_flush};
use crate::transport::io::BoxedIo;

/// Calls one connection's server runs at once; past it, requests wait unread.
const MAX_IN_FLIGHT: usize = 1024;

/// What a handler answers: a reply to encode, or an error text for the caller.
pub(crate) type Reply = Result<Box<dyn ReplyBody>, String>;

/// A reply value of any gob-encodable type.
pub(crate) trait ReplyBody: Send {
    /// Encodes the value on the connection's stream.
    fn encode_to(&self, encoder: &mut Encoder<Vec<u8>>) -> Result<(), GobError>;
}

impl<T: Serialize + DeserializeOwned + Send + 'static> ReplyBody for T {
    fn encode_to(&self, encoder: &mut Encoder<Vec<u8>>) -> Result<(), GobError> {
        // No reply (`()`) goes as a nil `interface{}`, go-plugin's convention (`var resp
        // interface{}`): a gob `struct{}` would break such a caller's connection.
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
            return encoder.encode(&plugin_core::gob::GobValue::Nil);
        }
        encoder.encode(self)
    }
}

type Handler =
    Arc<dyn Fn(&mut Decoder<Inbox>) -> Result<BoxFuture<'static, Reply>, GobError> + Send + Sync>;

/// Methods served over net/rpc (Go's `*rpc.Server` with its registered receivers), by their
/// full `"Service.Method"` name.
///
/// ```
/// use plugin_runtime::RpcServer;
/// let mut server = RpcServer::new();
/// server.method("Plugin.Greet", |_: ()| async { Ok::<_, String>("Hello!".to_string()) });
/// assert!(server.methods().any(|m| m == "Plugin.Greet"));
/// ```
#[derive(Clone, Default)]
pub struct RpcServer {
    methods: HashMap<String, Handler>,
}

impl std::fmt::Debug for RpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.methods.keys()).finish()
    }
}

impl RpcServer {
    /// A server with no methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `name` (`"Service.Method"`): `handler` takes the decoded arguments and returns
    /// the reply, or an error whose text reaches the caller (net/rpc errors are strings).
    pub fn method<A, R, E, F, Fut>(&mut self, name: impl Into<String>, handler: F) -> &mut Self
    where
        A: DeserializeOwned,
        R: Serialize + DeserializeOwned + Send + 'static,
        E: std::fmt::Display,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |dec: &mut Decoder<Inbox>| {
            let args: A = dec.decode()?;
            let call = handler(args);
            Ok(Box::pin(async move {
                match call.await {
                    Ok(reply) => Ok(Box::new(reply) as Box<dyn ReplyBody>),
                    Err(e) => Err(e.to_string()),
                }
            }) as BoxFuture<'static, Reply>)
        });
        self.methods.insert(name.into(), erased);
        self
    }

    /// Serves `name` for a handler that takes no arguments: whatever the caller sends (Go's
    /// callers send a nil `interface{}`, `true` or `struct{}{}`) is skipped.
    pub fn method_without_args<R, E, F, Fut>(
        &mut self,
        name: impl Into<String>,
        handler: F,
    ) -> &mut Self
    where
        R: Serialize + DeserializeOwned + Send + 'static,
        E: std::fmt::Display,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        self.method(name, move |_: serde::de::IgnoredAny| handler())
    }

    /// Adds every method of `other`.
    pub fn merge(&mut self, other: RpcServer) -> &mut Self {
        self.methods.extend(other.methods);
        self
    }

    /// The served method names.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.methods.keys().map(String::as_str)
    }

    /// Serves calls on `io` until the peer closes it (Go's `ServeConn`).
    pub(crate) async fn serve(self, io: BoxedIo) {
        let (mut read, write) = tokio::io::split(io);
        let (answers, queue) = mpsc::channel::<(RequestHeader, Reply)>(64);
        let writer = tokio::spawn(write_answers(write, queue));
        let mut dec = Decoder::new(Inbox::default());
        let mut calls = tokio::task::JoinSet::new();
        loop {
            // A peer that sends calls faster than they finish waits for some to finish.
            while calls.len() >= MAX_IN_FLIGHT {
                calls.join_next().await;
            }
            match self.next_call(&mut read, &mut dec).await {
                Ok(Some((header, call))) => {
                    let answers = answers.clone();
                    calls.spawn(async move {
                        let reply = call.await;
                        let _ = answers.send((header, reply)).await;
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "net/rpc connection ended");
                    break;
                }
            }
            while calls.try_join_next().is_some() {}
        }
        // Calls in flight still answer, as long as the peer listens.
        drop(answers);
        while calls.join_next().await.is_some() {}
        let _ = writer.await;
    }

    /// The next request and the future of its answer; `None` when the peer closed the stream.
    async fn next_call(
        &self,
        read: &mut ReadHalf<BoxedIo>,
        dec: &mut Decoder<Inbox>,
    ) -> Result<Option<(RequestHeader, BoxFuture<'static, Reply>)>, String> {
        let Some(value) = read_value(read).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        dec.get_mut().set(value);
        let header: RequestHeader = dec
            .decode()
            .map_err(|e| format!("reading a request header: {e}"))?;
        let body = read_value(read)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the stream ended before a request body")?;
        dec.get_mut().set(body);
        let Some(handler) = self.methods.get(&header.service_method) else {
            dec.skip()
                .map_err(|e| format!("reading a request body: {e}"))?;
            let error = unknown_method(&header.service_method, self.methods());
            return Ok(Some((header, Box::pin(async move { Err(error) }))));
        };
        match handler(dec) {
            Ok(call) => Ok(Some((header, call))),
            Err(e) => {
                // Go's server answers a body it cannot decode with the decoder's error.
                let error = format!(
                    "rpc: {}: arguments could not be decoded: {e}",
                    header.service_method
                );
                Ok(Some((header, Box::pin(async move { Err(error) }))))
            }
        }
    }
}

/// Go's wording for a missing service or method.
fn unknown_method<'a>(name: &str, served: impl Iterator<Item = &'a str>) -> String {
    let Some((service, _)) = name.rsplit_once('.') else {
        return format!("rpc: service/method request ill-formed: {name}");
    };
    let mut served = served;
    if served.any(|m| m.rsplit_once('.').is_some_and(|(s, _)| s == service)) {
        format!("rpc: can't find method {name}")
    } else {
        format!("rpc: can't find service {name}")
    }
}

/// Writes answers in the order they finish, on the stream's one gob encoder.
async fn write_answers(
    mut io: WriteHalf<BoxedIo>,
    mut queue: mpsc::Receiver<(RequestHeader, Reply)>,
) {
    let mut encoder = Encoder::new(Vec::new());
    while let Some((request, reply)) = queue.recv().await {
        encoder.get_mut().clear();
        let ok = ResponseHeader::ok(&request);
        let encoded = match &reply {
            Ok(body) => encoder
                .encode(&ok)
                .and_then(|()| body.encode_to(&mut encoder)),
            Err(text) => encode_error(&mut encoder, &request, text),
        };
        if let Err(e) = encoded {
            // The reply does not encode: the caller gets the reason instead. The header's type
            // may have been defined on the way: that definition must still go out.
            tracing::warn!(method = %request.service_method, error = %e, "net/rpc reply could not be encoded");
            let definitions = type_definitions(encoder.get_mut());
            *encoder.get_mut() = definitions;
            let text = format!(
                "rpc: the reply to {} could not be encoded: {e}",
                request.service_method
            );
            if encode_error(&mut encoder, &request, &text).is_err() {
                return;
            }
        }
        let bytes = std::mem::take(encoder.get_mut());
        if write_flush(&mut io, &bytes).await.is_err() {
            return;
        }
    }
    let _ = io.shutdown().await;
}

/// An error answer: the text in the header and Go's empty body.
fn encode_error(
    encoder: &mut Encoder<Vec<u8>>,
    request: &RequestHeader,
    text: &str,
) -> Result<(), GobError> {
    let header = ResponseHeader {
        error: text.to_string(),
        ..ResponseHeader::ok(request)
    };
    encoder.encode(&header)?;
    encoder.encode(&())
}
