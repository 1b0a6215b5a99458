//! The host's side of plugin sockets: private socket directories, and cleaning up after plugins
//! that could not.

use std::path::{Path, PathBuf};

use crate::error::Error;

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
    let dir = tempfile_dir(base).map_err(io_err("creating the socket directory"))?;
    let mode = if let Some(group) = group {
        let gid = crate::os::group_gid(group).map_err(|reason| {
            io_err("finding the socket group")(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{group:?}: {reason}"),
            ))
        })?;
        std::os::unix::fs::chown(&dir, None, Some(gid))
            .map_err(io_err("giving the socket directory to its group"))?;
        0o770
    } else {
        0o700
    };
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
        .map_err(io_err("setting the socket directory's mode"))?;
    Ok(dir)
}

fn tempfile_dir(base: &Path) -> std::io::Result<PathBuf> {
    for attempt in 0u32..100 {
        let dir = base.join(format!("plugin-dir{}", crate::os::random_u32() ^ attempt));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "no free plugin-dir name",
    ))
}

/// Removes a dead plugin's socket file if it is still there (a killed plugin cannot).
pub(super) fn remove_socket(socket: Option<&Path>) {
    use std::os::unix::fs::FileTypeExt;
    if let Some(path) = socket
        && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
    {
        let _ = std::fs::remove_file(path);
    }
}

pub(super) fn remove_dir(dir: Option<&Path>) {
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}
