//! Runners: how a host starts, watches and stops a plugin, and how addresses are seen from
//! either side (go-plugin's `runner` package).
//!
//! By default a [`Client`](crate::Client) runs its [`ClientConfig::command`] as a child process
//! in a process group of its own. A [`Runner`] given with [`ClientConfig::runner`] replaces that:
//! it may run the plugin in a container, over `ssh`, under a supervisor, or as a child with a
//! different environment. The host still reads the handshake from the runner's stdout, forwards
//! its stderr, asks the plugin to shut down, and removes what it created; the runner only starts,
//! waits for and kills what it ran. An [`AttachedRunner`] given with
//! [`ClientConfig::reattach_with`] does the same for a plugin that is already running.
//!
//! When the plugin sees paths or ports differently from the host (a container's mounts, a
//! forwarded port), the runner's [`AddrTranslator`] maps the address of the handshake line and of
//! every brokered server before the host dials it, and the addresses of the host's brokered
//! servers before the plugin is told them.
//!
//! [`ClientConfig::command`]: crate::ClientConfig::command
//! [`ClientConfig::runner`]: crate::ClientConfig::runner
//! [`ClientConfig::reattach_with`]: crate::ClientConfig::reattach_with

use std::pin::Pin;
use std::process::ExitStatus;

use plugin_core::Network;
use tokio::io::AsyncRead;

/// What a runner's own code failed with: any error (its source chain is kept in the host's
/// [`Error`](crate::Error)).
pub type RunnerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A byte stream the plugin writes: its stdout or its stderr.
pub type PluginReader = Pin<Box<dyn AsyncRead + Send + 'static>>;

/// The plugin's stdout and stderr, as a [`Runner`] hands them over once it has started it.
///
/// The first line of `stdout` must be the plugin's handshake line; the host reads both to their
/// end (so a pipe never fills up), forwards `stderr` to its logs and keeps its last lines for
/// errors.
pub struct RunnerOutput {
    /// The plugin's stdout.
    pub stdout: PluginReader,
    /// The plugin's stderr.
    pub stderr: PluginReader,
}

impl RunnerOutput {
    /// The output of a plugin from its two streams.
    ///
    /// ```
    /// let output = plugin_runtime::RunnerOutput::new(&b"1|1|unix|/tmp/p|grpc|\n"[..], tokio::io::empty());
    /// ```
    pub fn new(
        stdout: impl AsyncRead + Send + 'static,
        stderr: impl AsyncRead + Send + 'static,
    ) -> RunnerOutput {
        RunnerOutput {
            stdout: Box::pin(stdout),
            stderr: Box::pin(stderr),
        }
    }
}

impl std::fmt::Debug for RunnerOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerOutput").finish_non_exhaustive()
    }
}

/// Maps addresses between the plugin's view and the host's (go-plugin's `AddrTranslator`).
///
/// Both default to the identity: a runner whose plugin sees the host's filesystem and network
/// implements this trait with an empty `impl`. Used by the host only: the plugin never sees
/// an address it cannot use.
///
/// ```
/// use plugin_runtime::{AddrTranslator, Network, RunnerError};
/// use std::path::{Path, PathBuf};
///
/// /// The plugin runs with its socket directory mounted at `/sockets`.
/// struct Mounted { host_dir: PathBuf }
///
/// impl AddrTranslator for Mounted {
///     fn plugin_to_host(&self, network: Network, address: &str) -> Result<(Network, String), RunnerError> {
///         match (network, Path::new(address).strip_prefix("/sockets")) {
///             (Network::Unix, Ok(rest)) => Ok((network, self.host_dir.join(rest).display().to_string())),
///             _ => Err(format!("{address} is not under the mounted /sockets").into()),
///         }
///     }
///
///     fn host_to_plugin(&self, network: Network, address: &str) -> Result<(Network, String), RunnerError> {
///         let rest = Path::new(address).strip_prefix(&self.host_dir)?;
///         Ok((network, Path::new("/sockets").join(rest).display().to_string()))
///     }
/// }
///
/// let mounted = Mounted { host_dir: "/tmp/plugin-dir1".into() };
/// let (_, host) = mounted.plugin_to_host(Network::Unix, "/sockets/plugin42").unwrap();
/// assert_eq!(host, "/tmp/plugin-dir1/plugin42");
/// ```
pub trait AddrTranslator: Send + Sync {
    /// An address the plugin gave (its handshake line, a brokered server's), as the host must
    /// dial it. An error fails the start (or the dial) with the runner's error as its source.
    fn plugin_to_host(
        &self,
        network: Network,
        address: &str,
    ) -> Result<(Network, String), RunnerError> {
        Ok((network, address.to_string()))
    }

    /// An address the host serves on (a brokered server's), as the plugin must dial it.
    fn host_to_plugin(
        &self,
        network: Network,
        address: &str,
    ) -> Result<(Network, String), RunnerError> {
        Ok((network, address.to_string()))
    }
}

