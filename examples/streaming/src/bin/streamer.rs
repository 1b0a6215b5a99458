//! The streamer host: `streamer FILE` has the plugin write `Lorem ipsum dolor sit amet` to FILE
//! in chunks of 10 bytes, reads it back in chunks and logs what it read.
//!
//! As go-plugin's host does: it launches `./plugin/streamer` (relative to the working
//! directory; `sh -c "$STREAMER_PLUGIN"` when that is set), limits every message to 1000 bytes
//! both ways, and logs go-hclog JSON lines on stderr, the last one
//! `{"@level":"debug","@message":"received 26 bytes",...,"bytes":"Lorem ipsum dolor sit amet"}`;
//! stdout stays empty. AutoMTLS is on unless `STREAMER_AUTOMTLS=0` (go-plugin's host has it
//! off). The plugin is always killed before exiting; exit status 1 with the error on stderr when
//! something fails.

use std::error::Error;
use std::process::{Command, ExitCode};

use futures::StreamExt as _;
use plugin_runtime::{Client, ClientConfig, Code, HclogLayer, PluginSet, Status};
use streaming_example::{
    ConfigureRequest, PLUGIN_NAME, ReadRequest, Streamer, StreamerPlugin, WriteChunk, handshake,
};

#[path = "../../../host.rs"]
#[allow(dead_code)]
mod host;

/// What the host writes and reads back.
const TEXT: &str = "Lorem ipsum dolor sit amet";
/// The size of the chunks, both ways.
const CHUNK_SIZE: usize = 10;
/// The largest message the host sends or accepts, as go-plugin's host (`MaxCallRecvMsgSize` and
/// `MaxCallSendMsgSize`): the file crosses in chunks, never in one message.
const MESSAGE_SIZE_LIMIT: usize = 1000;
/// The plugin go-plugin's host launches.
const DEFAULT_PLUGIN: &str = "./plugin/streamer";

/// `sh -c "$STREAMER_PLUGIN"`, else [`DEFAULT_PLUGIN`].
fn plugin_command() -> Result<Command, String> {
    if let Ok(command) = std::env::var("STREAMER_PLUGIN") {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(command);
        return Ok(sh);
    }
    if !std::path::Path::new(DEFAULT_PLUGIN).exists() {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string());
        return Err(format!(
            "no plugin: STREAMER_PLUGIN is not set and {DEFAULT_PLUGIN} does not exist in {cwd}; \
             put the plugin there or set STREAMER_PLUGIN to the command that starts it"
        ));
    }
    Ok(Command::new(DEFAULT_PLUGIN))
}

/// go-plugin's own plugin ends `Write` without a response message, which gRPC clients report
/// as an error (tonic: `Internal`, "Missing response message."; grpc-go since 1.7x: a
/// cardinality violation). go-plugin's host was written to accept it (at the time grpc-go
/// reported it as the end of the stream): so does this one, the chunks having all been sent.
fn is_missing_response(status: &Status) -> bool {
    status.code() == Code::Internal && status.message() == "Missing response message."
}

/// Starts the plugin, writes and reads the file, and always kills the plugin.
async fn run(path: String) -> Result<(), Box<dyn Error>> {
    let config = ClientConfig::new(handshake())
        .name(PLUGIN_NAME)
        .plugins(PluginSet::new().with(PLUGIN_NAME, StreamerPlugin::host()))
        .command(plugin_command()?)
        .max_message_size(MESSAGE_SIZE_LIMIT)
        .auto_mtls(std::env::var("STREAMER_AUTOMTLS").map_or(true, |v| v != "0"));
    tracing::debug!("launching a client");
    let client = Client::new(config)?;
    let result = write_and_read(&client, path).await;
    client.kill().await;
    result
}

async fn write_and_read(client: &Client, path: String) -> Result<(), Box<dyn Error>> {
    let streamer = client.dispense::<dyn Streamer>(PLUGIN_NAME).await?;
    let configure = ConfigureRequest {
        path,
        chunk_size: CHUNK_SIZE as i64,
    };
    streamer
        .configure(configure)
        .await
        .map_err(|s| format!("configure: {}", s.message()))?;

    let chunks = TEXT.as_bytes().chunks(CHUNK_SIZE).map(|chunk| {
        Ok(WriteChunk {
            bytes_to_write: chunk.to_vec(),
        })
    });
    match streamer.write(futures::stream::iter(chunks).boxed()).await {
        Ok(_) => {}
        Err(s) if is_missing_response(&s) => {}
        Err(s) => return Err(format!("write: {}", s.message()).into()),
    }
    tracing::debug!("writing finished");

    let mut chunks = streamer
        .read(ReadRequest {})
        .await
        .map_err(|s| format!("read: {}", s.message()))?;
    let mut bytes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|s| format!("read: {}", s.message()))?;
        bytes.extend_from_slice(&chunk.read_bytes);
    }
    tracing::debug!(
        bytes = %String::from_utf8_lossy(&bytes),
        "received {} bytes",
        bytes.len()
    );
    Ok(())
}

/// go-hclog JSON lines on stderr, as go-plugin's host logs: this host's and the plugin's
/// messages at every level, the SDK's from debug up, others' from warn up (`RUST_LOG` overrides).
fn init_logging() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,streamer=trace,plugin=trace,plugin_runtime=debug".into());
    tracing_subscriber::registry()
        .with(filter)
        .with(HclogLayer::new())
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("streamer: expected path to file as an argument");
        return ExitCode::FAILURE;
    };
    match run(path).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("streamer: {}", host::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
