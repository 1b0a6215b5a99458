//! A plugin's stderr as the host reads it: cut into lines (in pieces of any size), each line
//! classified by the hclog line parser (`hclog::Line::parse`: JSON entry, other JSON, plain) and
//! forwarded to the log, the last lines kept for error messages. The tail stays bounded, and an
//! hclog entry re-formatted with `Level::format` parses back to the same level and message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_core::hclog::{Level, Line};
use plugin_runtime::__private::fuzz_stderr;

/// 20 lines of at most 512 bytes plus `…`, each indented and ended.
const MAX_TAIL: usize = 20 * (2 + 512 + '…'.len_utf8() + 1);

fuzz_target!(
    init: {
        // Every event formatted, then thrown away: the forwarding code runs in full, and the
        // fuzzer's own output stays readable.
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_writer(std::io::sink)
            .try_init();
    },
    |input: &[u8]| {
        let Some((&piece, data)) = input.split_first() else {
            return;
        };
        let tail = fuzz_stderr(data, usize::from(piece) * 64 + 1);
        assert!(tail.len() <= MAX_TAIL, "tail of {} bytes", tail.len());

        for line in String::from_utf8_lossy(data).lines() {
            if let Line::Entry(entry) = Line::parse(line) {
                let fields = entry.fields.iter().map(|(k, v)| (k.clone(), v.clone()));
                let again = entry.level.format(&entry.message, "t", fields);
                let Line::Entry(back) = Line::parse(&again) else {
                    panic!("{again:?} (from {line:?}) is no longer an entry");
                };
                assert_eq!((back.level, &back.message), (entry.level, &entry.message));
                assert_eq!(Level::parse(entry.level.name()), Some(entry.level));
            }
        }
    }
);
