//! The benchmark harness of rust-plugin: where we stand against go-plugin and against the
//! physical floor, measured side by side in one run on one machine.
//!
//! `plugin-bench` (this crate's main binary) measures, in one run:
//!
//! - the floor ([`floor`]): a unix-socket round trip between two processes, the same in TLS
//!   as AutoMTLS configures it (the TLS floor, [`floor::tls`]), and the spawn of `/bin/true`;
//! - per-call round trips (p50, p99) of 64 B, 64 KiB and 1 MiB `Get`s: Rust host with Rust
//!   plugin (over gRPC, and over this SDK's native transport), go-plugin's Go host with Go
//!   plugin, and both crossings ([`rust`], [`go`]), with AutoMTLS off and on;
//! - callback round trips (host → plugin → host → plugin → host, 64 B): the plugin calls back a
//!   `bench.Callback` the host serves through the broker, dialled once beforehand; Rust and
//!   go-plugin hosts and plugins in all four pairings, Rust → Rust also with the native
//!   transport on ([`interface::Caller`]); and Rust → Rust, gRPC and native, as
//!   `#[plugin_interface]` callbacks travel: an `Arc<dyn Echo>` argument, kept from one call
//!   or passed with every call ([`interface::Relay`]);
//! - throughput with 1, 16 and 64 concurrent callers on one dispensed client;
//! - stream throughput (MiB/s) of 64 KiB items, plugin → host (server streaming) and host →
//!   plugin (client streaming), in the same pairings over `bench.Transfer`
//!   ([`interface::Transfer`]), against the same items copied through a unix socket;
//! - start-up, spawn to first successful call;
//! - the plugin's resident memory after 10,000 calls;
//! - under one go-plugin host (`go-bench-pair-host`), our plugin and go-plugin's timed
//!   alternately: start-up, 64 B round trips and resident memory, AutoMTLS off and on;
//!
//! then prints a markdown report of medians, ratios and the targets ([`report`],
//! [`targets`]) and writes `results.json` ([`results`]), `results.md` and `chart.png`
//! ([`chart`], drawn with plotters). `bench-plugin` is the Rust plugin it measures: an
//! in-memory store on go-plugin's `proto.KV` (from `plugin-fixtures`), the plugin side of the
//! callback round trip, and that of the stream throughput; `bench-kv-plugin` is the Rust plugin of
//! the process measurements (start-up, memory, under a go-plugin host): `proto.KV` only, as
//! go-kv-plugin, so that the other interfaces' code is not counted against the SDK.

#![deny(missing_docs)]

pub mod chart;
pub mod floor;
pub mod go;
pub mod interface;
pub mod memory;
pub mod plan;
pub mod report;
pub mod results;
pub mod run;
pub mod rust;
pub mod stats;
pub mod targets;
pub mod units;
