//! Finding plugin binaries (go-plugin's `Discover`).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The executable files in `dir` whose names match `pattern` (`*` any run of characters, `?`
/// one character), as absolute paths, sorted. Unlike go-plugin, files that are not executable
/// are left out, so a stray README never becomes a "plugin".
///
/// ```
/// let dir = std::env::temp_dir().join(format!("discover-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// for name in ["plugin-a", "plugin-b.txt", "other"] {
///     std::fs::write(dir.join(name), b"#!/bin/sh\n")?;
///     use std::os::unix::fs::PermissionsExt;
///     std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755))?;
/// }
/// let found = plugin_runtime::discover("plugin-*", &dir)?;
/// assert_eq!(found, vec![dir.join("plugin-a"), dir.join("plugin-b.txt")]);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn discover(pattern: &str, dir: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
    let dir = std::path::absolute(dir.as_ref())?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !matches(pattern.as_bytes(), name.as_bytes()) {
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

/// Glob matching with `*` and `?`, iterative with backtracking to the last `*`.
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                n += 1;
            }
            Some(c) if *c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn glob() {
        for (p, n, want) in [
            ("*", "anything", true),
            ("plugin-*", "plugin-kv", true),
            ("plugin-*", "plugin-", true),
            ("plugin-?v", "plugin-kv", true),
            ("plugin-?", "plugin-kv", false),
            ("*-kv", "terraform-provider-kv", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(matches(p.as_bytes(), n.as_bytes()), want, "{p} ~ {n}");
        }
    }
}
