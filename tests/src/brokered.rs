//! The interfaces of `broker-fixture`: a plugin (`Worker`) that calls back into its host
//! (`Reporter`) through the broker, and serves a `Reporter` of its own for the host to dial, by
//! hand; and the same with typed callbacks (`Tasks`, taking `Arc<dyn Progress>` and returning
//! `Arc<dyn Tally>`), brokered by the generated code.

use std::sync::Arc;

use plugin_runtime::HandshakeConfig;

use crate::interfaces::JobError;

/// The handshake of the broker fixture.
pub fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "BROKER_FIXTURE", "callbacks")
}

/// What a host serves for its plugin to call back (and the plugin serves for its host).
#[plugin_runtime::plugin_interface]
pub trait Reporter {
    /// Answers `n` doubled; the host's fixture refuses 13, panics on 666 and kills the plugin
    /// on 999.
    async fn report(&self, n: u32) -> Result<u32, JobError>;
}

/// The plugin's side: work that reports to a host-served `Reporter` given by broker id.
#[plugin_runtime::plugin_interface]
pub trait Worker {
    /// Dials the `Reporter` the host serves as `reporter` and calls `report(n)` for each of
    /// `numbers`, all at once; returns the sum of the answers, or the first error.
    async fn work(&self, reporter: u32, numbers: Vec<u32>) -> Result<u64, JobError>;
    /// Dials the `Reporter` served as `reporter` and keeps it for `poke`, after this returns.
    async fn keep(&self, reporter: u32) -> Result<(), JobError>;
    /// Calls the kept `Reporter` with `n`.
    async fn poke(&self, n: u32) -> Result<u32, JobError>;
    /// Serves a `Reporter` (answering `n + 1000`) on the plugin's broker; returns its id.
    async fn offer(&self) -> Result<u32, JobError>;
    /// Stops serving what `offer` served.
    async fn withdraw(&self) -> Result<(), JobError>;
}

/// An event sink a host passes to its plugin as `Arc<dyn Progress>`: the typed callbacks of
/// `#[plugin_interface]`, served through the broker by the generated code.
#[plugin_runtime::plugin_interface]
pub trait Progress {
    /// Answers `n` doubled; the host's fixture refuses 13 and panics on 666.
    async fn report(&self, n: u32) -> Result<u32, JobError>;
}

/// A running total the plugin hands its host (`Tasks::tally`): an interface as a result.
#[plugin_runtime::plugin_interface]
pub trait Tally {
    /// Adds `n`; the new total.
    async fn add(&self, n: u64) -> Result<u64, JobError>;
}

/// The plugin's side of the typed callbacks, served by `broker-fixture` as "tasks".
#[plugin_runtime::plugin_interface]
pub trait Tasks {
    /// Calls `sink.report(n)` for each of `numbers`, all at once; the sum of the answers, or
    /// the first error.
    async fn run(&self, numbers: Vec<u32>, sink: Arc<dyn Progress>) -> Result<u64, JobError>;
    /// Keeps `sink` for `emit`, after this returns (written with the markers, which are
    /// accepted).
    async fn subscribe(&self, sink: Arc<dyn Progress + Send + Sync>) -> Result<(), JobError>;
    /// Calls the kept sink with `n`.
    async fn emit(&self, n: u32) -> Result<u32, JobError>;
    /// Drops the kept sink: the host's brokered server for it ends.
    async fn unsubscribe(&self) -> Result<(), JobError>;
    /// A new running total starting at `start`, served by the plugin for the host to call.
    async fn tally(&self, start: u64) -> Result<Arc<dyn Tally>, JobError>;
    /// A sink passed and returned at once: the plugin hands back what it received (a client of
    /// the host's sink, served again by the plugin).
    async fn echo(&self, sink: Arc<dyn Progress>) -> Result<Arc<dyn Progress>, JobError>;
}

/// go-plugin's bidirectional example on its own wire (`proto.Counter`, `proto.AddHelper`), with
/// the callback typed: `put` takes the host's `Arc<dyn AddHelper>`, which the generated code
/// serves and sends as `PutRequest.add_server`, as go-plugin's host does by hand.
pub mod counter {
    use std::sync::Arc;

    use plugin_runtime::{HandshakeConfig, Status};

    /// go-plugin's handshake for its bidirectional example.
    pub fn handshake() -> HandshakeConfig {
        HandshakeConfig::new(1, "BASIC_PLUGIN", "hello")
    }

    /// `proto.GetRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GetRequest {
        /// The key.
        #[prost(string, tag = "1")]
        pub key: String,
    }

    /// `proto.GetResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GetResponse {
        /// The count.
        #[prost(int64, tag = "1")]
        pub value: i64,
    }

    /// `proto.PutRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PutRequest {
        /// The broker id of the caller's `AddHelper`, written by the generated client.
        #[prost(uint32, tag = "1")]
        pub add_server: u32,
        /// The key.
        #[prost(string, tag = "2")]
        pub key: String,
        /// What to add.
        #[prost(int64, tag = "3")]
        pub value: i64,
    }

    /// `proto.Empty`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}

    /// `proto.SumRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SumRequest {
        /// One term.
        #[prost(int64, tag = "1")]
        pub a: i64,
        /// The other.
        #[prost(int64, tag = "2")]
        pub b: i64,
    }

    /// `proto.SumResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SumResponse {
        /// `a + b`.
        #[prost(int64, tag = "1")]
        pub r: i64,
    }

    /// `proto.Counter`, served by the plugin.
    #[plugin_runtime::plugin_interface(
        package = "proto",
        service = "Counter",
        encoding = "protobuf"
    )]
    pub trait Counter {
        /// The count of `key`.
        async fn get(&self, request: GetRequest) -> Result<GetResponse, Status>;
        /// Adds `value` to the count of `key`, the sum computed by the caller's `adder`.
        async fn put(
            &self,
            request: PutRequest,
            #[plugin(field = "add_server")] adder: Arc<dyn AddHelper>,
        ) -> Result<Empty, Status>;
    }

    /// `proto.AddHelper`, served by the host through the broker.
    #[plugin_runtime::plugin_interface(
        package = "proto",
        service = "AddHelper",
        encoding = "protobuf"
    )]
    pub trait AddHelper {
        /// `a + b`.
        async fn sum(&self, request: SumRequest) -> Result<SumResponse, Status>;
    }
}
