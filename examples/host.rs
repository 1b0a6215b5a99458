//! What the example hosts (`kv`, `greeter`) share: finding the plugin they launch, and printing
//! an error with its causes. Each host includes this file with `#[path]`, so that every example
//! stays a crate of its own.

use std::error::Error;
use std::process::Command;

/// The command that starts the plugin: `sh -c "$<var>"` when the environment variable `var` is
/// set, else the executable `name` in this binary's directory (where cargo builds it).
pub fn plugin_command(var: &str, name: &str) -> Result<Command, String> {
    if let Ok(command) = std::env::var(var) {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(command);
        return Ok(sh);
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let plugin = exe.with_file_name(name);
    if !plugin.exists() {
        return Err(format!(
            "no plugin: {var} is not set and {} does not exist; build it with `cargo build -p {}` \
             or set {var} to the command that starts the plugin",
            plugin.display(),
            env!("CARGO_PKG_NAME"),
        ));
    }
    Ok(Command::new(plugin))
}

/// `error` and its sources, joined with `": "`.
pub fn chain(error: &dyn Error) -> String {
    std::iter::successors(Some(error), |&e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Sets up logging to stderr, `warn` and up unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}
