//! The physical floor: what the machine itself costs, with no gRPC, TLS or plugin protocol.
//!
//! - A round trip over a unix socket between two processes, shaped like a `Get`: a 64-byte
//!   request naming a size, answered with that many bytes (for 64 B, a 64-byte ping-pong). This
//!   binary re-executes itself as the peer (`--echo-peer SOCKET`). Blocking I/O on both sides,
//!   one thread each: the least a local RPC can cost.
//! - Items copied one way through the same socket (the stream throughput's floor): the peer
//!   writes `items` items of a size, or reads them, and the receiving side compares every item
//!   with the payload, as the plugins and hosts of the stream throughput do.
//! - The same round trips with both ends wrapped in TLS as AutoMTLS configures it ([`tls`]):
//!   the least a call with AutoMTLS on can cost, every byte encrypted.
//! - The spawn of a trivial binary (`/bin/true`, spawn + wait): the least a plugin start costs.

pub mod tls;

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::results::Direction;
use crate::stats::Summary;

/// The hidden flag that turns this binary into the echo peer.
pub const ECHO_PEER_FLAG: &str = "--echo-peer";

/// With [`ECHO_PEER_FLAG`]: the peer speaks TLS, with the keys in this PEM file
/// ([`tls::Keys::peer_pem`]).
pub const ECHO_PEER_TLS_FLAG: &str = "--echo-peer-tls";

/// A child process that is killed and reaped whenever this value is dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Bytes of every request: the reply's size (u32, little-endian); the number of replies (u32,
/// little-endian; 0 counts as 1); 1 if, instead of replying, the peer reads that many items of
/// that size (each compared with the payload) and answers with one byte (1: all were the
/// payload); then padding.
pub const REQUEST: usize = 64;

fn request(size: usize, items: usize, upload: bool) -> [u8; REQUEST] {
    let mut request = [0u8; REQUEST];
    request[..4].copy_from_slice(&(size as u32).to_le_bytes());
    request[4..8].copy_from_slice(&(items as u32).to_le_bytes());
    request[8] = u8::from(upload);
    request
}

/// The bytes of every reply of `size` bytes.
fn reply_bytes(size: usize) -> Vec<u8> {
    crate::interface::payload(size)
}

/// The peer's main loop: connects to `socket` (in TLS with the keys in the PEM file `tls`, if
/// given), then answers each [`REQUEST`]-byte request with the replies it names (or reads the
/// items it announces), until the other side closes the connection.
pub fn echo_peer(socket: &Path, tls: Option<&Path>) -> io::Result<()> {
    let stream = UnixStream::connect(socket)?;
    match tls {
        Some(keys) => serve(&mut tls::server(keys, stream)?),
        None => serve(&mut { stream }),
    }
}

fn serve<S: Read + Write>(stream: &mut S) -> io::Result<()> {
    let mut reply = Vec::new();
    let mut item = Vec::new();
    let mut request = [0u8; REQUEST];
    loop {
        match stream.read_exact(&mut request) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let word = |i: usize| {
            u32::from_le_bytes([request[i], request[i + 1], request[i + 2], request[i + 3]])
                as usize
        };
        let (size, items) = (word(0), word(4).max(1));
        if reply.len() != size {
            reply = reply_bytes(size);
            item = vec![0u8; size];
        }
        if request[8] == 1 {
            let mut same = true;
            for _ in 0..items {
                stream.read_exact(&mut item)?;
                same &= item == reply;
            }
            stream.write_all(&[u8::from(same)])?;
        } else {
            for _ in 0..items {
                stream.write_all(&reply)?;
            }
        }
        // A no-op on a plain socket; TLS hands its last record to the socket.
        stream.flush()?;
    }
}

/// Round trips of a [`REQUEST`]-byte request and a `size`-byte reply: `warmup` untimed, then
/// `calls` timed one by one.
#[derive(Debug, Clone, Copy)]
pub struct PingPong {
    /// Reply bytes.
    pub size: usize,
    /// Timed round trips.
    pub calls: usize,
    /// Untimed round trips first.
    pub warmup: usize,
}

/// Items of `size` bytes copied one way: `warmup` untimed, then `items` timed, each from the one
/// before (the first from the request).
#[derive(Debug, Clone, Copy)]
pub struct CopyBatch {
    /// Which way: `Download`, the peer writes (as a plugin streaming to its host); `Upload`, the
    /// peer reads.
    pub direction: Direction,
    /// Bytes of each item.
    pub size: usize,
    /// Timed items.
    pub items: usize,
    /// Untimed items first.
    pub warmup: usize,
}

/// Runs each batch of `batches` against one echo peer (`exe --echo-peer`), in order.
pub fn unix_socket_round_trips(exe: &Path, batches: &[PingPong]) -> io::Result<Vec<Summary>> {
    with_peer(exe, None, |mut stream| {
        batches
            .iter()
            .map(|batch| round_trips(&mut stream, batch))
            .collect()
    })
}

/// Runs each batch of `batches` against one echo peer speaking TLS as AutoMTLS configures it
/// (`exe --echo-peer --echo-peer-tls`), in order; also says what the connection negotiated
/// ([`tls::negotiated`]).
pub fn tls_round_trips(exe: &Path, batches: &[PingPong]) -> io::Result<(Vec<Summary>, String)> {
    let keys = tls::Keys::generate()?;
    with_peer(exe, Some(&keys), |socket| {
        let mut stream = keys.client(socket)?;
        let summaries = batches
            .iter()
            .map(|batch| round_trips(&mut stream, batch))
            .collect::<io::Result<Vec<_>>>()?;
        let negotiated = tls::negotiated(&stream);
        stream.conn.send_close_notify();
        stream.flush()?;
        Ok((summaries, negotiated))
    })
}

