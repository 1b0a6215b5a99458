//! Listeners: unix sockets named as go-plugin names them (the plugin's, and brokered servers' on
//! either side), or TCP in a port range.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plugin_core::{Network, env};
use tempfile::TempPath;
use tokio::net::{TcpListener, UnixListener};

use crate::transport::io::{Address, BoxedIo};

/// How a plugin listens.
///
/// ```
/// use plugin_runtime::{HandshakeConfig, Listen, ServeConfig};
/// let config = ServeConfig::new(HandshakeConfig::new(1, "K", "V")).listen(Listen::Tcp);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Listen {
    /// A unix socket in `PLUGIN_UNIX_SOCKET_DIR` (else the temp dir), as go-plugin on Unix.
    #[default]
    Unix,
    /// TCP on 127.0.0.1 within `PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT` (an OS-chosen port when
    /// neither is set), as go-plugin on Windows.
    Tcp,
}

/// Longest unix socket path the kernel accepts (`sun_path` is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;
/// Random characters after `plugin` in a socket's name (go-plugin's are `plugin` + digits).
const SOCKET_NAME_RANDOM: usize = 10;

pub(crate) enum Listener {
    Unix {
        listener: UnixListener,
        /// Removed when the listener is dropped.
        path: TempPath,
    },
    Tcp(TcpListener),
    /// Streams of a multiplexed session routed to this server, under the session's address.
    Streams {
        streams: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<BoxedIo>>,
        address: Address,
    },
}

impl Listener {
    pub(crate) fn address(&self) -> io::Result<Address> {
        Ok(match self {
            Listener::Unix { path, .. } => unix_address(path),
            Listener::Tcp(l) => tcp_address(l.local_addr()?),
            Listener::Streams { address, .. } => address.clone(),
        })
    }

    pub(crate) async fn accept(&self) -> io::Result<BoxedIo> {
        match self {
            Listener::Unix { listener, .. } => Ok(BoxedIo::new(listener.accept().await?.0)),
            Listener::Tcp(l) => {
                let (stream, _) = l.accept().await?;
                stream.set_nodelay(true)?;
                Ok(BoxedIo::new(stream))
            }
            Listener::Streams { streams, .. } => match streams.lock().await.recv().await {
                Some(stream) => Ok(stream),
                // The session ended: nothing more to accept, ever.
                None => std::future::pending().await,
            },
        }
    }
}

fn unix_address(path: &Path) -> Address {
    Address {
        network: Network::Unix,
        address: path.to_string_lossy().into_owned(),
    }
}

fn tcp_address(local: std::net::SocketAddr) -> Address {
    Address {
        network: Network::Tcp,
        address: local.to_string(),
    }
}

/// A listener could not be created: what failed and what to change, and the OS error.
///
/// ```
/// # fn f(e: plugin_runtime::ServeError) {
/// use plugin_runtime::{ListenError, ServeError};
/// if let ServeError::Listen(ListenError::Group { group, .. }) = &e {
///     eprintln!("no such group {group}");
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// The socket (or TCP port) could not be created.
    #[error("couldn't create the plugin listener: {what}")]
    Socket {
        /// What failed, and what to change.
        what: String,
        /// The OS error, when there is one.
        source: Option<io::Error>,
    },
    /// `PLUGIN_UNIX_SOCKET_GROUP` names no group, or the socket could not be given to it.
    #[error("unix socket group {group:?}: {what}")]
    Group {
        /// The configured group.
        group: String,
        /// What failed, and what to change.
        what: String,
        /// The OS error.
        source: io::Error,
    },
}

/// Where and how unix sockets are made: go-plugin's `UnixSocketConfig`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketPlace {
    /// The directory (else the temp dir).
    pub(crate) dir: Option<PathBuf>,
    /// A group (name or gid) to own the socket, mode 0660; else owner-only 0600.
    pub(crate) group: Option<String>,
}

impl SocketPlace {
    /// The plugin's: `PLUGIN_UNIX_SOCKET_DIR` and `PLUGIN_UNIX_SOCKET_GROUP`.
    pub(crate) fn from_env() -> SocketPlace {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        SocketPlace {
            dir: var(env::UNIX_SOCKET_DIR).map(PathBuf::from),
            group: var(env::UNIX_SOCKET_GROUP).map(|g| g.to_string_lossy().into_owned()),
        }
    }
}

/// A listening socket, bound but not yet registered with a runtime: the plugin binds its
/// socket, and says where in its handshake line, before its runtime starts.
pub(crate) enum Bound {
    Unix {
        listener: std::os::unix::net::UnixListener,
        /// Removed when dropped.
        path: TempPath,
    },
    Tcp(std::net::TcpListener),
}

impl Bound {
    pub(crate) fn address(&self) -> io::Result<Address> {
        Ok(match self {
            Bound::Unix { path, .. } => unix_address(path),
            Bound::Tcp(l) => tcp_address(l.local_addr()?),
        })
    }

    /// The listener on the current tokio runtime (which must be running).
    pub(crate) fn register(self) -> io::Result<Listener> {
        Ok(match self {
            Bound::Unix { listener, path } => {
                listener.set_nonblocking(true)?;
                Listener::Unix {
                    listener: UnixListener::from_std(listener)?,
                    path,
                }
            }
            Bound::Tcp(listener) => {
                listener.set_nonblocking(true)?;
                Listener::Tcp(TcpListener::from_std(listener)?)
            }
        })
    }
}

