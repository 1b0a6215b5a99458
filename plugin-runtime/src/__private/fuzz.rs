//! Fuzz entry points (`fuzz/` at the repository root): each one runs the runtime's own handling
//! of a peer's bytes, the code a host or plugin runs, on input the fuzzer chooses. They return
//! what the fuzz target checks; nothing else should call them.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use prost::Message as _;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use crate::broker::{BrokerSetup, GrpcBroker, MuxState};
use crate::client::{StdioSinks, Tail, read_stderr};
use crate::exit::Ending;
use crate::proto::{ConnInfo, StdioData};
use crate::transport::codec::MessageLimits;
use crate::transport::listener::SocketPlace;

/// The plugin's stderr as a host reads it (`read_stderr`: cut into lines, copied to a writer,
/// kept in the tail, forwarded to the log as hclog entries or plain lines), arriving in reads of
/// at most `piece` bytes. Returns the tail, as error messages quote it.
pub fn fuzz_stderr(data: &[u8], piece: usize) -> String {
    let tail = Arc::new(Mutex::new(Tail::default()));
    let reader = Pieces {
        data,
        piece: piece.max(1),
    };
    let out: Box<dyn io::Write + Send> = Box::new(io::sink());
    futures::executor::block_on(read_stderr(reader, "fuzz".into(), tail.clone(), Some(out)));
    tail.lock().map(|t| t.text()).unwrap_or_default()
}

/// A reader handing out `data` at most `piece` bytes at a time, as a pipe may.
struct Pieces<'a> {
    data: &'a [u8],
    piece: usize,
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.piece.min(buf.remaining()).min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        buf.put_slice(now);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

/// What the host's writers received from a plugin's stdio stream.
#[derive(Debug, Default)]
pub struct FuzzStdio {
    /// The `StdioData` frames that decoded.
    pub frames: usize,
    /// The bytes of those frames, all channels.
    pub frame_bytes: usize,
    /// What reached the stdout writer.
    pub stdout: Vec<u8>,
    /// What reached the stderr writer.
    pub stderr: Vec<u8>,
}

/// A plugin's `plugin.GRPCStdio/StreamStdio` stream as the host handles it (`StdioSinks`):
/// `data` is a sequence of length-delimited `StdioData` messages, read until one does not decode.
/// With `writers` the frames go to writers given by the host, else to its log.
pub fn fuzz_stdio_frames(mut data: &[u8], writers: bool) -> FuzzStdio {
    let stdout = SharedWriter::default();
    let stderr = SharedWriter::default();
    let sink = |w: &SharedWriter| -> Option<Box<dyn io::Write + Send>> {
        writers.then(|| Box::new(w.clone()) as Box<dyn io::Write + Send>)
    };
    let mut sinks = StdioSinks::new(sink(&stdout), sink(&stderr), "fuzz".into());
    let mut seen = FuzzStdio::default();
    while !data.is_empty() {
        let Ok(frame) = StdioData::decode_length_delimited(&mut data) else {
            break;
        };
        seen.frames += 1;
        seen.frame_bytes += frame.data.len();
        sinks.frame(&frame);
    }
    sinks.finish();
    seen.stdout = stdout.take();
    seen.stderr = stderr.take();
    seen
}

#[derive(Clone, Default)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl SharedWriter {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

impl io::Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the broker made of the peer's control messages.
#[derive(Debug, Default)]
pub struct FuzzBroker {
    /// The messages that decoded.
    pub messages: usize,
    /// The knocks among them (`knock` set, `ack` not).
    pub knocks: usize,
    /// The answers the broker queued for the peer, as `(id, knock, ack)`.
    pub answers: Vec<(u32, bool, bool)>,
    /// Each id offered for a dial, with the address read from its connection info or why not.
    pub dials: Vec<(u32, Result<String, String>)>,
    /// The peer sockets remembered for clean-up.
    pub peer_sockets: usize,
    /// Whether a dial after the broker closed was refused as closed.
    pub closed_refused: bool,
}

