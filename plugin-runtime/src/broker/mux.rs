//! The broker's multiplexed mode (go-plugin 1.6+, `PLUGIN_MULTIPLEX_GRPC`): brokered
//! connections are streams of the one yamux session on the plugin's main socket. A dialler
//! knocks with the id on the control stream; the acceptor answers; the next stream the dialler
//! opens is that id's. Streams nobody knocked for go to the plugin's main server.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

use tokio::sync::{mpsc, watch};

use super::WAIT;
use crate::transport::io::{Address, BoxedIo};
use crate::transport::listener::Listener;
use crate::transport::mux::Mux;

/// Streams queued for one brokered server; more are dropped (the dialler's handshake fails)
/// rather than hold up every other server's.
const QUEUE: usize = 4;
/// Knocks held for ids not served yet; more are refused at once.
const EARLY_KNOCKS: usize = 64;
/// Answered knocks waiting for their stream, at most (the oldest goes first).
const EXPECTED_KNOCKS: usize = 1024;

/// What a knock gets.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Knocked {
    /// The next stream is the id's: answer now.
    Expected,
    /// Nothing serves the id yet: answer when it is served (within the dial's wait).
    Held,
    /// Refused: go-plugin's error text for the answer.
    Refused(String),
}

#[derive(Default)]
pub(crate) struct MuxState {
    /// The session, once the host has connected.
    session: watch::Sender<Option<Mux>>,
    /// The servers this side brokers, by id: where their streams go.
    listeners: Mutex<HashMap<u32, mpsc::Sender<BoxedIo>>>,
    /// Ids whose stream comes next, in the order their knocks were answered; an entry older
    /// than the dial's wait belongs to a dialler that gave up, and is skipped.
    expected: Mutex<VecDeque<(u32, Instant)>>,
    /// Knocks for ids not served yet (go-plugin answers them once the id is accepted).
    early: Mutex<HashMap<u32, Instant>>,
    /// Set when the broker closes: the router stops, and with it the session.
    closed: watch::Sender<bool>,
    /// Dials go one at a time (knock, answer, open), so streams arrive in knock order.
    pub(super) dialing: tokio::sync::Mutex<()>,
    /// The session's address, for the listeners' own.
    address: Mutex<Option<Address>>,
}

impl std::fmt::Debug for MuxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MuxState")
            .field("connected", &self.session.borrow().is_some())
            .finish_non_exhaustive()
    }
}

