//! Shared helpers for the end-to-end tests.

pub mod brokered;
pub mod bulk;
pub mod interfaces;
pub mod streams;

/// Set (to anything) in a fixture plugin's environment, it refuses the native transport even to
/// a host that asks for it (`ServeConfig::native_transport(false)`): a pair forced to gRPC from
/// the plugin's side.
pub const GRPC_ONLY: &str = "FIXTURE_GRPC_ONLY";

/// `config` as the test asked: refusing the native transport when [`GRPC_ONLY`] is set.
pub fn transport_of_test(config: plugin_runtime::ServeConfig) -> plugin_runtime::ServeConfig {
    config.native_transport(std::env::var_os(GRPC_ONLY).is_none())
}
