//! The serde interfaces' codec (`Bincode::decode`) on a peer's message bytes, for the shapes
//! interfaces use: strings, byte buffers, sequences, maps, options, results, tuples. A value
//! that decodes re-encodes to the same bytes; allocation stays bounded by the input (libFuzzer's
//! -malloc_limit_mb catches a length prefix trusted for an allocation).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use plugin_core::{Bincode, ByteBuf, Codec};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = Bincode::decode::<T>(data) {
        let mut again = Vec::new();
        Bincode::encode(&value, &mut again).expect("a decoded value encodes");
        let back: T = Bincode::decode(&again).expect("its encoding decodes");
        assert_eq!(back, value);
    }
}

type Shapes = (
    String,
    ByteBuf,
    Vec<u64>,
    BTreeMap<String, Vec<i32>>,
    Option<(bool, char, f64)>,
    Result<Vec<String>, String>,
);

fuzz_target!(|input: &[u8]| {
    let Some((&shape, data)) = input.split_first() else {
        return;
    };
    match shape % 7 {
        0 => round_trip::<String>(data),
        1 => round_trip::<ByteBuf>(data),
        2 => round_trip::<Vec<u64>>(data),
        3 => round_trip::<BTreeMap<String, Vec<i32>>>(data),
        4 => round_trip::<Result<Vec<String>, String>>(data),
        5 => round_trip::<Vec<Vec<u8>>>(data),
        _ => {
            // f64 NaN is not equal to itself: decode only.
            let _ = Bincode::decode::<Shapes>(data);
        }
    }
});
