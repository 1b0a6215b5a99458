//! The floor: unix-socket round trips and spawns, measured first.

use std::path::Path;

use super::{Bench, median_ns, progress};
use crate::floor::{self, CopyBatch, PingPong};
use crate::results::{CopyFloor, Direction, Floor, SocketFloor, SpawnFloor};
use crate::stats::Summary;

impl Bench {
    /// The unix-socket round trips at every size, plain then in TLS, the copies of the stream throughput's items
    /// each way (once per round), then the spawns of `/bin/true`.
    pub(super) fn floor(&self, exe: &Path) -> Result<Floor, String> {
        progress("floor: unix-socket round trips between two processes");
        let batches: Vec<PingPong> = self
            .plan
            .sizes
            .iter()
            .map(|s| PingPong {
                size: s.bytes,
                calls: s.floor_calls,
                warmup: s.floor_calls / 10 + 1,
            })
            .collect();
        let summaries = floor::unix_socket_round_trips(exe, &batches)
            .map_err(|e| format!("unix-socket floor: {e}"))?;
        let unix_socket = socket_floors(&batches, summaries);
        progress("floor: the same round trips in TLS, as AutoMTLS configures it");
        let (summaries, tls_negotiated) =
            floor::tls_round_trips(exe, &batches).map_err(|e| format!("TLS floor: {e}"))?;
        let tls_unix_socket = socket_floors(&batches, summaries);
        progress("floor: items copied through a unix socket between two processes");
        let stream = self.plan.stream;
        let copies: Vec<CopyBatch> = (0..self.plan.rounds)
            .flat_map(|_| Direction::ALL)
            .map(|direction| CopyBatch {
                direction,
                size: stream.size,
                items: stream.items,
                warmup: stream.warmup,
            })
            .collect();
        let summaries = floor::unix_socket_copies(exe, &copies)
            .map_err(|e| format!("unix-socket copy floor: {e}"))?;
        let copy = Direction::ALL
            .into_iter()
            .map(|direction| {
                let rounds: Vec<Summary> = copies
                    .iter()
                    .zip(&summaries)
                    .filter(|(c, _)| c.direction == direction)
                    .map(|(_, s)| *s)
                    .collect();
                CopyFloor {
                    direction,
                    size: stream.size,
                    items: stream.items,
                    mib_per_s: super::median_mib_per_s(&rounds, stream.size),
                    rounds,
                }
            })
            .collect();
        progress("floor: spawn + wait of a trivial binary");
        let all = floor::spawn_and_wait("/bin/true", &[], self.plan.spawn_runs)
            .map_err(|e| format!("spawn floor: {e}"))?;
        Ok(Floor {
            unix_socket,
            copy,
            spawn: vec![spawn_floor("/bin/true", all)],
            tls_unix_socket,
            tls_negotiated: Some(tls_negotiated),
        })
    }
}

fn socket_floors(batches: &[PingPong], summaries: Vec<Summary>) -> Vec<SocketFloor> {
    batches
        .iter()
        .zip(summaries)
        .map(|(b, s)| SocketFloor {
            size: b.size,
            p50_ns: s.p50_ns,
            p99_ns: s.p99_ns,
            summary: s,
        })
        .collect()
}

fn spawn_floor(command: &str, all: Vec<u64>) -> SpawnFloor {
    SpawnFloor {
        command: command.to_string(),
        p50_ns: median_ns(&all),
        min_ns: all.iter().copied().min().unwrap_or(0),
        all_ns: all,
    }
}
