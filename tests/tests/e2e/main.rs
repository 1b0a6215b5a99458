//! End-to-end tests: real plugin processes, real sockets.

mod broker;
mod callbacks;
mod common;
mod interfaces;
mod interop;
mod lifecycle;
mod multiplex;
mod plugin_side;
mod reattach;
mod security;
mod start_errors;
mod stdio_logs;
mod streaming;
mod streams;
