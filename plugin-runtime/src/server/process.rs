//! The plugin as a process: the cookie check, signals, the host's death, panics, ServeMux.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plugin_core::HandshakeConfig;
use tokio::sync::watch;

use super::config::ServeConfig;
use super::stdio::Pumps;
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

/// The signals a plugin handles from before it binds its socket, when its tokio runtime may not
/// exist yet: SIGINT (the terminal's, shared with the host, which drives shutdown) is ignored
/// from then on, and a SIGTERM is remembered until [`spawn_signal_handlers`] takes over (so the
/// socket file is removed whenever it comes).
pub(super) struct EarlySignals {
    terminated: Arc<AtomicBool>,
}

impl EarlySignals {
    /// Installs both handlers; one that cannot be installed is logged and left out.
    pub(super) fn install() -> EarlySignals {
        use signal_hook::consts::{SIGINT, SIGTERM};
        // A handler that only sets a flag replaces the default action (the end of the process).
        if let Err(error) = signal_hook::flag::register(SIGINT, Arc::new(AtomicBool::new(false))) {
            tracing::warn!(%error, "could not ignore SIGINT");
        }
        let terminated = Arc::new(AtomicBool::new(false));
        if let Err(error) = signal_hook::flag::register(SIGTERM, terminated.clone()) {
            tracing::warn!(%error, "could not handle SIGTERM");
        }
        EarlySignals { terminated }
    }
}

/// In the runtime: interrupts are counted in the log, SIGTERM (one from before included) stops
/// serving cleanly (the socket file is removed).
pub(super) fn spawn_signal_handlers(early: EarlySignals, shutdown: watch::Sender<bool>) {
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
    let stop = move || {
        tracing::debug!("plugin received SIGTERM, shutting down");
        let _ = shutdown.send(true);
    };
    match signal(SignalKind::terminate()) {
        // Listening from here on, so a SIGTERM is in the flag or in the stream.
        Ok(mut terms) => {
            tokio::spawn(async move {
                if early.terminated.load(Ordering::Acquire) || terms.recv().await.is_some() {
                    stop();
                }
            });
        }
        Err(error) => {
            // The runtime's signal driver refused (sigaction failed, or the driver is gone):
            // SIGTERM ends the plugin at once, as its default action would, instead of being
            // swallowed by the early flag.
            tracing::warn!(%error, "SIGTERM cannot be handled: it will end the plugin at once");
            let _ = signal_hook::flag::register_conditional_default(
                signal_hook::consts::SIGTERM,
                Arc::new(AtomicBool::new(true)),
            );
            if early.terminated.load(Ordering::Acquire) {
                stop();
            }
        }
    }
}

/// Whether the host was seen to die: then what it could not remove is ours to remove.
/// Set by the watcher thread, read when serving ends.
#[derive(Clone, Default)]
pub(super) struct HostWatch(Arc<AtomicBool>);

