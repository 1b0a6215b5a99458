//! Small OS facts both sides need.

use std::io;

/// A numeric gid, or a group name looked up in the group database.
pub(crate) fn group_gid(group: &str) -> io::Result<nix::unistd::Gid> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(nix::unistd::Gid::from_raw(gid));
    }
    match nix::unistd::Group::from_name(group)? {
        Some(found) => Ok(found.gid),
        None => Err(io::Error::new(io::ErrorKind::NotFound, "no such group")),
    }
}
