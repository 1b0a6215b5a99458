//! The plugin's output after its handshake, and the connection the stubs share.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::ClientConfig;
use super::process::Output;
use crate::proto::grpc_stdio_client::GrpcStdioClient;
use crate::proto::stdio_data::Channel as StdioChannel;
use crate::transport::channel::GrpcChannel;
use crate::transport::connection::GrpcConnection;
use crate::transport::dispatch::MessageLimits;

/// The connection the stubs share, and the task copying the plugin's stdio to the sync writers.
pub(super) fn attach(
    channel: GrpcChannel,
    exit: watch::Receiver<Option<String>>,
    config: &mut ClientConfig,
    name: &str,
) -> (GrpcConnection, JoinHandle<()>) {
    let limits = MessageLimits {
        max_decode: config.max_message_size,
        max_encode: config.max_message_size,
    };
    let conn = GrpcConnection::new(channel.clone(), name.into(), limits, exit);
    let stdio = tokio::spawn(forward_stdio(
        channel,
        config.sync_stdout.take(),
        config.sync_stderr.take(),
        name.to_string(),
    ));
    (conn, stdio)
}

/// What the plugin writes after its handshake, copied to the sync writers.
async fn forward_stdio(
    channel: GrpcChannel,
    mut stdout: Option<Output>,
    mut stderr: Option<Output>,
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
    while let Ok(Some(chunk)) = stream.message().await {
        let out = match StdioChannel::try_from(chunk.channel) {
            Ok(StdioChannel::Stdout) => stdout.as_mut(),
            Ok(StdioChannel::Stderr) => stderr.as_mut(),
            _ => {
                tracing::warn!(plugin = %plugin, channel = chunk.channel, "unknown stdio channel");
                continue;
            }
        };
        if let Some(out) = out {
            let _ = out.write_all(&chunk.data);
        }
    }
    for out in [stdout.as_mut(), stderr.as_mut()].into_iter().flatten() {
        let _ = out.flush();
    }
}
