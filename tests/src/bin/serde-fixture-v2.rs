//! A plugin serving the changed `Jobs` interface (`plugin_tests::interfaces::v2`) as "jobs":
//! a host built with the first version must refuse it.

use plugin_runtime::{PluginSet, ServeConfig};
use plugin_tests::interfaces::v2::{Jobs, JobsPlugin};
use plugin_tests::interfaces::{JobError, Report, Task, handshake};

struct Fixture;

#[plugin_runtime::async_trait]
impl Jobs for Fixture {
    async fn run(
        &self,
        text: String,
        times: u32,
        task: Task,
        priority: u8,
    ) -> Result<Report, JobError> {
        Ok(Report {
            task,
            text: format!("{} (priority {priority})", text.repeat(times as usize)),
            pid: std::process::id(),
        })
    }

    async fn fail(&self, error: JobError) -> Result<(), JobError> {
        Err(error)
    }

    async fn block(&self, _marker: std::path::PathBuf) -> Result<(), JobError> {
        std::future::pending().await
    }

    async fn exit(&self, code: i32) -> Result<(), JobError> {
        std::process::exit(code)
    }
}

fn main() -> std::process::ExitCode {
    let plugins = PluginSet::new().with("jobs", JobsPlugin::new(Fixture));
    plugin_runtime::serve_main(plugin_tests::transport_of_test(
        ServeConfig::new(handshake()).plugins(plugins),
    ))
}