impl MuxState {
    /// Takes over a session: its streams go to the id whose knock was answered first, or else
    /// to `default` (the plugin's main server; the host has none, and drops them).
    pub(crate) fn attach(
        self: &Arc<Self>,
        mux: Mux,
        address: Address,
        mut inbound: mpsc::Receiver<BoxedIo>,
        default: Option<mpsc::Sender<BoxedIo>>,
    ) {
        if let Ok(mut slot) = self.address.lock() {
            *slot = Some(address);
        }
        self.session.send_replace(Some(mux));
        let state = Arc::downgrade(self);
        let mut closed = self.closed.subscribe();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    stream = inbound.recv() => stream,
                    _ = closed.wait_for(|closed| *closed) => None,
                };
                let Some(stream) = stream else { return };
                let Some(state) = state.upgrade() else { return };
                state.route(stream, default.as_ref());
            }
        });
    }

    /// Gives a stream to the id whose knock was answered first (and is still current), else to
    /// `default`. Never waits: a server that is not taking streams loses this one.
    fn route(&self, stream: BoxedIo, default: Option<&mpsc::Sender<BoxedIo>>) {
        let expected = self.expected.lock().ok().and_then(|mut expected| {
            while let Some((id, at)) = expected.pop_front() {
                if at.elapsed() < WAIT {
                    return Some(id);
                }
                tracing::debug!(id, "skipped a knock whose dialler gave up");
            }
            None
        });
        let target = match expected {
            Some(id) => self.listeners.lock().ok().and_then(|l| l.get(&id).cloned()),
            None => default.cloned(),
        };
        match target {
            Some(target) => {
                if target.try_send(stream).is_err() {
                    tracing::debug!("dropped a multiplexed stream: its server is gone or busy");
                }
            }
            None => tracing::debug!("dropped a multiplexed stream nobody knocked for"),
        }
    }

    /// The broker closed: no more streams are routed, and the session ends.
    pub(super) fn close(&self) {
        self.closed.send_replace(true);
        self.session.send_replace(None);
    }

    /// Where the streams for `id` will come from; `true` when a knock for it was already
    /// waiting (it is now expected, and must be answered).
    pub(super) fn listen(&self, id: u32) -> (Listener, bool) {
        let (streams, incoming) = mpsc::channel(QUEUE);
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.insert(id, streams);
        }
        let early = self
            .early
            .lock()
            .ok()
            .and_then(|mut early| early.remove(&id))
            .is_some_and(|at| at.elapsed() < WAIT);
        if early {
            self.expect(id);
        }
        let address = self
            .address
            .lock()
            .ok()
            .and_then(|a| a.clone())
            .unwrap_or_else(|| Address {
                network: plugin_core::Network::Unix,
                address: String::new(),
            });
        let listener = Listener::Streams {
            streams: tokio::sync::Mutex::new(incoming),
            address,
        };
        (listener, early)
    }

    fn expect(&self, id: u32) {
        if let Ok(mut expected) = self.expected.lock() {
            // Knocks older than the dial's wait are dead; and a peer that knocks without ever
            // opening the stream must not grow the queue without bound.
            while expected.front().is_some_and(|(_, at)| at.elapsed() >= WAIT)
                || expected.len() >= EXPECTED_KNOCKS
            {
                expected.pop_front();
            }
            expected.push_back((id, Instant::now()));
        }
    }

    pub(super) fn unlisten(&self, id: u32) {
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.remove(&id);
        }
    }

    /// A knock for `id`: the next stream is its if this side serves it; held until it does
    /// (within the dial's wait) otherwise, as go-plugin holds knocks for ids not accepted yet.
    pub(super) fn knocked(&self, id: u32) -> Knocked {
        let serving = self
            .listeners
            .lock()
            .ok()
            .and_then(|l| l.get(&id).map(|streams| !streams.is_closed()));
        match serving {
            Some(true) => {
                self.expect(id);
                Knocked::Expected
            }
            // Its server took its one connection already, or stopped.
            Some(false) => Knocked::Refused(format!("no listener for id {id}")),
            None => {
                let Ok(mut early) = self.early.lock() else {
                    return Knocked::Refused(format!("no listener for id {id}"));
                };
                early.retain(|_, at| at.elapsed() < WAIT);
                if early.len() >= EARLY_KNOCKS {
                    return Knocked::Refused(format!("no listener for id {id}"));
                }
                early.insert(id, Instant::now());
                Knocked::Held
            }
        }
    }

    /// A new stream to the peer, once the session is up (waiting up to 5 s, as go-plugin).
    pub(super) async fn open(&self) -> io::Result<BoxedIo> {
        let mut session = self.session.subscribe();
        let timed_out = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "timed out waiting for the multiplexed connection to be established",
            )
        };
        let mux = tokio::time::timeout(WAIT, session.wait_for(Option::is_some))
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| timed_out())?
            .clone()
            .ok_or_else(timed_out)?;
        mux.open().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_knock_before_the_id_is_served_is_held_and_expected_once_it_is() {
        let state = MuxState::default();
        assert_eq!(state.knocked(5), Knocked::Held);
        let (listener, knocked_early) = state.listen(5);
        assert!(
            knocked_early,
            "the held knock is answered when the id is served"
        );
        assert_eq!(state.knocked(5), Knocked::Expected);
        drop(listener);
        assert_eq!(
            state.knocked(5),
            Knocked::Refused("no listener for id 5".into()),
            "a server that took its connection (or stopped) refuses"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn knocks_without_streams_do_not_grow_the_queue_without_bound() {
        let state = MuxState::default();
        let (_listener, _) = state.listen(7);
        for _ in 0..10 * EXPECTED_KNOCKS {
            assert_eq!(state.knocked(7), Knocked::Expected);
        }
        let queued = || state.expected.lock().map(|e| e.len()).unwrap_or(usize::MAX);
        assert_eq!(queued(), EXPECTED_KNOCKS);
        // Past the dial's wait they are all dead, and go with the next knock.
        tokio::time::sleep(WAIT).await;
        assert_eq!(state.knocked(7), Knocked::Expected);
        assert_eq!(queued(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_knock_expires_with_the_dials_wait() {
        let state = MuxState::default();
        assert_eq!(state.knocked(6), Knocked::Held);
        tokio::time::sleep(WAIT).await;
        let (_listener, knocked_early) = state.listen(6);
        assert!(!knocked_early, "its dialler gave up");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_expectation_does_not_take_the_next_stream() {
        let state = MuxState::default();
        let (_stale, _) = state.listen(1);
        let (current, _) = state.listen(2);
        assert_eq!(state.knocked(1), Knocked::Expected);
        tokio::time::sleep(WAIT).await; // id 1's dialler gave up
        assert_eq!(state.knocked(2), Knocked::Expected);
        let (a, _b) = tokio::io::duplex(64);
        state.route(BoxedIo::new(a), None);
        let Listener::Streams { streams, .. } = current else {
            panic!("a multiplexed listener")
        };
        assert!(
            streams.lock().await.try_recv().is_ok(),
            "the stream went to id 2"
        );
    }
}
