//! One writer per connection: it sends the frames queued while it was writing in one batch,
//! with vectored writes (one syscall per batch when the socket takes it all).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;

/// At most this many frames go in one batch.
const BATCH: usize = 64;

/// Queued instead of a frame: write what came before, then close the connection.
pub(crate) const CLOSE: Bytes = Bytes::new();

/// Writes the frames `frames` yields until it closes (or yields [`CLOSE`]) or writing fails.
pub(crate) async fn write_frames<W: AsyncWrite + Unpin>(
    mut out: W,
    mut frames: mpsc::UnboundedReceiver<Bytes>,
) {
    let mut batch = Batch::default();
    while let Some(first) = frames.recv().await {
        let mut closing = first.is_empty();
        batch.push(first);
        while !closing && batch.frames.len() < BATCH {
            match frames.try_recv() {
                Ok(frame) => {
                    closing = frame.is_empty();
                    batch.push(frame);
                }
                Err(_) => break,
            }
        }
        if let Err(e) = out.write_all_buf(&mut batch).await {
            tracing::debug!(error = %e, "native connection: writing failed");
            return;
        }
        if out.flush().await.is_err() || closing {
            break;
        }
    }
    let _ = out.shutdown().await;
}

/// Queued frames as one [`Buf`], for vectored writes.
#[derive(Default)]
struct Batch {
    frames: VecDeque<Bytes>,
    remaining: usize,
}

impl Batch {
    fn push(&mut self, frame: Bytes) {
        self.remaining += frame.len();
        self.frames.push_back(frame);
    }
}

impl Buf for Batch {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.frames.front().map_or(&[], |f| &f[..])
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, frame) in dst.iter_mut().zip(self.frames.iter()) {
            *slot = IoSlice::new(frame);
            n += 1;
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        self.remaining -= cnt.min(self.remaining);
        while cnt > 0 {
            let Some(front) = self.frames.front_mut() else {
                return;
            };
            if cnt < front.len() {
                front.advance(cnt);
                return;
            }
            cnt -= front.len();
            self.frames.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_advances_across_frames() {
        let mut batch = Batch::default();
        batch.push(Bytes::from_static(b"abc"));
        batch.push(Bytes::from_static(b"de"));
        batch.push(Bytes::from_static(b"f"));
        batch.advance(4);
        assert_eq!(batch.remaining(), 2);
        assert_eq!(batch.chunk(), b"e");
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(batch.chunks_vectored(&mut slices), 2);
        batch.advance(2);
        assert_eq!(batch.remaining(), 0);
        assert!(batch.chunk().is_empty());
    }
}