/// A running plugin the host can wait for and kill (go-plugin's `AttachedRunner`): what
/// [`ClientConfig::reattach_with`](crate::ClientConfig::reattach_with) attaches to, and the part
/// of every [`Runner`] that matters once the plugin runs.
///
/// ```
/// use plugin_runtime::{AddrTranslator, AttachedRunner, RunnerError, async_trait};
///
/// /// A plugin some supervisor runs; the host may not stop it.
/// struct Supervised { unit: String }
///
/// impl AddrTranslator for Supervised {}
///
/// #[async_trait]
/// impl AttachedRunner for Supervised {
///     async fn wait(&self) -> Result<Option<std::process::ExitStatus>, RunnerError> {
///         std::future::pending().await // until the host lets go of it
///     }
///     async fn kill(&self) -> Result<(), RunnerError> {
///         Err(format!("{} is stopped by its supervisor, not by this host", self.unit).into())
///     }
///     fn id(&self) -> String {
///         self.unit.clone()
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait AttachedRunner: AddrTranslator {
    /// Waits until the plugin has stopped, on its own or after [`AttachedRunner::kill`]: its
    /// exit status when the runner knows it, `None` when it does not (a process that is not its
    /// child). The host calls it once, in a task of its own, and may call `kill` meanwhile; an
    /// error counts as the plugin being gone.
    async fn wait(&self) -> Result<Option<ExitStatus>, RunnerError>;

    /// Stops the plugin now, with whatever it left running, and cleans up after it. The host
    /// calls it once the graceful shutdown is over (also after a clean exit) and after a failed
    /// start; it must succeed when the plugin is gone already. An error is logged at debug.
    async fn kill(&self) -> Result<(), RunnerError>;

    /// What identifies the running plugin: a process id, a container id (go-plugin's `ID`;
    /// [`Client::id`](crate::Client::id)).
    fn id(&self) -> String;
}

/// Starts a plugin and hands its output to the host (go-plugin's `Runner`), for
/// [`ClientConfig::runner`](crate::ClientConfig::runner).
///
/// The host calls [`Runner::start`] once, reads the handshake line from the stdout it returns,
/// then calls [`AttachedRunner::wait`] in a task of its own and [`AttachedRunner::kill`] when it
/// stops the plugin. Should the host drop the runner without a kill (a client dropped while
/// starting, its runtime gone), the runner's `Drop` is the last chance to stop what it ran.
///
/// A runner that starts the plugin through `sh`, in a directory of its own:
///
/// ```
/// use std::process::{ExitStatus, Stdio};
/// use plugin_runtime::{AddrTranslator, AttachedRunner, Runner, RunnerError, RunnerOutput, async_trait};
/// use tokio::sync::Mutex;
///
/// struct Shell { command: std::process::Command, child: Mutex<Option<tokio::process::Child>>, pid: u32 }
///
/// impl AddrTranslator for Shell {}
///
/// #[async_trait]
/// impl AttachedRunner for Shell {
///     async fn wait(&self) -> Result<Option<ExitStatus>, RunnerError> {
///         // The host waits once; a kill that finds the child being waited for sends a signal.
///         let mut child = self.child.lock().await.take().ok_or("already waited for")?;
///         Ok(Some(child.wait().await?))
///     }
///     async fn kill(&self) -> Result<(), RunnerError> {
///         let _ = std::process::Command::new("kill").args(["-9", &self.pid.to_string()]).status()?;
///         Ok(())
///     }
///     fn id(&self) -> String {
///         self.pid.to_string()
///     }
/// }
///
/// #[async_trait]
/// impl Runner for Shell {
///     async fn start(&mut self) -> Result<RunnerOutput, RunnerError> {
///         let mut sh = tokio::process::Command::new("sh");
///         sh.arg("-c").arg("exec \"$0\"").arg(self.command.get_program());
///         sh.envs(self.command.get_envs().filter_map(|(k, v)| Some((k, v?))));
///         let mut child = sh.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).spawn()?;
///         self.pid = child.id().unwrap_or_default();
///         let output = RunnerOutput::new(child.stdout.take().ok_or("no stdout")?, child.stderr.take().ok_or("no stderr")?);
///         *self.child.get_mut() = Some(child);
///         Ok(output)
///     }
///     fn name(&self) -> String {
///         format!("sh running {}", self.command.get_program().display())
///     }
/// }
///
/// let config = plugin_runtime::ClientConfig::new(plugin_runtime::HandshakeConfig::new(1, "K", "V"))
///     .command(std::process::Command::new("./kv-plugin"))
///     .runner(|command, _socket_dir| Ok(Box::new(Shell { command, child: Mutex::new(None), pid: 0 })));
/// ```
#[async_trait::async_trait]
pub trait Runner: AttachedRunner {
    /// Starts the plugin; returns its stdout and stderr. Its future is dropped if
    /// [`ClientConfig::start_timeout`](crate::ClientConfig::start_timeout) passes first; the
    /// host then calls [`AttachedRunner::kill`].
    async fn start(&mut self) -> Result<RunnerOutput, RunnerError>;

    /// Anything that may explain why the plugin did not print a handshake line (go-plugin's
    /// `Diagnose`): added to the start error's text after the plugin's stderr. Empty by default.
    async fn diagnose(&self) -> String {
        String::new()
    }

    /// A human-friendly name for what runs, such as the executable's path (for logs and errors;
    /// need not be unique).
    fn name(&self) -> String;
}

/// What [`ClientConfig::runner`](crate::ClientConfig::runner) calls to make the runner.
pub(crate) type RunnerFunc = Box<
    dyn FnOnce(std::process::Command, &std::path::Path) -> Result<Box<dyn Runner>, RunnerError>
        + Send,
>;

/// What [`ClientConfig::reattach_with`](crate::ClientConfig::reattach_with) calls to attach.
pub(crate) type ReattachFunc =
    Box<dyn FnOnce() -> Result<Box<dyn AttachedRunner>, RunnerError> + Send>;
