//! How a plugin ended, published once and watched by everything that talks to it.

use std::fmt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// How a plugin ended: what [`CallError::PluginExited`](crate::CallError::PluginExited) and
/// [`Client::exit`](crate::Client::exit) report.
///
/// ```
/// use plugin_runtime::PluginExit;
/// let killed = PluginExit::Killed { status: None };
/// assert_eq!(killed.to_string(), "was killed by the host (Client::kill)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginExit {
    /// The host stopped it: [`Client::kill`](crate::Client::kill) or
    /// [`cleanup_clients`](crate::cleanup_clients).
    Killed {
        /// How a launched process ended: status 0 after a graceful shutdown, signal 9 when
        /// it had to be force-killed. `None` for a plugin the host did not launch.
        status: Option<ExitStatus>,
    },
    /// The process ended on its own (a crash included), with this status.
    Exited(ExitStatus),
    /// A reattached plugin's process is gone; its exit status went to its own parent.
    Vanished {
        /// Its process id.
        pid: u32,
    },
    /// A custom runner ([`Runner`](crate::Runner), [`AttachedRunner`](crate::AttachedRunner))
    /// reports the plugin stopped, without an exit status.
    Stopped {
        /// The runner's id of the plugin ([`AttachedRunner::id`](crate::AttachedRunner::id)).
        id: String,
    },
}

impl fmt::Display for PluginExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::unix::process::ExitStatusExt as _;
        let status_of = |status: &ExitStatus| match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => status.to_string(),
        };
        match self {
            PluginExit::Killed { status: None } => {
                f.write_str("was killed by the host (Client::kill)")
            }
            PluginExit::Killed {
                status: Some(status),
            } => write!(
                f,
                "was killed by the host (Client::kill), ending with {}",
                status_of(status)
            ),
            PluginExit::Exited(status) => match (status.code(), status.signal()) {
                (Some(code), _) => write!(f, "exited with status {code}"),
                (None, Some(signal)) => write!(f, "was killed by signal {signal}"),
                _ => write!(f, "exited ({status})"),
            },
            PluginExit::Vanished { pid } => write!(f, "is gone (process {pid} no longer exists)"),
            PluginExit::Stopped { id } => write!(f, "has stopped (its runner reports {id} gone)"),
        }
    }
}

/// The one place a plugin's end is published: the first report wins.
#[derive(Debug)]
pub(crate) struct Ending {
    exit: watch::Sender<Option<PluginExit>>,
    /// Set as soon as the host starts stopping the plugin, so its death reads as `Killed`.
    killing: AtomicBool,
}

impl Ending {
    pub(crate) fn new() -> Arc<Ending> {
        Arc::new(Ending {
            exit: watch::Sender::new(None),
            killing: AtomicBool::new(false),
        })
    }

    pub(crate) fn watch(&self) -> ExitWatch {
        ExitWatch(self.exit.subscribe())
    }

    /// The host is stopping the plugin: whatever ends it from now on is the host's doing.
    pub(crate) fn start_killing(&self) {
        self.killing.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_killing(&self) -> bool {
        self.killing.load(Ordering::SeqCst)
    }

    /// The process was reaped with `status`.
    pub(crate) fn exited(&self, status: ExitStatus) {
        self.publish(if self.is_killing() {
            PluginExit::Killed {
                status: Some(status),
            }
        } else {
            PluginExit::Exited(status)
        });
    }

    pub(crate) fn publish(&self, exit: PluginExit) {
        self.exit.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(exit);
            true
        });
    }
}

/// A view of how the plugin ended, once it has.
#[derive(Debug, Clone)]
pub(crate) struct ExitWatch(watch::Receiver<Option<PluginExit>>);

impl ExitWatch {
    pub(crate) fn get(&self) -> Option<PluginExit> {
        self.0.borrow().clone()
    }

    /// Waits for the end, or returns `None` when nobody can report it any more.
    pub(crate) async fn wait(&mut self) -> Option<PluginExit> {
        self.0
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|e| e.clone())
    }
}
