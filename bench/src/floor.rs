//! The physical floor: what the machine itself costs, with no gRPC, TLS or plugin protocol.
//!
//! - A round trip over a unix socket between two processes, shaped like a `Get`: a 64-byte
//!   request naming a size, answered with that many bytes (for 64 B, a 64-byte ping-pong). This
//!   binary re-executes itself as the peer (`--echo-peer SOCKET`). Blocking I/O on both sides,
//!   one thread each: the least a local RPC can cost.
//! - The spawn of a trivial binary (`/bin/true`, spawn + wait): the least a plugin start costs.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stats::Summary;

/// The hidden flag that turns this binary into the echo peer.
pub const ECHO_PEER_FLAG: &str = "--echo-peer";

/// A child process that is killed and reaped whenever this value is dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Bytes of every request: the reply's size (u32, little-endian), then padding.
pub const REQUEST: usize = 64;

/// The bytes of every reply of `size` bytes.
fn reply_bytes(size: usize) -> Vec<u8> {
    crate::interface::payload(size)
}

/// The peer's main loop: connects to `socket`, then answers each [`REQUEST`]-byte request with
/// the number of bytes it names, until the other side closes the connection.
pub fn echo_peer(socket: &Path) -> io::Result<()> {
    let mut stream = UnixStream::connect(socket)?;
    let mut reply = Vec::new();
    let mut request = [0u8; REQUEST];
    loop {
        match stream.read_exact(&mut request) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let size = u32::from_le_bytes([request[0], request[1], request[2], request[3]]) as usize;
        if reply.len() != size {
            reply = reply_bytes(size);
        }
        stream.write_all(&reply)?;
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

/// Runs each batch of `batches` against one echo peer (`exe --echo-peer`), in order.
pub fn unix_socket_round_trips(exe: &Path, batches: &[PingPong]) -> io::Result<Vec<Summary>> {
    let dir = tempfile::Builder::new()
        .prefix("plugin-bench-floor")
        .tempdir()?;
    let path = dir.path().join("echo.sock");
    let listener = UnixListener::bind(&path)?;
    listener.set_nonblocking(true)?;
    let mut peer = Reaped(
        Command::new(exe)
            .arg(ECHO_PEER_FLAG)
            .arg(&path)
            .stdin(Stdio::null())
            .spawn()?,
    );
    let mut stream = accept(&listener, &mut peer.0)?;
    stream.set_nonblocking(false)?;
    let mut out = Vec::new();
    for batch in batches {
        let mut request = [0u8; REQUEST];
        request[..4].copy_from_slice(&(batch.size as u32).to_le_bytes());
        let mut reply = vec![0u8; batch.size];
        for _ in 0..batch.warmup {
            round_trip(&mut stream, &request, &mut reply)?;
        }
        let mut samples = Vec::with_capacity(batch.calls);
        let start = Instant::now();
        for _ in 0..batch.calls {
            let t = Instant::now();
            round_trip(&mut stream, &request, &mut reply)?;
            samples.push(t.elapsed().as_nanos() as u64);
        }
        let wall = start.elapsed().as_nanos() as u64;
        if reply != reply_bytes(batch.size) {
            return Err(io::Error::other("the peer's reply has the wrong bytes"));
        }
        out.push(Summary::from_samples(samples, wall));
    }
    drop(stream);
    // The peer exits on EOF; reap it (Reaped's drop kills it only if it hangs on).
    let deadline = Instant::now() + Duration::from_secs(5);
    while peer.0.try_wait()?.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(out)
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

fn round_trip(stream: &mut UnixStream, request: &[u8], reply: &mut [u8]) -> io::Result<()> {
    stream.write_all(request)?;
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
