//! The frames of the native transport (a length, a kind, a call id, a body) as either side
//! reads them off its connection, in reads of any size, with calls split into path and request
//! and error bodies read as statuses. Bodies read never add up to more than the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_runtime::__private::fuzz_native_frames;

fuzz_target!(|input: &[u8]| {
    let Some((&[limit, piece], frames)) = input.split_first_chunk::<2>() else {
        return;
    };
    // Limits from 0 to 64 KiB: small ones reach the skipping path often.
    let max = usize::from(limit) << 8;
    let seen = fuzz_native_frames(frames, max, usize::from(piece).max(1));
    assert!(
        seen.body_bytes <= frames.len(),
        "{} body bytes from {} bytes of input",
        seen.body_bytes,
        frames.len()
    );
});
