//! gob, as the netrpc protocol reads a peer's stream (plugin-core `gob`): a net/rpc server
//! reading calls (`ServerCodec`), a client reading answers (`ClientCodec`), or a stream of values
//! (`Decoder`) into the dynamic `GobValue`. Malformed input is an error, never a panic; the
//! decoder's `Limits` keep allocation and nesting bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_core::gob::netrpc::{ClientCodec, ServerCodec};
use plugin_core::gob::{Decoder, GobValue};

/// Calls, answers or values read from one input at most.
const MAX_ITEMS: usize = 64;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let mut server = ServerCodec::new(data, std::io::sink());
            for _ in 0..MAX_ITEMS {
                if server.read_request_header().is_err()
                    || server.read_request_body::<GobValue>().is_err()
                {
                    break;
                }
            }
        }
        1 => {
            let mut client = ClientCodec::new(data, std::io::sink());
            for _ in 0..MAX_ITEMS {
                if client.read_response_header().is_err()
                    || client.read_response_body::<GobValue>().is_err()
                {
                    break;
                }
            }
        }
        _ => {
            let mut decoder = Decoder::new(data);
            for _ in 0..MAX_ITEMS {
                if decoder.decode::<GobValue>().is_err() {
                    break;
                }
            }
        }
    }
});
