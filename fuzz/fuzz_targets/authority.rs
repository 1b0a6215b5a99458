//! What a host sends on a plugin's server connection, through the `:authority` rewrite that
//! stands before h2 (plugin-runtime `transport::authority`): one HPACK header block, or a whole
//! client byte stream (preface, frames). A rewritten header block stays within
//! `MAX_HEADER_BLOCK` and rewrites to itself (its `:authority` is already acceptable).
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_runtime::__private::{MAX_HEADER_BLOCK, rewrite_client_bytes, rewrite_header_block};

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(block) = rewrite_header_block(data) {
            assert!(block.len() <= MAX_HEADER_BLOCK, "{} bytes", block.len());
            let again = rewrite_header_block(&block)
                .unwrap_or_else(|e| panic!("a rewritten block does not decode: {e}"));
            assert_eq!(again, block, "rewriting twice changed the block");
        }
    } else {
        let _ = rewrite_client_bytes(data);
    }
});
