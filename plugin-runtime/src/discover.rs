//! Finding plugin binaries (go-plugin's `Discover`).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The executable files in `dir` whose names match `pattern` (shell-style, as Go's
/// `filepath.Glob`: `*` any run of characters, `?` one character, `[abc]`, `[a-z]` and `[!a]`
/// classes), as absolute paths, sorted. Unlike go-plugin, files that are not executable are
/// left out, so a stray README never becomes a "plugin". A malformed pattern is an
/// `InvalidInput` error.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("discover-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// for name in ["plugin-a", "plugin-b.txt", "plugin-c", "other"] {
///     std::fs::write(dir.join(name), b"#!/bin/sh\n")?;
///     use std::os::unix::fs::PermissionsExt;
///     std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755))?;
/// }
/// let found = plugin_runtime::discover("plugin-*", &dir)?;
/// assert_eq!(found, vec![dir.join("plugin-a"), dir.join("plugin-b.txt"), dir.join("plugin-c")]);
/// let found = plugin_runtime::discover("plugin-[ab]", &dir)?;
/// assert_eq!(found, vec![dir.join("plugin-a")]);
/// assert!(plugin_runtime::discover("plugin-[", &dir).is_err());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn discover(pattern: &str, dir: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
    let pattern = glob::Pattern::new(pattern).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("plugin name pattern {pattern:?}: {e}"),
        )
    })?;
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let dir = std::path::absolute(dir.as_ref())?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !pattern.matches_with(name, options) {
            continue;
        }
        let meta = std::fs::metadata(entry.path())?;
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            found.push(dir.join(name));
        }
    }
    found.sort();
    Ok(found)
}
