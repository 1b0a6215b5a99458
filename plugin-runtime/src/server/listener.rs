//! The plugin's listener: a unix socket named as go-plugin names it, or TCP in a port range.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plugin_core::{Network, env};
use tokio::net::{TcpListener, UnixListener};

use crate::error::ServeError;
use crate::transport::io::{Address, BoxedIo};

/// How a plugin listens.
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

pub(crate) enum Listener {
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
    Tcp(TcpListener),
}

impl Listener {
    pub(crate) fn address(&self) -> io::Result<Address> {
        Ok(match self {
            Listener::Unix { path, .. } => Address {
                network: Network::Unix,
                address: path.to_string_lossy().into_owned(),
            },
            Listener::Tcp(l) => Address {
                network: Network::Tcp,
                address: l.local_addr()?.to_string(),
            },
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
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Creates the listener from the launch environment.
pub(crate) async fn listen(kind: Listen) -> Result<Listener, ServeError> {
    match kind {
        Listen::Unix => listen_unix(),
        Listen::Tcp => listen_tcp().await,
    }
}

fn listen_unix() -> Result<Listener, ServeError> {
    let dir = match std::env::var_os(env::UNIX_SOCKET_DIR) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::temp_dir(),
    };
    let group = std::env::var(env::UNIX_SOCKET_GROUP)
        .ok()
        .filter(|g| !g.is_empty());
    let gid = group
        .as_deref()
        .map(|g| {
            crate::os::group_gid(g).map_err(|reason| ServeError::SocketGroup {
                group: g.to_string(),
                reason: format!(
                    "{reason}; set {} to an existing group name or gid",
                    env::UNIX_SOCKET_GROUP
                ),
            })
        })
        .transpose()?;
    let path = reserve_socket_path(&dir)?;
    let listener = UnixListener::bind(&path)
        .map_err(|e| ServeError::Listen(format!("bind {}: {e}", path.display())))?;
    let listener = Listener::Unix {
        listener,
        path: path.clone(),
    };
    let path = path.as_path();
    // Owner-only unless a group was asked for; the listener's Drop removes the file on error.
    let mode = match (gid, &group) {
        (Some(gid), Some(group)) => {
            chown_group(path, gid).map_err(|e| ServeError::SocketGroup {
                group: group.clone(),
                reason: format!("chown {}: {e}", path.display()),
            })?;
            0o660
        }
        _ => 0o600,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| ServeError::Listen(format!("chmod {}: {e}", path.display())))?;
    Ok(listener)
}

/// `plugin` + random digits in `dir`, reserved with an exclusive create and then removed, as
/// Go's `os.CreateTemp` + remove does.
fn reserve_socket_path(dir: &Path) -> Result<PathBuf, ServeError> {
    for _ in 0..100 {
        let path = dir.join(format!("plugin{}", crate::os::random_u32()));
        if path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(ServeError::Listen(format!(
                "socket path {} is {} bytes, longer than the {MAX_SOCKET_PATH} a unix socket path may \
                 have; point {} (or TMPDIR) at a shorter directory",
                path.display(),
                path.as_os_str().len(),
                env::UNIX_SOCKET_DIR
            )));
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => {
                std::fs::remove_file(&path)
                    .map_err(|e| ServeError::Listen(format!("remove {}: {e}", path.display())))?;
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(ServeError::Listen(format!(
                    "cannot create a socket in {}: {e}; set {} to a writable directory",
                    dir.display(),
                    env::UNIX_SOCKET_DIR
                )));
            }
        }
    }
    Err(ServeError::Listen(format!(
        "no free socket name in {}",
        dir.display()
    )))
}

fn chown_group(path: &Path, gid: libc::gid_t) -> io::Result<()> {
    std::os::unix::fs::chown(path, None, Some(gid))
}

async fn listen_tcp() -> Result<Listener, ServeError> {
    let min = port_var(env::MIN_PORT)?;
    let max = port_var(env::MAX_PORT)?;
    if min > max {
        return Err(ServeError::Listen(format!(
            "{} value of {min} is greater than {} value of {max}",
            env::MIN_PORT,
            env::MAX_PORT
        )));
    }
    for port in min..=max {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
            return Ok(Listener::Tcp(l));
        }
    }
    Err(ServeError::Listen(format!(
        "couldn't bind plugin TCP listener on 127.0.0.1 in ports {min}..={max}; widen {}..{}",
        env::MIN_PORT,
        env::MAX_PORT
    )))
}

/// An unset or empty variable counts as 0, as in go-plugin.
fn port_var(name: &str) -> Result<u16, ServeError> {
    match std::env::var(name) {
        Err(_) => Ok(0),
        Ok(v) if v.is_empty() => Ok(0),
        Ok(v) => v
            .parse()
            .map_err(|e| ServeError::Listen(format!("couldn't get value from {name}: {v:?}: {e}"))),
    }
}