/// The peer's side of `plugin.GRPCBroker/StartStream` as this side's broker handles it
/// (`GrpcBroker::received`, then `GrpcBroker::peer_address` for each id it was told about, as a
/// dial reads it): `data` is a sequence of length-delimited `ConnInfo` messages, read until one
/// does not decode. `multiplexed` turns the broker's multiplexed mode (knocks) on.
pub fn fuzz_broker_conn_info(mut data: &[u8], multiplexed: bool) -> FuzzBroker {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return FuzzBroker::default();
    };
    let ending = Ending::new();
    // The control stream's queue, as in `broker::control`.
    let (out, mut answers) = mpsc::channel(16);
    let setup = BrokerSetup {
        place: SocketPlace::default(),
        server_tls: None,
        client_tls: None,
        tls_required: false,
        peer: "fuzz".into(),
        limits: MessageLimits::both(4 << 20),
        exit: ending.watch(),
        mux: multiplexed.then(|| Arc::new(MuxState::default())),
        native: false,
        main: None,
    };
    runtime.block_on(async move {
        let broker = GrpcBroker::new(out, setup);
        let mut seen = FuzzBroker::default();
        let mut offered = std::collections::BTreeSet::new();
        while !data.is_empty() {
            let Ok(info) = ConnInfo::decode_length_delimited(&mut data) else {
                break;
            };
            seen.messages += 1;
            match &info.knock {
                Some(k) if k.knock && !k.ack => seen.knocks += 1,
                _ => {
                    offered.insert(info.service_id);
                }
            }
            broker.received(info);
        }
        while let Ok(answer) = answers.try_recv() {
            let knock = answer.knock.unwrap_or_default();
            seen.answers
                .push((answer.service_id, knock.knock, knock.ack));
        }
        for id in offered {
            let address = broker.peer_address(id).await;
            seen.dials.push((
                id,
                address.map(|a| a.to_string()).map_err(|e| e.to_string()),
            ));
        }
        seen.peer_sockets = broker.peer_sockets().len();
        broker.close();
        seen.closed_refused = matches!(
            broker.peer_address(1).await,
            Err(crate::BrokerError::Closed { .. })
        );
        seen
    })
}

/// What the reader of a native connection made of a peer's bytes.
#[derive(Debug, Default)]
pub struct FuzzNative {
    /// Frames read whole.
    pub frames: usize,
    /// Frames over the limit, skipped.
    pub skipped: usize,
    /// The bytes of the frames read whole (bodies), which never exceed the input.
    pub body_bytes: usize,
    /// Whether the stream ended with a read error (a malformed frame).
    pub refused: bool,
    /// The stream credit the WINDOW frames grant, in all.
    pub granted: usize,
}

