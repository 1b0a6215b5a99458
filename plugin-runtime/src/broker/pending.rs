//! Connection info from the peer, by id, until it is dialled or has waited 5 s (go-plugin's
//! "client streams": one slot per id, a second message for a full slot is dropped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::WAIT;
use crate::proto::ConnInfo;

type Slot = Arc<watch::Sender<Option<ConnInfo>>>;

#[derive(Default)]
pub(super) struct Pending {
    slots: Mutex<HashMap<u32, Slot>>,
    closed: watch::Sender<bool>,
}

impl Pending {
    fn slot(&self, id: u32) -> Option<Slot> {
        let mut slots = self.slots.lock().ok()?;
        Some(slots.entry(id).or_default().clone())
    }

    fn remove(&self, id: u32, slot: &Slot) {
        if let Ok(mut slots) = self.slots.lock()
            && slots.get(&id).is_some_and(|s| Arc::ptr_eq(s, slot))
        {
            slots.remove(&id);
        }
    }

    /// Keeps `info` for the dial of its id, for 5 s at most.
    pub(super) fn offer(self: &Arc<Self>, info: ConnInfo) {
        let id = info.service_id;
        let Some(slot) = self.slot(id) else { return };
        let kept = slot.send_if_modified(|held| {
            if held.is_some() {
                return false;
            }
            *held = Some(info);
            true
        });
        if !kept {
            tracing::debug!(
                id,
                "dropped connection info: one for this id is already waiting"
            );
            return;
        }
        let pending = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(WAIT).await;
            if let Some(pending) = pending.upgrade() {
                pending.remove(id, &slot);
            }
        });
    }

    /// The connection info of `id`, once it arrives; `None` once the broker is closed.
    pub(super) async fn take(&self, id: u32) -> Option<ConnInfo> {
        let slot = self.slot(id)?;
        // Whatever ends this wait (the info, the broker's end, the caller's timeout), the slot
        // goes with it, unless it already holds the info for a later dial.
        struct Clear<'a>(&'a Pending, u32, &'a Slot);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                if self.2.borrow().is_none() {
                    self.0.remove(self.1, self.2);
                }
            }
        }
        let _clear = Clear(self, id, &slot);
        let mut held = slot.subscribe();
        let mut closed = self.closed.subscribe();
        tokio::select! {
            info = held.wait_for(Option::is_some) => {
                let info = info.ok().and_then(|info| info.clone());
                slot.send_replace(None);
                self.remove(id, &slot);
                info
            }
            _ = closed.wait_for(|closed| *closed) => None,
        }
    }

    /// Forgets whatever is held for `id`.
    pub(super) fn clear(&self, id: u32) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(&id);
        }
    }

    pub(super) fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut slots) = self.slots.lock() {
            slots.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u32, address: &str) -> ConnInfo {
        ConnInfo {
            service_id: id,
            network: "unix".into(),
            address: address.into(),
            knock: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_message_per_id_is_kept_for_5_s_and_a_second_is_dropped() {
        let pending = Arc::new(Pending::default());
        pending.offer(info(1, "/first"));
        pending.offer(info(1, "/second"));
        let taken = pending.take(1).await.map(|i| i.address);
        assert_eq!(taken.as_deref(), Some("/first"));

        pending.offer(info(2, "/late"));
        tokio::time::sleep(WAIT + std::time::Duration::from_millis(10)).await;
        let waited = tokio::time::timeout(std::time::Duration::from_secs(1), pending.take(2)).await;
        assert!(waited.is_err(), "expired after 5 s: nothing to take");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dial_waiting_when_the_broker_closes_gets_nothing() {
        let pending = Arc::new(Pending::default());
        let waiting = {
            let pending = pending.clone();
            tokio::spawn(async move { pending.take(7).await })
        };
        tokio::task::yield_now().await;
        pending.close();
        assert!(waiting.await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_arriving_after_the_dial_started_reaches_it() {
        let pending = Arc::new(Pending::default());
        let waiting = {
            let pending = pending.clone();
            tokio::spawn(async move { pending.take(3).await })
        };
        tokio::task::yield_now().await;
        pending.offer(info(3, "/now"));
        let got = waiting.await.unwrap().map(|i| i.address);
        assert_eq!(got.as_deref(), Some("/now"));
    }
}
