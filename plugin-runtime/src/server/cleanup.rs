//! What a dead host leaves: a host killed outright cannot remove its brokered sockets nor the
//! socket directory it made for this plugin, so the plugin, which outlives it briefly, does.

use std::path::{Path, PathBuf};

use plugin_core::env;

use crate::transport::listener::remove_sockets_in;

/// After the host's death: removes the sockets the host announced to our broker and our own
/// socket, if they lie beside it and are named as ours and go-plugin's are (`plugin...`), then
/// the socket directory if the host made it for us (`PLUGIN_UNIX_SOCKET_DIR` named
/// `plugin-dir...`, as ours and go-plugin's hosts name it) and it is now empty.
pub(super) fn after_host(own_socket: Option<&Path>, host_sockets: Vec<PathBuf>) {
    let Some(own) = own_socket else {
        return;
    };
    let Some(home) = own.parent() else {
        return;
    };
    remove_sockets_in(home, host_sockets.iter().map(PathBuf::as_path).chain([own]));
    let made_for_us = std::env::var_os(env::UNIX_SOCKET_DIR)
        .is_some_and(|dir| Path::new(&dir) == home)
        && home
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("plugin-dir"));
    if made_for_us {
        // remove_dir only takes an empty directory: anything else in it stays.
        match std::fs::remove_dir(home) {
            Ok(()) => {
                tracing::debug!(dir = %home.display(), "removed the dead host's socket directory")
            }
            Err(e) => {
                tracing::debug!(dir = %home.display(), error = %e, "left the dead host's socket directory")
            }
        }
    }
}
