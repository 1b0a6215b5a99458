//! The counter host: `counter put KEY N` adds N to the count of KEY, `counter get KEY` prints it.
//!
//! Launches `sh -c "$COUNTER_PLUGIN"` (default: the `counter-plugin` next to this binary), with
//! AutoMTLS unless `COUNTER_AUTOMTLS=0`, broker multiplexing with `COUNTER_MULTIPLEX=1`, and
//! always kills the plugin before exiting. For each put it serves an `AddHelper` through the
//! gRPC broker, which the plugin calls back to add the numbers. Exits 1 with the error when the
//! call fails, 2 on a usage error.

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use bidirectional_example::{
    AddHelper, Counter, CounterPlugin, GetRequest, PLUGIN_NAME, PutRequest, SumRequest,
    SumResponse, handshake,
};
use plugin_runtime::{Client, ClientConfig, PluginSet, Status};

#[path = "../../../host.rs"]
mod host;

const USAGE: &str = "usage: counter put KEY N | counter get KEY";

/// What the command line asks for.
enum Request {
    Put { key: String, value: i64 },
    Get { key: String },
}

impl Request {
    /// The request, or what to print before the usage line.
    fn parse(args: &[String]) -> Result<Request, Option<String>> {
        match args {
            [cmd, key, value] if cmd == "put" => match value.parse() {
                Ok(value) => Ok(Request::Put {
                    key: key.clone(),
                    value,
                }),
                Err(e) => Err(Some(format!(
                    "N must be a 64-bit integer, not {value:?} ({e})"
                ))),
            },
            [cmd, key] if cmd == "get" => Ok(Request::Get { key: key.clone() }),
            _ => Err(None),
        }
    }
}

/// The host's half of the work: the additions the plugin asks for.
struct Adder;

#[plugin_runtime::async_trait]
impl AddHelper for Adder {
    async fn sum(&self, request: SumRequest) -> Result<SumResponse, Status> {
        let SumRequest { a, b } = request;
        a.checked_add(b)
            .map(|r| SumResponse { r })
            .ok_or_else(|| Status::out_of_range(format!("{a} + {b} does not fit in 64 bits")))
    }
}

/// Starts the plugin, makes the call, and always kills the plugin.
async fn run(request: Request) -> Result<(), Box<dyn Error>> {
    let config = ClientConfig::new(handshake())
        .name("counter-plugin")
        .plugins(PluginSet::new().with(PLUGIN_NAME, CounterPlugin::host()))
        .command(host::plugin_command("COUNTER_PLUGIN", "counter-plugin")?)
        .auto_mtls(std::env::var("COUNTER_AUTOMTLS").map_or(true, |v| v != "0"))
        .grpc_broker_multiplex(std::env::var("COUNTER_MULTIPLEX").is_ok_and(|v| v == "1"));
    let client = Client::new(config)?;
    let result = call(&client, request).await;
    client.kill().await;
    result
}

async fn call(client: &Client, request: Request) -> Result<(), Box<dyn Error>> {
    let counter = client.dispense::<dyn Counter>(PLUGIN_NAME).await?;
    match request {
        Request::Put { key, value } => {
            // Served through the broker while the plugin holds it; its id goes in `add_server`.
            let request = PutRequest {
                add_server: 0,
                key: key.clone(),
                value,
            };
            counter
                .put(request, Arc::new(Adder))
                .await
                .map_err(|s| format!("put {key:?}: {}", s.message()))?;
        }
        Request::Get { key } => {
            let reply = counter
                .get(GetRequest { key: key.clone() })
                .await
                .map_err(|s| format!("get {key:?}: {}", s.message()))?;
            writeln!(std::io::stdout().lock(), "{}", reply.value)
                .map_err(|e| format!("writing the count: {e}"))?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    host::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let request = match Request::parse(&args) {
        Ok(request) => request,
        Err(why) => {
            if let Some(why) = why {
                eprintln!("counter: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(request).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("counter: {}", host::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