/// Runs each copy of `copies` against one echo peer (`exe --echo-peer`), in order.
pub fn unix_socket_copies(exe: &Path, copies: &[CopyBatch]) -> io::Result<Vec<Summary>> {
    with_peer(exe, None, |mut stream| {
        copies
            .iter()
            .map(|c| {
                if c.warmup > 0 {
                    copy(&mut stream, c.direction, c.size, &mut vec![0; c.warmup])?;
                }
                let mut samples = vec![0; c.items];
                let start = Instant::now();
                copy(&mut stream, c.direction, c.size, &mut samples)?;
                Ok(Summary::from_samples(
                    samples,
                    start.elapsed().as_nanos() as u64,
                ))
            })
            .collect()
    })
}

/// Copies `samples.len()` items of `size` bytes `direction`, each timed into `samples`.
fn copy(
    stream: &mut UnixStream,
    direction: Direction,
    size: usize,
    samples: &mut [u64],
) -> io::Result<()> {
    let upload = direction == Direction::Upload;
    let expected = reply_bytes(size);
    let mut item = vec![0u8; size];
    let mut t = Instant::now();
    stream.write_all(&request(size, samples.len(), upload))?;
    for sample in samples.iter_mut() {
        if upload {
            stream.write_all(&expected)?;
        } else {
            stream.read_exact(&mut item)?;
            if item != expected {
                return Err(io::Error::other("the peer's item has the wrong bytes"));
            }
        }
        let now = Instant::now();
        *sample = (now - t).as_nanos() as u64;
        t = now;
    }
    if upload {
        let mut same = [0u8];
        stream.read_exact(&mut same)?;
        if same[0] != 1 {
            return Err(io::Error::other(
                "the peer received items with the wrong bytes",
            ));
        }
    }
    Ok(())
}

/// Runs `body` on a connection to a fresh echo peer (`exe --echo-peer`, in TLS with `tls`'s
/// keys if given), then lets it exit.
fn with_peer<T>(
    exe: &Path,
    tls: Option<&tls::Keys>,
    body: impl FnOnce(UnixStream) -> io::Result<T>,
) -> io::Result<T> {
    let dir = tempfile::Builder::new()
        .prefix("plugin-bench-floor")
        .tempdir()?;
    let path = dir.path().join("echo.sock");
    let listener = UnixListener::bind(&path)?;
    listener.set_nonblocking(true)?;
    let mut command = Command::new(exe);
    command.arg(ECHO_PEER_FLAG).arg(&path).stdin(Stdio::null());
    if let Some(keys) = tls {
        // The directory is private to this user (tempfile makes it 0700).
        let pem = dir.path().join("peer.pem");
        std::fs::write(&pem, keys.peer_pem())?;
        command.arg(ECHO_PEER_TLS_FLAG).arg(pem);
    }
    let mut peer = Reaped(command.spawn()?);
    let stream = accept(&listener, &mut peer.0)?;
    stream.set_nonblocking(false)?;
    // The stream is closed when `body` returns.
    let out = body(stream)?;
    // The peer exits on EOF; reap it (Reaped's drop kills it only if it hangs on).
    let deadline = Instant::now() + Duration::from_secs(5);
    while peer.0.try_wait()?.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(out)
}

/// One batch of round trips.
fn round_trips<S: Read + Write>(stream: &mut S, batch: &PingPong) -> io::Result<Summary> {
    let request = request(batch.size, 1, false);
    let mut reply = vec![0u8; batch.size];
    for _ in 0..batch.warmup {
        round_trip(stream, &request, &mut reply)?;
    }
    let mut samples = Vec::with_capacity(batch.calls);
    let start = Instant::now();
    for _ in 0..batch.calls {
        let t = Instant::now();
        round_trip(stream, &request, &mut reply)?;
        samples.push(t.elapsed().as_nanos() as u64);
    }
    let wall = start.elapsed().as_nanos() as u64;
    if reply != reply_bytes(batch.size) {
        return Err(io::Error::other("the peer's reply has the wrong bytes"));
    }
    Ok(Summary::from_samples(samples, wall))
}

fn accept(listener: &UnixListener, peer: &mut Child) -> io::Result<UnixStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match listener.accept() {
            Ok((stream, _)) => return Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if let Some(status) = peer.try_wait()? {
            return Err(io::Error::other(format!(
                "the echo peer exited before connecting: {status}"
            )));
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(
                "the echo peer did not connect within 10 s",
            ));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn round_trip<S: Read + Write>(stream: &mut S, request: &[u8], reply: &mut [u8]) -> io::Result<()> {
    stream.write_all(request)?;
    stream.flush()?;
    stream.read_exact(reply)
}

/// Spawn + wait of `program` with `args`, `runs` times; the durations in ns, in run order.
pub fn spawn_and_wait(program: &str, args: &[&str], runs: usize) -> io::Result<Vec<u64>> {
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let status = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .status()?;
        all.push(t.elapsed().as_nanos() as u64);
        if !status.success() {
            return Err(io::Error::other(format!("{program} failed: {status}")));
        }
    }
    Ok(all)
}
