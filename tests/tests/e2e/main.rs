//! End-to-end tests: real plugin processes, real sockets.

mod broker;
mod callbacks;
mod common;
mod faults;
mod foreign_hosts;
mod gob;
mod interfaces;
mod interop;
mod lifecycle;
mod load;
mod multiplex;
mod native;
mod native_wire;
mod netrpc;
mod orphans;
mod plugin_side;
mod reattach;
mod runner;
mod security;
mod start_errors;
mod stdio_logs;
mod streaming;
mod streams;
mod transport_choice;
