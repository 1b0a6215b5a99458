//! End-to-end tests: real plugin processes, real sockets.

mod common;
mod interfaces;
mod interop;
mod lifecycle;
mod plugin_side;
mod reattach;
mod security;
mod start_errors;
mod stdio_logs;