/// Binds the plugin's listener from the launch environment.
pub(crate) fn bind(kind: Listen) -> Result<Bound, ListenError> {
    match kind {
        Listen::Unix => bind_unix(&SocketPlace::from_env()),
        Listen::Tcp => bind_tcp(),
    }
}

fn listen_failed(what: String, source: impl Into<Option<io::Error>>) -> ListenError {
    ListenError::Socket {
        what,
        source: source.into(),
    }
}

/// A new unix socket `plugin<random>` in `place`, removed when the listener is dropped.
pub(crate) fn listen_unix(place: &SocketPlace) -> Result<Listener, ListenError> {
    let bound = bind_unix(place)?;
    let path = bound.address().map(|a| a.address).unwrap_or_default();
    bound
        .register()
        .map_err(|e| listen_failed(format!("listening on {path}"), e))
}

/// A new unix socket `plugin<random>` in `place`, bound, removed when dropped.
fn bind_unix(place: &SocketPlace) -> Result<Bound, ListenError> {
    let dir = place.dir.clone().unwrap_or_else(std::env::temp_dir);
    let group_failed = |group: &str, what: String, source: io::Error| ListenError::Group {
        group: group.to_string(),
        what,
        source,
    };
    let gid = place
        .group
        .as_deref()
        .map(|g| {
            crate::os::group_gid(g).map_err(|e| {
                let fix = format!(
                    "set {} to an existing group name or gid",
                    env::UNIX_SOCKET_GROUP
                );
                group_failed(g, fix, e)
            })
        })
        .transpose()?;
    let longest = dir.join(format!("plugin{}", "0".repeat(SOCKET_NAME_RANDOM)));
    if longest.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(listen_failed(
            format!(
                "socket path {} is {} bytes, longer than the {MAX_SOCKET_PATH} a unix socket \
                 path may have; point {} (or TMPDIR) at a shorter directory",
                longest.display(),
                longest.as_os_str().len(),
                env::UNIX_SOCKET_DIR
            ),
            None,
        ));
    }
    // The name is chosen and bound in one step (a taken name is retried), so nothing can take
    // the path between choosing and binding it.
    let (listener, path) = tempfile::Builder::new()
        .prefix("plugin")
        .rand_bytes(SOCKET_NAME_RANDOM)
        .make_in(&dir, |path| std::os::unix::net::UnixListener::bind(path))
        .map_err(|e| {
            let what = format!(
                "cannot create a socket in {}; set {} to a writable directory",
                dir.display(),
                env::UNIX_SOCKET_DIR
            );
            listen_failed(what, e)
        })?
        .into_parts();
    // Owner-only unless a group was asked for; dropping `path` removes the file on error.
    let mode = match (gid, &place.group) {
        (Some(gid), Some(group)) => {
            std::os::unix::fs::chown(&path, None, Some(gid.as_raw())).map_err(|e| {
                group_failed(group, format!("giving {} to the group", path.display()), e)
            })?;
            0o660
        }
        _ => 0o600,
    };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| listen_failed(format!("setting the mode of {}", path.display()), e))?;
    Ok(Bound::Unix { listener, path })
}

fn bind_tcp() -> Result<Bound, ListenError> {
    let min = port_var(env::MIN_PORT)?;
    let max = port_var(env::MAX_PORT)?;
    if min > max {
        return Err(listen_failed(
            format!(
                "{} value of {min} is greater than {} value of {max}",
                env::MIN_PORT,
                env::MAX_PORT
            ),
            None,
        ));
    }
    let mut last = None;
    for port in min..=max {
        match std::net::TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => return Ok(Bound::Tcp(l)),
            Err(e) => last = Some(e),
        }
    }
    Err(listen_failed(
        format!(
            "couldn't bind plugin TCP listener on 127.0.0.1 in ports {min}..={max}; widen {}..{}",
            env::MIN_PORT,
            env::MAX_PORT
        ),
        last,
    ))
}

/// An unset or empty variable counts as 0, as in go-plugin.
fn port_var(name: &str) -> Result<u16, ListenError> {
    match std::env::var(name) {
        Err(_) => Ok(0),
        Ok(v) if v.is_empty() => Ok(0),
        Ok(v) => v.parse().map_err(|e| {
            let source = io::Error::new(io::ErrorKind::InvalidInput, e);
            listen_failed(format!("couldn't get value from {name}: {v:?}"), source)
        }),
    }
}

/// Removes `path` if it is a unix socket (never a file or directory someone put there).
pub(crate) fn remove_socket(path: &Path) {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Removes those of `sockets` that lie in `home` and are named as ours and go-plugin's are
/// (`plugin...`): names a peer announced can make this side delete nothing else.
pub(crate) fn remove_sockets_in<P: AsRef<Path>>(home: &Path, sockets: impl IntoIterator<Item = P>) {
    for socket in sockets {
        let socket = socket.as_ref();
        let ours = socket.parent() == Some(home)
            && socket
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("plugin"));
        if ours {
            remove_socket(socket);
        }
    }
}
