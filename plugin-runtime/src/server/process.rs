//! The plugin as a process: the cookie check, signals, the host's death, panics, ServeMux.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plugin_core::HandshakeConfig;
use tokio::sync::watch;

use super::config::ServeConfig;
use crate::error::ServeError;
use crate::logging;

const MSG_MISCONFIGURED: &str = "Misconfigured ServeConfig given to serve this plugin: no magic cookie\nkey or value was set. Please notify the plugin author and report\nthis as a bug.\n";
const MSG_NOT_DIRECTLY: &str = "This binary is a plugin. These are not meant to be executed directly.\nPlease execute the program that consumes these plugins, which will\nload any plugins automatically\n";

pub(super) fn check_cookie(handshake: &HandshakeConfig) {
    if handshake.magic_cookie_key.is_empty() || handshake.magic_cookie_value.is_empty() {
        eprint!("{MSG_MISCONFIGURED}");
        std::process::exit(1);
    }
    let value = std::env::var_os(&handshake.magic_cookie_key);
    if value.as_deref() != Some(std::ffi::OsStr::new(&handshake.magic_cookie_value)) {
        eprint!("{MSG_NOT_DIRECTLY}");
        std::process::exit(1);
    }
}

/// SIGINT is the terminal's, shared with the host, which drives shutdown: ignore it. SIGTERM
/// stops serving cleanly (the socket file is removed).
pub(super) fn spawn_signal_handlers(shutdown: watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    if let Ok(mut interrupts) = signal(SignalKind::interrupt()) {
        tokio::spawn(async move {
            let mut count = 0u64;
            while interrupts.recv().await.is_some() {
                count += 1;
                tracing::trace!(count, "plugin received interrupt signal, ignoring");
            }
        });
    }
    if let Ok(mut terms) = signal(SignalKind::terminate()) {
        tokio::spawn(async move {
            if terms.recv().await.is_some() {
                tracing::debug!("plugin received SIGTERM, shutting down");
                let _ = shutdown.send(true);
            }
        });
    }
}

/// Whether the host was seen to die: then what it could not remove is ours to remove.
#[derive(Clone, Default)]
pub(super) struct HostWatch(Arc<AtomicBool>);

impl HostWatch {
    pub(super) fn gone(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// How long one wait on the handshake pipe lasts; between waits the parent and the end of
/// serving are checked. A lost pipe reader wakes the wait at once.
const HOST_WATCH_TICK: Duration = Duration::from_millis(200);

/// A plugin whose host died (and was not killed by it) shuts down instead of lingering.
///
/// Two signs: the pipe the handshake went out on has no reader any more (noticed at once: the
/// watcher sleeps in `poll` on it), or the parent changed (checked every [`HOST_WATCH_TICK`]).
/// Every go-plugin host (and ours) reads the plugin's stdout through a pipe whose read end only
/// the host holds, so the first sign also works when a shell (`sh -c "plugin; true"`) stands
/// between them, whatever language the host is written in.
pub(super) fn watch_host(
    shutdown: watch::Sender<bool>,
    handshake_out: Option<OwnedFd>,
) -> HostWatch {
    let parent = std::os::unix::process::parent_id();
    let watch = HostWatch::default();
    let gone = watch.0.clone();
    let _ = std::thread::Builder::new()
        .name("plugin-host-watch".into())
        .spawn(move || {
            loop {
                let reader_gone = match handshake_out.as_ref() {
                    Some(fd) => no_reader(fd, HOST_WATCH_TICK),
                    None => {
                        std::thread::sleep(HOST_WATCH_TICK);
                        false
                    }
                };
                if reader_gone || std::os::unix::process::parent_id() != parent {
                    tracing::warn!("the host process is gone; shutting down");
                    gone.store(true, Ordering::Release);
                    let _ = shutdown.send(true);
                    return;
                }
                if shutdown.is_closed() || *shutdown.borrow() {
                    return;
                }
            }
        });
    watch
}

/// Whether the write end of a pipe has lost its reader, waiting up to `wait` for it: poll
/// reports an error or a hang-up even when no event is asked for, and nothing else wakes it.
fn no_reader(fd: &OwnedFd, wait: Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::empty())];
    let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        Err(_) => {
            // EINTR or worse: do not spin.
            std::thread::sleep(wait);
            false
        }
    }
}

/// Panics go to the real stderr as `panic: ...`, which go-plugin hosts (and ours) log at error.
pub(super) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = crate::dispatch::panic_message(info.payload());
        let thread = std::thread::current();
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        // Only a captured one (RUST_BACKTRACE): otherwise it would print "disabled backtrace".
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("{backtrace}\n"),
            _ => String::new(),
        };
        let text = format!(
            "panic: {message}\n\nthread '{}' panicked at {location}\n{backtrace}",
            thread.name().unwrap_or("<unnamed>")
        );
        logging::write_log_line(text.as_bytes());
    }));
}

/// Serves one of several plugins from one binary, chosen by its only argument (go-plugin's
/// `ServeMux`). Exits with status 1 and a message on stderr for a missing or unknown argument.
///
/// ```no_run
/// use std::collections::BTreeMap;
/// use plugin_runtime::{HandshakeConfig, PluginSet, ServeConfig};
/// # async fn run(kv: PluginSet, counter: PluginSet) -> Result<(), plugin_runtime::ServeError> {
/// let handshake = HandshakeConfig::new(1, "BASIC_PLUGIN", "hello");
/// let configs = BTreeMap::from([
///     ("kv".to_string(), ServeConfig::new(handshake.clone()).plugins(kv)),
///     ("counter".to_string(), ServeConfig::new(handshake).plugins(counter)),
/// ]);
/// plugin_runtime::serve_mux(configs).await // `my-plugins kv` serves the first
/// # }
/// ```
pub async fn serve_mux(mut configs: BTreeMap<String, ServeConfig>) -> Result<(), ServeError> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 2 {
        eprint!(
            "Invoked improperly. This is an internal command that shouldn't\nbe manually invoked.\n"
        );
        std::process::exit(1);
    }
    match configs.remove(&args[1]) {
        Some(config) => super::serve(config).await,
        None => {
            eprintln!("Unknown plugin: {}", args[1]);
            std::process::exit(1);
        }
    }
}
