//! Streams through interfaces: what a streaming method takes or returns.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};

use crate::connection::{GrpcConnection, Messages};
use crate::error::CallError;

/// A stream of items crossing a plugin interface: each item is `Ok(item)` or an `Err` of the
/// method's error type. Boxed, so that it crosses `Arc<dyn Trait>`.
///
/// ```
/// use futures::StreamExt as _;
/// use plugin_runtime::PluginStream;
///
/// let numbers: PluginStream<u32, String> = Box::pin(futures::stream::iter([Ok(1), Ok(2)]));
/// # let _ = numbers.boxed();
/// ```
pub type PluginStream<T, E> = Pin<Box<dyn Stream<Item = Result<T, E>> + Send + 'static>>;

/// The messages of a streaming call as they arrive, their failures classified (the plugin's
/// end, the connection's failure, or the plugin's own status). Past `deadline` the stream ends
/// with [`CallError::DeadlineExceeded`], and the call is dropped (cancelled in the plugin too).
pub(crate) fn incoming(
    conn: GrpcConnection,
    path: &'static str,
    messages: Messages,
    deadline: Option<(tokio::time::Instant, std::time::Duration)>,
) -> PluginStream<Bytes, CallError> {
    let stream =
        futures::stream::unfold((Some(messages), conn), move |(messages, conn)| async move {
            let mut messages = messages?;
            let next = match deadline {
                None => Ok(messages.next().await),
                Some((at, _)) => tokio::time::timeout_at(at, messages.next()).await,
            };
            match next {
                Ok(Some(Ok(bytes))) => Some((Ok(bytes), (Some(messages), conn))),
                Ok(None) => None,
                Ok(Some(Err(status))) => {
                    let error = conn.failure(path, status).await;
                    Some((Err(error), (None, conn)))
                }
                Err(_) => {
                    let after = deadline.map(|(_, after)| after).unwrap_or_default();
                    let error = conn.deadline_exceeded(path, after);
                    Some((Err(error), (None, conn)))
                }
            }
        });
    stream.boxed()
}
