//! The plugin's output after its handshake: `plugin.GRPCStdio/StreamStdio` to the host's
//! writers, or its log.

use futures::StreamExt as _;
use tokio::io::AsyncReadExt as _;
use tokio::task::JoinHandle;

use super::config::ClientConfig;
use super::logs::{Lines, LogForwarder};
use super::process::PluginOutput;
use crate::__private::{decode_prost, prost_body};
use crate::connection::GrpcConnection;
use crate::internal::STREAM_STDIO;
use crate::proto::stdio_data::Channel as StdioChannel;
use crate::proto::{Empty, StdioData};
use crate::transport::io::BoxedIo;

/// The task copying the plugin's stdio to the sync writers (or the log).
pub(super) fn forward(
    conn: GrpcConnection,
    config: &mut ClientConfig,
    name: &str,
) -> JoinHandle<()> {
    tokio::spawn(forward_stdio(
        conn,
        config.sync_stdout.take(),
        config.sync_stderr.take(),
        name.to_string(),
    ))
}

/// The task copying a net/rpc plugin's raw stdout and stderr streams to the sync writers (or
/// the log), until both end.
pub(super) fn forward_raw(
    stdout: BoxedIo,
    stderr: BoxedIo,
    config: &mut ClientConfig,
    name: &str,
) -> JoinHandle<()> {
    let mut sinks = StdioSinks::new(
        config.sync_stdout.take(),
        config.sync_stderr.take(),
        name.to_string(),
    );
    tokio::spawn(async move {
        let mut streams = [Some(stdout), Some(stderr)];
        let mut bufs = [vec![0u8; 32 * 1024], vec![0u8; 32 * 1024]];
        while streams.iter().any(Option::is_some) {
            let [out, err] = &mut streams;
            let [out_buf, err_buf] = &mut bufs;
            let (which, read) = tokio::select! {
                n = read_some(out, out_buf) => (0, n),
                n = read_some(err, err_buf) => (1, n),
            };
            match read {
                Some(n) => sinks.raw(which == 1, &bufs[which][..n]),
                None => streams[which] = None,
            }
        }
        sinks.finish();
    })
}

/// Bytes from `stream` (`None` at its end, or forever once it has ended).
async fn read_some(stream: &mut Option<BoxedIo>, buf: &mut [u8]) -> Option<usize> {
    let Some(io) = stream else {
        return std::future::pending().await;
    };
    match io.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

/// Where one of the plugin's streams goes after its handshake: the host's writer, or, when
/// the host gave none, its log (stderr lines as the plugin's log lines; stdout lines at debug).
enum Sink {
    Writer(PluginOutput),
    Log {
        lines: Lines,
        forward: Option<LogForwarder>,
        plugin: String,
    },
}

impl Sink {
    fn new(writer: Option<PluginOutput>, plugin: &str, stderr: bool) -> Sink {
        match writer {
            Some(writer) => Sink::Writer(writer),
            None => Sink::Log {
                lines: Lines::default(),
                forward: stderr.then(|| LogForwarder::new(plugin)),
                plugin: plugin.to_string(),
            },
        }
    }

    fn write(&mut self, data: &[u8]) {
        match self {
            Sink::Writer(out) => {
                let _ = out.write_all(data);
            }
            Sink::Log {
                lines,
                forward,
                plugin,
            } => lines.push(data, &mut |line| log_line(forward, plugin, line)),
        }
    }

    fn finish(&mut self) {
        match self {
            Sink::Writer(out) => {
                let _ = out.flush();
            }
            Sink::Log {
                lines,
                forward,
                plugin,
            } => lines.finish(&mut |line| log_line(forward, plugin, line)),
        }
    }
}

fn log_line(forward: &mut Option<LogForwarder>, plugin: &str, line: &str) {
    match forward {
        Some(forward) => forward.line(line),
        None => {
            tracing::debug!(target: "plugin", plugin = %plugin, stdout = %line, "plugin wrote to stdout")
        }
    }
}

/// What the plugin writes after its handshake, copied to the sync writers (or logged).
async fn forward_stdio(
    conn: GrpcConnection,
    stdout: Option<PluginOutput>,
    stderr: Option<PluginOutput>,
    plugin: String,
) {
    let mut stream = match conn
        .server_streaming(STREAM_STDIO.path, prost_body(Empty {}))
        .await
    {
        Ok(stream) => stream,
        Err(error) => {
            tracing::debug!(plugin = %plugin, %error, "plugin offers no stdio stream");
            return;
        }
    };
    let mut sinks = StdioSinks::new(stdout, stderr, plugin);
    while let Some(Ok(message)) = stream.next().await {
        match decode_prost::<StdioData>(message) {
            Ok(chunk) => sinks.frame(&chunk),
            Err(e) => {
                tracing::warn!(plugin = %sinks.plugin, error = %e, "a malformed stdio message; the plugin's output is no longer copied");
                break;
            }
        }
    }
    sinks.finish();
}

/// Where the frames of the plugin's stdio stream go: stdout's and stderr's sinks.
pub(crate) struct StdioSinks {
    sinks: [Sink; 2],
    plugin: String,
}

impl StdioSinks {
    /// The host's writers, or its log for a stream it gave none for.
    pub(crate) fn new(
        stdout: Option<PluginOutput>,
        stderr: Option<PluginOutput>,
        plugin: String,
    ) -> Self {
        StdioSinks {
            sinks: [
                Sink::new(stdout, &plugin, false),
                Sink::new(stderr, &plugin, true),
            ],
            plugin,
        }
    }

    /// One `StdioData` frame, to the sink of its channel.
    pub(crate) fn frame(&mut self, chunk: &StdioData) {
        match StdioChannel::try_from(chunk.channel) {
            Ok(StdioChannel::Stdout) => self.sinks[0].write(&chunk.data),
            Ok(StdioChannel::Stderr) => self.sinks[1].write(&chunk.data),
            _ => {
                let plugin = &self.plugin;
                tracing::warn!(plugin = %plugin, channel = chunk.channel, "unknown stdio channel")
            }
        }
    }

    /// Raw bytes of stdout (`stderr` false) or stderr, as net/rpc's streams carry them.
    pub(crate) fn raw(&mut self, stderr: bool, data: &[u8]) {
        self.sinks[usize::from(stderr)].write(data);
    }

    /// The stream ended: what is left of a last line, and the writers flushed.
    pub(crate) fn finish(&mut self) {
        for sink in &mut self.sinks {
            sink.finish();
        }
    }
}
