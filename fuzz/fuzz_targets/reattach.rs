//! Reattach JSON (`ReattachConfig`, and the `TF_REATTACH_PROVIDERS`-style map of them), as a host
//! reads it. What parses serialises back to JSON that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_core::{ReattachConfig, ReattachMap};

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = serde_json::from_slice::<ReattachConfig>(data) {
        let json = serde_json::to_string(&config).expect("a config serialises");
        let back: ReattachConfig = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{json} does not parse back: {e}"));
        assert_eq!(back, config);
    }
    if let Ok(map) = serde_json::from_slice::<ReattachMap>(data) {
        let json = serde_json::to_string(&map).expect("a map serialises");
        let back: ReattachMap = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{json} does not parse back: {e}"));
        assert_eq!(back, map);
    }
});
