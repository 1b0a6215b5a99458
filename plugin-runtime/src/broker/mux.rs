//! The broker's multiplexed mode (go-plugin 1.6+, `PLUGIN_MULTIPLEX_GRPC`): brokered
//! connections are streams of the one yamux session on the plugin's main socket. A dialler
//! knocks with the id on the control stream; the acceptor answers; the next stream the dialler
//! opens is that id's. Streams nobody knocked for go to the plugin's main server.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use super::WAIT;
use crate::transport::io::{Address, BoxedIo};
use crate::transport::listener::Listener;
use crate::transport::mux::Mux;

/// Streams queued for one brokered server.
const QUEUE: usize = 4;

#[derive(Default)]
pub(crate) struct MuxState {
    /// The session, once the host has connected.
    session: watch::Sender<Option<Mux>>,
    /// The servers this side brokers, by id: where their streams go.
    listeners: Mutex<HashMap<u32, mpsc::Sender<BoxedIo>>>,
    /// Ids whose stream comes next, in the order their knocks were answered.
    expected: Mutex<VecDeque<u32>>,
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
        tokio::spawn(async move {
            while let Some(stream) = inbound.recv().await {
                let Some(state) = state.upgrade() else { return };
                let expected = state.expected.lock().ok().and_then(|mut e| e.pop_front());
                let target = match expected {
                    Some(id) => state
                        .listeners
                        .lock()
                        .ok()
                        .and_then(|l| l.get(&id).cloned()),
                    None => default.clone(),
                };
                match target {
                    Some(target) => {
                        if target.send(stream).await.is_err() {
                            tracing::debug!("a multiplexed stream's server is gone");
                        }
                    }
                    None => tracing::debug!("dropped a multiplexed stream nobody knocked for"),
                }
            }
        });
    }

    /// Where the streams for `id` will come from.
    pub(super) fn listen(&self, id: u32) -> Listener {
        let (streams, incoming) = mpsc::channel(QUEUE);
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.insert(id, streams);
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
        Listener::Streams {
            streams: tokio::sync::Mutex::new(incoming),
            address,
        }
    }

    pub(super) fn unlisten(&self, id: u32) {
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.remove(&id);
        }
    }

    /// A knock for `id`: the next stream is its, if this side serves it (go-plugin's answer
    /// otherwise: `no listener for id N`).
    pub(super) fn knocked(&self, id: u32) -> Result<(), String> {
        let served = self
            .listeners
            .lock()
            .map(|l| l.contains_key(&id))
            .unwrap_or(false);
        if !served {
            return Err(format!("no listener for id {id}"));
        }
        if let Ok(mut expected) = self.expected.lock() {
            expected.push_back(id);
        }
        Ok(())
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
