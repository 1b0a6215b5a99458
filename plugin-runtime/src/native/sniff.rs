//! Telling a native connection from a gRPC one by its first bytes, and giving the gRPC server
//! back the bytes read to tell.

use tokio::io::AsyncReadExt as _;

use super::frame::{MUX_PREFACE, PREFACE, PREFACE_FAMILY};
use crate::transport::io::{BoxedIo, Prefixed};
use crate::transport::serve::CONNECTION_TIMEOUT;

/// What a connection turned out to be.
pub(crate) enum Sniffed {
    /// The native preface, consumed.
    Native(BoxedIo),
    /// The preface of the host's session for callbacks, consumed.
    Session(BoxedIo),
    /// Anything else (HTTP/2), with its first bytes put back.
    Other(BoxedIo),
}

/// Reads up to the preface's length from `io` and says which protocol it speaks; `None` when
/// the peer closes or fails first, or sends nothing telling for [`CONNECTION_TIMEOUT`].
pub(crate) async fn sniff(mut io: BoxedIo) -> Option<Sniffed> {
    let mut head = [0u8; PREFACE.len()];
    let mut filled = 0;
    let read = async {
        while filled < head.len() {
            match io.read(&mut head[filled..]).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => filled += n,
            }
            // An HTTP/2 preface differs at its first byte: no need to wait for more.
            if head[..filled] != PREFACE[..filled] && head[..filled] != MUX_PREFACE[..filled] {
                break;
            }
        }
        true
    };
    match tokio::time::timeout(CONNECTION_TIMEOUT, read).await {
        Ok(true) => {}
        Ok(false) => return None,
        Err(_) => {
            tracing::warn!(
                "refused a connection: nothing telling its protocol within {CONNECTION_TIMEOUT:?}"
            );
            return None;
        }
    }
    if &head[..filled] == PREFACE {
        return Some(Sniffed::Native(io));
    }
    if &head[..filled] == MUX_PREFACE {
        return Some(Sniffed::Session(io));
    }
    if filled == PREFACE.len() && head.starts_with(PREFACE_FAMILY) {
        tracing::warn!(
            theirs = %String::from_utf8_lossy(&head[PREFACE_FAMILY.len()..]),
            ours = %String::from_utf8_lossy(&PREFACE[PREFACE_FAMILY.len()..]),
            "refused a native connection of another wire version: build the host and the plugin \
             with the same SDK version, or force gRPC (`native_transport(false)`)"
        );
        return None;
    }
    Some(Sniffed::Other(Prefixed::boxed(&head[..filled], io)))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_says_its_protocol_is_let_go() {
        let (mut a, b) = tokio::net::UnixStream::pair().unwrap();
        // One byte of the preface, then nothing.
        a.write_all(&PREFACE[..1]).await.unwrap();
        let started = tokio::time::Instant::now();
        assert!(sniff(BoxedIo::new(b)).await.is_none());
        assert!(started.elapsed() >= CONNECTION_TIMEOUT);
        drop(a);
    }

    #[tokio::test]
    async fn the_preface_is_consumed_and_anything_else_is_replayed() {
        let (mut a, b) = tokio::net::UnixStream::pair().unwrap();
        a.write_all(&[&PREFACE[..], b"rest"].concat())
            .await
            .unwrap();
        let Some(Sniffed::Native(mut io)) = sniff(BoxedIo::new(b)).await else {
            panic!("not recognised as native");
        };
        let mut rest = [0; 4];
        io.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"rest");

        let (mut a, b) = tokio::net::UnixStream::pair().unwrap();
        a.write_all(b"PRI * HTTP/2.0").await.unwrap();
        drop(a);
        let Some(Sniffed::Other(mut io)) = sniff(BoxedIo::new(b)).await else {
            panic!("HTTP/2 taken for native");
        };
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"PRI * HTTP/2.0");

        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        drop(a);
        assert!(sniff(BoxedIo::new(b)).await.is_none());

        // The callbacks' session is told apart from a native connection.
        let (mut a, b) = tokio::net::UnixStream::pair().unwrap();
        a.write_all(MUX_PREFACE).await.unwrap();
        assert!(matches!(
            sniff(BoxedIo::new(b)).await,
            Some(Sniffed::Session(_))
        ));

        // Another version of the native wire is refused, not taken for HTTP/2.
        let (mut a, b) = tokio::net::UnixStream::pair().unwrap();
        a.write_all(b"RSNATV01rest").await.unwrap();
        assert!(sniff(BoxedIo::new(b)).await.is_none());
    }
}
