//! The peer's `ConnInfo` messages on the broker's control stream (`plugin.GRPCBroker/StartStream`)
//! as a broker handles them: knocks answered (multiplexed mode) or refused, connection info kept
//! for the dial of its id and read into an address. Answers are knock acks for ids knocked for;
//! remembered sockets stay bounded; a closed broker refuses dials.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_runtime::__private::fuzz_broker_conn_info;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, messages)) = input.split_first() else {
        return;
    };
    let seen = fuzz_broker_conn_info(messages, mode & 1 == 1);
    assert!(seen.answers.len() <= seen.knocks, "{seen:?}");
    assert!(
        seen.answers.iter().all(|&(_, knock, ack)| knock && ack),
        "{seen:?}"
    );
    assert!(seen.peer_sockets <= seen.messages.min(1024), "{seen:?}");
    assert!(
        seen.closed_refused,
        "a closed broker must refuse a dial: {seen:?}"
    );
    for (id, dial) in &seen.dials {
        if let Err(e) = dial {
            assert!(e.contains(&format!("broker id {id}")), "{e}");
        }
    }
});
