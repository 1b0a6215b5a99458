//! The handshake line a plugin prints on stdout, as the host parses it
//! (`HandshakeLine::from_str`). A line that parses re-renders to one that parses to the same
//! value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_core::HandshakeLine;

fuzz_target!(|data: &[u8]| {
    // The host reads stdout as lossy UTF-8 (client/logs.rs `Lines`).
    let text = String::from_utf8_lossy(data);
    let Ok(line) = text.parse::<HandshakeLine>() else {
        return;
    };
    let rendered = line.to_string();
    let again: HandshakeLine = rendered
        .parse()
        .unwrap_or_else(|e| panic!("{rendered:?} (from {text:?}) does not parse back: {e}"));
    assert_eq!(again, line, "{text:?} re-rendered as {rendered:?}");
});
