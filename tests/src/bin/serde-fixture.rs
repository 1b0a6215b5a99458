//! A plugin serving `Jobs` (serde) as "jobs" and `Echo` (protobuf) as "echo"; see
//! `plugin_tests::interfaces`.

use plugin_runtime::{Code, PluginSet, ServeConfig};
use plugin_tests::interfaces::{
    Echo, EchoError, EchoPlugin, EchoReply, EchoRequest, JobError, Jobs, JobsPlugin, Report, Task,
    handshake,
};

struct Fixture;

#[plugin_runtime::async_trait]
impl Jobs for Fixture {
    async fn run(&self, text: String, times: u32, task: Task) -> Result<Report, JobError> {
        if text == "panic" {
            panic!("the serde fixture panics on purpose");
        }
        Ok(Report {
            task,
            text: text.repeat(times as usize),
            pid: std::process::id(),
        })
    }

    async fn fail(&self, error: JobError) -> Result<(), JobError> {
        Err(error)
    }

    async fn block(&self, marker: std::path::PathBuf) -> Result<(), JobError> {
        tokio::fs::write(&marker, b"in the call")
            .await
            .map_err(|e| JobError::Refused(format!("writing {}: {e}", marker.display())))?;
        std::future::pending().await
    }

    async fn exit(&self, code: i32) -> Result<(), JobError> {
        std::process::exit(code)
    }
}

#[plugin_runtime::async_trait]
impl Echo for Fixture {
    async fn echo(&self, request: EchoRequest) -> Result<EchoReply, EchoError> {
        if request.exit {
            std::process::exit(4);
        }
        if request.text == "panic" {
            panic!("the echo fixture panics on purpose");
        }
        if let Some(marker) = request.text.strip_prefix("block:") {
            std::fs::write(marker, b"in the call").map_err(|e| EchoError {
                code: Code::Internal,
                message: format!("writing {marker}: {e}"),
            })?;
            std::future::pending::<()>().await;
        }
        if request.fail_code != 0 {
            return Err(EchoError {
                code: Code::from_i32(request.fail_code),
                message: request.text,
            });
        }
        Ok(EchoReply { text: request.text })
    }
}

fn main() -> std::process::ExitCode {
    let plugins = PluginSet::new()
        .with("jobs", JobsPlugin::new(Fixture))
        .with("echo", EchoPlugin::new(Fixture));
    plugin_runtime::serve_main(plugin_tests::transport_of_test(
        ServeConfig::new(handshake()).plugins(plugins),
    ))
}
