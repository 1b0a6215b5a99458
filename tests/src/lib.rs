//! Shared helpers for the end-to-end tests.

pub mod brokered;
pub mod bulk;
pub mod interfaces;
pub mod streams;