impl HostWatch {
    pub(super) fn gone(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// How long one wait of the watcher lasts; between waits the parent and the end of serving are
/// checked. Output to pump and a lost pipe reader wake the wait at once.
const HOST_WATCH_TICK: Duration = Duration::from_millis(200);

/// The host to watch: a plugin whose host died (and was not killed by it) shuts down instead
/// of lingering.
///
/// Two signs: the pipe the handshake went out on has no reader any more (noticed at once: the
/// watcher sleeps in `poll` on it), or the parent changed (checked every [`HOST_WATCH_TICK`]).
/// Every go-plugin host (and ours) reads the plugin's stdout through a pipe whose read end only
/// the host holds, so the first sign also works when a shell (`sh -c "plugin; true"`) stands
/// between them, whatever language the host is written in.
pub(super) struct WatchedHost {
    /// The write end of the handshake's pipe, when it could be copied.
    pub(super) handshake_out: Option<OwnedFd>,
    pub(super) parent: u32,
    pub(super) gone: HostWatch,
}

/// One thread, outside the runtime (so a runtime whose workers are all busy still notices),
/// for what the plugin waits on: the captured output to pump to the host and the host's death.
/// It ends once the pipes are at their end and the host is no longer watched (gone, or
/// serving over). One thread rather than one per duty: each costs the start-up time. While a
/// subscribed host reads the output slower than the plugin writes it, the thread waits for
/// room and watches nothing else; a host that dies closes the stream, which ends the wait.
pub(super) fn spawn_watcher(
    shutdown: watch::Sender<bool>,
    mut host: Option<WatchedHost>,
    mut pumps: Option<Pumps>,
) -> std::io::Result<()> {
    if host.is_none() && pumps.is_none() {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("plugin-watch".into())
        .spawn(move || {
            loop {
                if let Some(watched) = host.take() {
                    host = still_watched(watched, &shutdown);
                }
                if pumps.as_ref().is_some_and(Pumps::done) {
                    pumps = None;
                }
                if host.is_none() && pumps.is_none() {
                    return;
                }
                let (ready, hung_up) = wait(host.as_ref(), pumps.as_ref());
                if let Some(pumps) = pumps.as_mut() {
                    // From the last: a pipe at its end moves the later ones down.
                    for index in ready.into_iter().rev() {
                        pumps.pump(index);
                    }
                }
                if hung_up && let Some(watched) = host.take() {
                    host_gone(&watched, &shutdown);
                }
            }
        })
        .map(drop)
}

/// The host, while it is to be watched: not when serving is over, nor once it is seen gone.
fn still_watched(watched: WatchedHost, shutdown: &watch::Sender<bool>) -> Option<WatchedHost> {
    if shutdown.is_closed() || *shutdown.borrow() {
        return None;
    }
    if std::os::unix::process::parent_id() != watched.parent {
        host_gone(&watched, shutdown);
        return None;
    }
    Some(watched)
}

fn host_gone(watched: &WatchedHost, shutdown: &watch::Sender<bool>) {
    tracing::warn!("the host process is gone; shutting down");
    watched.gone.0.store(true, Ordering::Release);
    let _ = shutdown.send(true);
}

/// Waits up to [`HOST_WATCH_TICK`]: which pipes have output (or their end), and whether the
/// handshake's pipe lost its reader. poll reports an error or a hang-up even when no event is
/// asked for, and nothing else wakes it on that descriptor.
fn wait(host: Option<&WatchedHost>, pumps: Option<&Pumps>) -> (Vec<usize>, bool) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds: Vec<PollFd<'_>> = pumps
        .into_iter()
        .flat_map(Pumps::fds)
        .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
        .collect();
    let pipes = fds.len();
    if let Some(out) = host.and_then(|h| h.handshake_out.as_ref()) {
        fds.push(PollFd::new(out.as_fd(), PollFlags::empty()));
    }
    let timeout = PollTimeout::try_from(HOST_WATCH_TICK).unwrap_or(PollTimeout::MAX);
    if fds.is_empty() {
        std::thread::sleep(HOST_WATCH_TICK);
        return (Vec::new(), false);
    }
    match poll(&mut fds, timeout) {
        Ok(_) => {}
        // A signal handled on this thread: wait again at once.
        Err(nix::errno::Errno::EINTR) => return (Vec::new(), false),
        Err(_) => {
            // Worse: do not spin.
            std::thread::sleep(HOST_WATCH_TICK);
            return (Vec::new(), false);
        }
    }
    // A descriptor closed under us (POLLNVAL) counts as its end, so the loop cannot spin on it.
    let ended = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
    let seen =
        |fd: &PollFd<'_>, flags: PollFlags| fd.revents().is_some_and(|r| r.intersects(flags));
    let ready = fds[..pipes]
        .iter()
        .enumerate()
        .filter(|(_, fd)| seen(fd, PollFlags::POLLIN | ended))
        .map(|(index, _)| index)
        .collect();
    let hung_up = fds[pipes..].iter().any(|fd| seen(fd, ended));
    (ready, hung_up)
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
