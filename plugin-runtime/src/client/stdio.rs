//! The plugin's output after its handshake: `plugin.GRPCStdio/StreamStdio` to the host's
//! writers, or its log.

use tokio::task::JoinHandle;

use super::config::ClientConfig;
use super::logs::{Lines, LogForwarder};
use super::process::PluginOutput;
use crate::proto::grpc_stdio_client::GrpcStdioClient;
use crate::proto::stdio_data::Channel as StdioChannel;
use crate::transport::channel::GrpcChannel;

/// The task copying the plugin's stdio to the sync writers (or the log).
pub(super) fn forward(
    channel: GrpcChannel,
    config: &mut ClientConfig,
    name: &str,
) -> JoinHandle<()> {
    tokio::spawn(forward_stdio(
        channel,
        config.sync_stdout.take(),
        config.sync_stderr.take(),
        name.to_string(),
    ))
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
    channel: GrpcChannel,
    stdout: Option<PluginOutput>,
    stderr: Option<PluginOutput>,
    plugin: String,
) {
    let mut client = GrpcStdioClient::new(channel);
    let mut stream = match client.stream_stdio(()).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            tracing::debug!(plugin = %plugin, %status, "plugin offers no stdio stream");
            return;
        }
    };
    let mut sinks = [
        Sink::new(stdout, &plugin, false),
        Sink::new(stderr, &plugin, true),
    ];
    while let Ok(Some(chunk)) = stream.message().await {
        match StdioChannel::try_from(chunk.channel) {
            Ok(StdioChannel::Stdout) => sinks[0].write(&chunk.data),
            Ok(StdioChannel::Stderr) => sinks[1].write(&chunk.data),
            _ => tracing::warn!(plugin = %plugin, channel = chunk.channel, "unknown stdio channel"),
        }
    }
    for sink in &mut sinks {
        sink.finish();
    }
}