/// A native connection's bytes (after the preface) as either side reads them: frames of at
/// most `max` bytes of message, arriving in reads of at most `piece` bytes; each call's body
/// split into path and request, each error body read as a status, as the server and client do.
pub fn fuzz_native_frames(data: &[u8], max: usize, piece: usize) -> FuzzNative {
    use crate::native::frame::{
        CALL, ERROR, FrameCodec, Incoming, OPEN, WINDOW, parse_call, parse_error, parse_window,
    };
    use tokio_util::codec::Decoder as _;
    let mut codec = FrameCodec::new(max);
    let mut buf = bytes::BytesMut::new();
    let mut seen = FuzzNative::default();
    for chunk in data.chunks(piece.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(Incoming::Frame(frame))) => {
                    seen.frames += 1;
                    seen.body_bytes += frame.body.len();
                    match frame.kind {
                        CALL | OPEN => drop(parse_call(frame.body)),
                        ERROR => drop(parse_error(frame.body)),
                        WINDOW => {
                            seen.granted = seen.granted.saturating_add(parse_window(&frame.body))
                        }
                        _ => {}
                    }
                }
                Ok(Some(Incoming::TooLarge { .. })) => seen.skipped += 1,
                Ok(None) => break,
                Err(_) => {
                    seen.refused = true;
                    return seen;
                }
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::conn_info::Knock;
    use crate::proto::stdio_data::Channel;

    fn frames(frames: &[(Channel, &[u8])]) -> Vec<u8> {
        let mut wire = Vec::new();
        for (channel, data) in frames {
            let frame = StdioData {
                channel: *channel as i32,
                data: data.to_vec(),
            };
            wire.extend(frame.encode_length_delimited_to_vec());
        }
        wire
    }

    #[test]
    fn stdio_frames_reach_the_writers_of_their_channel_until_one_does_not_decode() {
        let mut wire = frames(&[
            (Channel::Stdout, b"out "),
            (Channel::Stderr, b"err\n"),
            (Channel::Invalid, b"lost"),
            (Channel::Stdout, b"again"),
        ]);
        wire.extend([0x05, 0xff]);
        wire.extend(frames(&[(Channel::Stdout, b"after the bad frame")]));
        let seen = fuzz_stdio_frames(&wire, true);
        assert_eq!(seen.frames, 4);
        assert_eq!(seen.stdout, b"out again");
        assert_eq!(seen.stderr, b"err\n");
        let logged = fuzz_stdio_frames(&wire, false);
        assert!(logged.stdout.is_empty() && logged.stderr.is_empty());
    }

    #[test]
    fn stderr_lines_end_in_the_tail() {
        let tail = fuzz_stderr(
            b"{\"@level\":\"info\",\"@message\":\"up\"}\n[WARN] w\r\nlast",
            3,
        );
        assert!(
            tail.contains("[WARN] w\n") && tail.ends_with("  last\n"),
            "{tail:?}"
        );
    }

    fn conn(id: u32, network: &str, address: &str, knock: Option<(bool, bool)>) -> Vec<u8> {
        ConnInfo {
            service_id: id,
            network: network.into(),
            address: address.into(),
            knock: knock.map(|(knock, ack)| Knock {
                knock,
                ack,
                error: String::new(),
            }),
        }
        .encode_length_delimited_to_vec()
    }

    #[test]
    fn the_broker_answers_knocks_and_reads_addresses() {
        let wire = [
            conn(1, "unix", "/tmp/plugin1", None),
            conn(2, "pipe", "x", None),
            conn(3, "", "", Some((true, false))),
        ]
        .concat();
        let held = fuzz_broker_conn_info(&wire, true);
        assert_eq!(held.answers, [], "multiplexed: held until id 3 is served");
        let seen = fuzz_broker_conn_info(&wire, false);
        assert_eq!((seen.messages, seen.knocks, seen.peer_sockets), (3, 1, 1));
        assert_eq!(seen.answers, [(3, true, true)], "refused: not multiplexed");
        assert_eq!(
            seen.dials[0],
            (1, Ok("unix:/tmp/plugin1".into())),
            "{seen:?}"
        );
        let (id, Err(e)) = &seen.dials[1] else {
            panic!("{seen:?}")
        };
        assert!(
            *id == 2 && e.contains("unknown address type \"pipe\""),
            "{e}"
        );
        assert!(seen.closed_refused);
    }

    #[test]
    fn native_frames_are_read_in_any_pieces_skipped_over_the_limit_and_refused_when_malformed() {
        fn frame(kind: u8, id: u32, body: &[u8]) -> Vec<u8> {
            let mut f = ((5 + body.len()) as u32).to_le_bytes().to_vec();
            f.push(kind);
            f.extend(id.to_le_bytes());
            f.extend(body);
            f
        }
        let mut call = 4u16.to_le_bytes().to_vec();
        call.extend(b"/a/b");
        call.extend(b"request");
        let mut wire = frame(1, 1, &call);
        wire.extend(frame(3, 2, &[5, 0, 0, 0, b'x']));
        wire.extend(frame(2, 3, &[0; 300]));
        for piece in [1, 7, 4096] {
            let seen = fuzz_native_frames(&wire, 1 << 10, piece);
            assert_eq!((seen.frames, seen.skipped, seen.refused), (3, 0, false));
        }
        // A frame over the limit (plus a call path's room) is skipped, the next one read.
        let mut big = frame(2, 4, &vec![0; (1 << 10) + 70_000]);
        big.extend(frame(4, 5, &[]));
        let seen = fuzz_native_frames(&big, 1 << 10, 4096);
        assert_eq!((seen.frames, seen.skipped, seen.refused), (1, 1, false));
        // A length shorter than the frame's own header ends the connection.
        let seen = fuzz_native_frames(&[1, 0, 0, 0, 9, 9, 9, 9, 9], 1 << 10, 3);
        assert!(seen.refused);
    }
}
