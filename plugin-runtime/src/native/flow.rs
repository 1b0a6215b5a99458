//! Flow control of a native stream: the sender spends [`Credit`], the receiver's [`Inbound`]
//! gives it back (WINDOW frames) as the consumer takes messages.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::sync::{Notify, mpsc};
use tonic::Status;

use super::frame::{self, STREAM_WINDOW};

/// Grants are sent once the consumer took this much, not for every message.
const GRANT_AT: usize = STREAM_WINDOW / 4;

/// The bytes one direction of a stream may still send. One task sends on a stream, so one
/// waiter at most.
pub(crate) struct Credit {
    available: Mutex<isize>,
    granted: Notify,
}

impl Default for Credit {
    fn default() -> Self {
        Credit {
            available: Mutex::new(STREAM_WINDOW as isize),
            granted: Notify::new(),
        }
    }
}

impl Credit {
    fn lock(&self) -> std::sync::MutexGuard<'_, isize> {
        self.available.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until some credit is left, then spends `size` (a message may overshoot: the
    /// window bounds what is in flight to the window plus one message).
    pub(crate) async fn spend(&self, size: usize) {
        loop {
            {
                let mut available = self.lock();
                if *available > 0 {
                    *available -= size.min(isize::MAX as usize) as isize;
                    return;
                }
            }
            // `notify_one` keeps a permit when nobody waits: no grant is missed.
            self.granted.notified().await;
        }
    }

    /// The receiver took `size` more.
    pub(crate) fn grant(&self, size: usize) {
        let mut available = self.lock();
        *available = available.saturating_add(size.min(isize::MAX as usize) as isize);
        drop(available);
        self.granted.notify_one();
    }
}

/// The messages of a stream as they arrive; taking them grants the sender more credit.
pub(crate) struct Inbound {
    id: u32,
    messages: mpsc::UnboundedReceiver<Result<Bytes, Status>>,
    frames: mpsc::UnboundedSender<Bytes>,
    taken: usize,
    ended: bool,
}

impl Inbound {
    pub(crate) fn new(
        id: u32,
        messages: mpsc::UnboundedReceiver<Result<Bytes, Status>>,
        frames: mpsc::UnboundedSender<Bytes>,
    ) -> Self {
        Inbound {
            id,
            messages,
            frames,
            taken: 0,
            ended: false,
        }
    }

    /// The stream's call id.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Whether the stream ended (its last message, or its error, was taken).
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }
}

impl Stream for Inbound {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.messages.poll_recv(cx);
        match &next {
            Poll::Ready(Some(Ok(message))) => {
                self.taken += message.len();
                if self.taken >= GRANT_AT {
                    let taken = std::mem::take(&mut self.taken);
                    let grant = u32::try_from(taken).unwrap_or(u32::MAX);
                    let _ = self.frames.send(frame::window(self.id, grant));
                }
            }
            Poll::Ready(_) => self.ended = true,
            Poll::Pending => {}
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sender_without_credit_waits_for_a_grant() {
        let credit = std::sync::Arc::new(Credit::default());
        credit.spend(STREAM_WINDOW).await;
        let waiting = tokio::spawn({
            let credit = credit.clone();
            async move { credit.spend(1).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "spent past the window");
        credit.grant(10);
        waiting.await.unwrap();
        assert_eq!(*credit.lock(), 9);
    }

    #[tokio::test]
    async fn taking_messages_grants_credit_in_batches() {
        let (tx, rx) = mpsc::unbounded_channel();
        let (frames, mut sent) = mpsc::unbounded_channel();
        let mut inbound = Inbound::new(3, rx, frames);
        for _ in 0..4 {
            tx.send(Ok(Bytes::from(vec![0; GRANT_AT / 2]))).unwrap();
        }
        drop(tx);
        let mut n = 0;
        while let Some(message) = futures::StreamExt::next(&mut inbound).await {
            message.unwrap();
            n += 1;
        }
        assert_eq!(n, 4);
        assert!(inbound.ended());
        let mut grants = Vec::new();
        while let Ok(frame) = sent.try_recv() {
            grants.push(frame);
        }
        assert_eq!(grants.len(), 2, "one grant per {GRANT_AT} bytes taken");
        assert_eq!(frame::parse_window(&grants[0][9..]), GRANT_AT);
    }
}
