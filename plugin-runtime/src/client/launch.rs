//! Before the connection: the configuration's checks, the launch environment, the handshake wait.

use std::path::Path;
use std::time::Duration;

use plugin_core::{ConfigError, HandshakeError, VersionList, env};

use super::config::ClientConfig;
use super::process::Process;
use crate::error::Error;
use crate::tls::Certificate;

pub(super) fn validate(config: &ClientConfig) -> Result<(), ConfigError> {
    if config.runner.is_some() && config.reattach.is_some() {
        return Err(ConfigError::RunnerWithReattach);
    }
    let launches = config.command.is_some() || config.runner.is_some();
    if launches == config.reattach.is_some() {
        return Err(ConfigError::CommandOrReattach);
    }
    if config.secure.is_some() && config.runner.is_some() && config.command.is_none() {
        return Err(ConfigError::SecureConfigWithoutCommand);
    }
    if config.reattach.is_some() {
        if config.secure.is_some() {
            return Err(ConfigError::SecureConfigAndReattach);
        }
        if config.auto_mtls == Some(true) {
            return Err(ConfigError::AutoMtlsWithReattach);
        }
        if config.multiplex {
            return Err(ConfigError::MultiplexWithReattach);
        }
    }
    if config.plugins.is_empty() {
        return Err(ConfigError::NoPlugins);
    }
    if config.handshake.magic_cookie_key.is_empty()
        || config.handshake.magic_cookie_value.is_empty()
    {
        return Err(ConfigError::NoMagicCookie);
    }
    if config.allowed_protocols.is_empty() {
        return Err(ConfigError::NoAllowedProtocols);
    }
    if config.min_port > config.max_port {
        return Err(ConfigError::PortRange {
            min: config.min_port,
            max: config.max_port,
        });
    }
    Ok(())
}

/// The command with the launch environment of go-plugin's host. `whole_env`: every variable
/// set explicitly, the host's included (as go-plugin's `cmd.Env`), for a runner to read.
pub(super) fn launch_command(
    mut cmd: std::process::Command,
    config: &ClientConfig,
    versions: &VersionList,
    cert: Option<&Certificate>,
    socket_dir: Option<&Path>,
    whole_env: bool,
) -> std::process::Command {
    let explicit: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_os_string(), v.map(|v| v.to_os_string())))
        .collect();
    if config.skip_host_env || whole_env {
        cmd.env_clear();
        if !config.skip_host_env {
            for (key, value) in std::env::vars_os() {
                if !explicit.iter().any(|(k, _)| *k == key) {
                    cmd.env(key, value);
                }
            }
        }
        for (key, value) in explicit {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
    }
    let hs = &config.handshake;
    cmd.env(&hs.magic_cookie_key, &hs.magic_cookie_value)
        .env(env::MIN_PORT, config.min_port.to_string())
        .env(env::MAX_PORT, config.max_port.to_string())
        .env(env::PROTOCOL_VERSIONS, versions.to_string());
    if let Some(cert) = cert {
        cmd.env(env::CLIENT_CERT, cert.pem());
    }
    if config.multiplex {
        cmd.env(env::MULTIPLEX_GRPC, "true");
    }
    if config.asks_native() {
        cmd.env(env::RUST_NATIVE, std::process::id().to_string());
    } else {
        // Not inherited from our own environment either.
        cmd.env_remove(env::RUST_NATIVE);
    }
    if let Some(dir) = socket_dir {
        cmd.env(env::UNIX_SOCKET_DIR, dir);
    }
    if let Some(group) = &config.unix_socket_group {
        cmd.env(env::UNIX_SOCKET_GROUP, group);
    }
    cmd
}

/// Waits for the first stdout line, the exit, or the timeout, whichever comes first.
pub(super) async fn wait_handshake(
    process: &mut Process,
    timeout: Duration,
    name: &str,
) -> Result<String, Error> {
    let deadline = tokio::time::Instant::now() + timeout;
    let Some(mut first) = process.first_line.take() else {
        return Err(Error::Killed {
            plugin: name.to_string(),
        });
    };
    let mut exit = process.ending.watch();
    enum Outcome {
        Line(Option<String>),
        Exited,
        Timeout,
    }
    let outcome = tokio::select! {
        biased;
        line = &mut first => Outcome::Line(line.ok().flatten()),
        _ = exit.wait() => Outcome::Exited,
        _ = tokio::time::sleep_until(deadline) => Outcome::Timeout,
    };
    let outcome = match outcome {
        // The line may be on its way while the exit is noticed first.
        Outcome::Exited => match tokio::time::timeout(Duration::from_secs(1), first).await {
            Ok(Ok(Some(line))) => Outcome::Line(Some(line)),
            _ => Outcome::Exited,
        },
        other => other,
    };
    // The exit if there is one, else the silence: stdout closed without a line.
    let no_line = async |process: &Process| match process.exited() {
        Some(exit) => Error::ExitedBeforeHandshake {
            plugin: name.to_string(),
            exit,
            stderr: process.failure_text().await,
        },
        None => Error::Handshake {
            plugin: name.to_string(),
            reason: HandshakeError::Unrecognized {
                line: String::new(),
            },
            stderr: process.failure_text().await,
        },
    };
    match outcome {
        Outcome::Line(Some(line)) => Ok(line),
        Outcome::Line(None) => {
            let _ = tokio::time::timeout_at(deadline, exit.wait()).await;
            process.drain(Duration::from_secs(1)).await;
            Err(no_line(process).await)
        }
        Outcome::Exited => {
            process.drain(Duration::from_secs(1)).await;
            Err(no_line(process).await)
        }
        Outcome::Timeout => Err(Error::StartTimeout {
            plugin: name.to_string(),
            timeout,
            stderr: process.failure_text().await,
        }),
    }
}
