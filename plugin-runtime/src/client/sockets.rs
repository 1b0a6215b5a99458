//! The host's side of plugin sockets: private socket directories, and cleaning up after plugins
//! that could not.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::transport::listener;

/// A fresh `plugin-dir*` directory under `base`: 0700, or 0770 owned by `group`.
pub(super) fn private_dir(base: &Path, group: Option<&str>, name: &str) -> Result<PathBuf, Error> {
    use std::os::unix::fs::PermissionsExt;
    let io_err = |context: &'static str| {
        move |source: std::io::Error| Error::Io {
            plugin: name.to_string(),
            context,
            source,
        }
    };
    // Kept: the client removes it once the plugin is gone, whatever way it goes.
    let dir = tempfile::Builder::new()
        .prefix("plugin-dir")
        .tempdir_in(base)
        .map_err(|e| {
            // The OS error alone names neither the directory nor the fix.
            let why = format!(
                "cannot create a directory in {}: {e}; point ClientConfig::unix_socket_dir at \
                 a writable directory",
                base.display()
            );
            io_err("creating the socket directory")(std::io::Error::new(e.kind(), why))
        })?
        .keep();
    let configure = || -> Result<(), Error> {
        let mode = if let Some(group) = group {
            let gid = crate::os::group_gid(group).map_err(io_err("finding the socket group"))?;
            std::os::unix::fs::chown(&dir, None, Some(gid.as_raw()))
                .map_err(io_err("giving the socket directory to its group"))?;
            0o770
        } else {
            0o700
        };
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            .map_err(io_err("setting the socket directory's mode"))
    };
    match configure() {
        Ok(()) => Ok(dir),
        Err(e) => {
            remove_dir(Some(&dir));
            Err(e)
        }
    }
}

/// Removes a dead plugin's socket file if it is still there (a killed plugin cannot).
pub(super) fn remove_socket(socket: Option<&Path>) {
    if let Some(path) = socket {
        listener::remove_socket(path);
    }
}

pub(super) fn remove_dir(dir: Option<&Path>) {
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Removes the sockets a dead plugin announced to the broker, but only those beside its main
/// socket and named as ours and go-plugin's are (`plugin...`): a plugin cannot make its host
/// delete anything else.
pub(super) fn remove_peer_sockets(main: Option<&Path>, announced: Vec<PathBuf>) {
    let Some(home) = main.and_then(Path::parent) else {
        return;
    };
    listener::remove_sockets_in(home, announced);
}
