//! The frames of a plugin's `plugin.GRPCStdio/StreamStdio` stream (protobuf `StdioData`) as the
//! host handles them: to its writers, or to its log line by line. Writers receive exactly the
//! frames' bytes, never more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_runtime::__private::fuzz_stdio_frames;

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
        let Some((&mode, frames)) = input.split_first() else {
            return;
        };
        let writers = mode & 1 == 1;
        let seen = fuzz_stdio_frames(frames, writers);
        let written = seen.stdout.len() + seen.stderr.len();
        assert!(
            written <= seen.frame_bytes,
            "{written} bytes written from {} in frames",
            seen.frame_bytes
        );
        if !writers {
            assert_eq!(written, 0, "no writers: everything goes to the log");
        }
    }
);
