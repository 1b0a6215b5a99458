//! The key-value store the provider manages: a directory holding one file per key, whose
//! content is the entry's value. Each entry's version (and its sensitive value) is kept beside
//! it in `.rkv/<key>.json`; keys may not start with `.`, so no key names that directory.
//!
//! The metadata names the file it describes (its inode and birth time): a file deleted and
//! made again by another program, or replaced by one, is a new entry (version 1, no sensitive
//! value) rather than inheriting what its predecessor left behind. An edit in place keeps the
//! file, so it keeps its version.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// The directory of a provider block's `dir`.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// One entry as read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file's content.
    pub value: String,
    /// Starts at 1 and grows by one on every write; a file another program made (with no
    /// metadata, or metadata left by an earlier file of that name) counts as version 1.
    pub version: i64,
    /// The entry's sensitive value, if it has one.
    pub sensitive_value: Option<String>,
}

/// The longest key, in bytes: the longest name a file system takes (255 bytes) less what
/// the store adds to a key for its own files (`.rkv/.<key>.json.tmp`).
pub const MAX_KEY_BYTES: usize = 255 - ".json.tmp".len() - 1;

/// What the store keeps beside an entry.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sensitive_value: Option<String>,
    /// The entry's file this describes; metadata of another file (or of none) is stale.
    #[serde(default)]
    file: Option<FileId>,
}

/// What tells one file of the store's directory from another, even one made later under the
/// same name: its inode, and its birth time where the file system keeps one (a freed inode can
/// be reused). Not the device number, which can change when the file system is mounted again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileId {
    ino: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    born_ns: Option<u64>,
}

impl FileId {
    fn of(metadata: &std::fs::Metadata) -> FileId {
        let born_ns = metadata
            .created()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_nanos()).ok());
        FileId {
            ino: metadata.ino(),
            born_ns,
        }
    }
}

/// A failure of the store, naming the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read, written or removed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// An entry's file does not hold UTF-8 text (Terraform's strings are Unicode).
    #[error("{path} does not hold UTF-8 text, so it cannot be a Terraform string")]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The metadata beside an entry is corrupt.
    #[error("{path} is not rkv metadata; remove it to reset the entry's version")]
    BadMeta {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: serde_json::Error,
    },
}

/// Why a key cannot name an entry, or `None` when it can.
pub fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("a key names the entry's file, so it cannot be empty")
    } else if key.len() > MAX_KEY_BYTES {
        Some("a key names the entry's file, so it can be at most 245 bytes long")
    } else if key.contains('/') || key.contains('\0') {
        Some("a key names the entry's file, so it cannot contain '/' or NUL")
    } else if key.starts_with('.') {
        Some("keys starting with '.' are reserved for the store's own files")
    } else {
        None
    }
}

impl Store {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir.join(".rkv")).map_err(|source| StoreError::Io {
            action: "creating the store directory",
            path: dir.to_owned(),
            source,
        })?;
        Ok(Store {
            dir: dir.to_owned(),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry `key`, or `None` when there is none.
    pub fn read(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let path = self.dir.join(key);
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io("reading", &path, source)),
        };
        // The identity and the content of one open file, so both describe the same file.
        let id = file
            .metadata()
            .map(|m| FileId::of(&m))
            .map_err(|source| io("reading", &path, source))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes)
            .map_err(|source| io("reading", &path, source))?;
        let value = String::from_utf8(bytes).map_err(|_| StoreError::NotText { path })?;
        let (version, sensitive_value) = match self.meta(key, &id)? {
            Some(meta) => (meta.version, meta.sensitive_value),
            None => (1, None),
        };
        Ok(Some(Entry {
            value,
            version,
            sensitive_value,
        }))
    }

    /// Writes the entry `key` and returns its new version: one more than its last one (so 2
    /// over a file another program made), or 1 for a new entry.
    pub fn write(
        &self,
        key: &str,
        value: &str,
        sensitive_value: Option<&str>,
    ) -> Result<i64, StoreError> {
        let path = self.dir.join(key);
        let version = match self.file_id(&path)? {
            Some(id) => self.meta(key, &id)?.map_or(2, |meta| meta.version + 1),
            None => 1,
        };
        // The new file is made first, so the metadata can name it; it takes the entry's name
        // last, so metadata naming a file that never got there is merely stale.
        let tmp = temporary(&path);
        std::fs::write(&tmp, value.as_bytes()).map_err(|source| io("writing", &tmp, source))?;
        let written = self.describe_and_place(key, &tmp, &path, version, sensitive_value);
        if written.is_err() {
            // Not the entry: a half-made file would only be in the way.
            let _ = std::fs::remove_file(&tmp);
        }
        written.map(|()| version)
    }

    /// Writes the metadata naming `tmp`, the entry's next file, then puts `tmp` in place.
    fn describe_and_place(
        &self,
        key: &str,
        tmp: &Path,
        path: &Path,
        version: i64,
        sensitive_value: Option<&str>,
    ) -> Result<(), StoreError> {
        let id = std::fs::metadata(tmp)
            .map(|m| FileId::of(&m))
            .map_err(|source| io("writing", tmp, source))?;
        let meta = Meta {
            version,
            sensitive_value: sensitive_value.map(str::to_owned),
            file: Some(id),
        };
        let meta_path = self.meta_path(key);
        let json = serde_json::to_vec(&meta).map_err(|source| StoreError::BadMeta {
            path: meta_path.clone(),
            source,
        })?;
        write_atomically(&meta_path, &json)?;
        std::fs::rename(tmp, path).map_err(|source| io("renaming into place", path, source))
    }

    /// Removes the entry `key`; removing an entry that is gone already is not an error.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        for path in [self.dir.join(key), self.meta_path(key)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(source) => return Err(io("removing", &path, source)),
            }
        }
        Ok(())
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.dir.join(".rkv").join(format!("{key}.json"))
    }

    /// Whether an entry `key` exists, readable or not.
    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.file_id(&self.dir.join(key))?.is_some())
    }

    fn file_id(&self, path: &Path) -> Result<Option<FileId>, StoreError> {
        match std::fs::metadata(path) {
            Ok(metadata) => Ok(Some(FileId::of(&metadata))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io("reading", path, source)),
        }
    }

    /// The metadata of the entry `key` whose file is `file`; `None` when there is none, or
    /// when it describes another file (one deleted or replaced since).
    fn meta(&self, key: &str, file: &FileId) -> Result<Option<Meta>, StoreError> {
        let path = self.meta_path(key);
        let meta: Meta = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| StoreError::BadMeta { path, source })?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io("reading", &path, source)),
        };
        Ok(meta
            .file
            .as_ref()
            .is_some_and(|f| f == file)
            .then_some(meta))
    }
}

/// Where `path`'s next content is written before it is renamed into place.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes through a temporary file and a rename, so that a reader never sees half a value.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = temporary(path);
    std::fs::write(&tmp, bytes).map_err(|source| io("writing", &tmp, source))?;
    std::fs::rename(&tmp, path).map_err(|source| io("renaming into place", path, source))
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_grow_and_deleted_entries_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.read("k").unwrap(), None);
        assert_eq!(store.write("k", "a", None).unwrap(), 1);
        assert_eq!(store.write("k", "b", Some("s")).unwrap(), 2);
        assert_eq!(std::fs::read_to_string(dir.path().join("k")).unwrap(), "b");
        let entry = store.read("k").unwrap().unwrap();
        assert_eq!((entry.value.as_str(), entry.version), ("b", 2));
        assert_eq!(entry.sensitive_value.as_deref(), Some("s"));
        store.delete("k").unwrap();
        store.delete("k").unwrap();
        assert_eq!(store.read("k").unwrap(), None);
        assert_eq!(store.write("k", "c", None).unwrap(), 1);
    }

    #[test]
    fn entries_written_by_others_are_read_and_bad_ones_explained() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("hand"), "made").unwrap();
        assert_eq!(store.read("hand").unwrap().unwrap().version, 1);
        std::fs::write(dir.path().join("bin"), [0xff, 0xfe]).unwrap();
        let err = store.read("bin").unwrap_err();
        assert!(
            err.to_string().contains("does not hold UTF-8 text"),
            "{err}"
        );
        std::fs::write(dir.path().join(".rkv/hand.json"), "{").unwrap();
        let err = store.read("hand").unwrap_err();
        assert!(err.to_string().contains("remove it to reset"), "{err}");
    }

    #[test]
    fn metadata_belongs_to_its_file_and_not_to_one_made_later() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.write("k", "a", Some("secret")).unwrap();
        assert_eq!(store.write("k", "b", Some("secret")).unwrap(), 2);
        // Edited in place by another program: the same file, so the same entry.
        std::fs::write(dir.path().join("k"), "edited").unwrap();
        let entry = store.read("k").unwrap().unwrap();
        assert_eq!(entry.version, 2);
        assert_eq!(entry.sensitive_value.as_deref(), Some("secret"));
        // Deleted, then made again by hand with the same content: a new entry, whose version
        // and sensitive value are not the old one's, although the old metadata is still there.
        std::fs::remove_file(dir.path().join("k")).unwrap();
        std::fs::write(dir.path().join("k"), "edited").unwrap();
        assert!(dir.path().join(".rkv/k.json").exists());
        let entry = store.read("k").unwrap().unwrap();
        assert_eq!((entry.version, entry.sensitive_value), (1, None));
        assert_eq!(store.write("k", "c", None).unwrap(), 2);
        assert_eq!(store.read("k").unwrap().unwrap().version, 2);
        // Replaced by a rename (as editors save): a new file again.
        std::fs::write(dir.path().join("other"), "renamed").unwrap();
        std::fs::rename(dir.path().join("other"), dir.path().join("k")).unwrap();
        assert_eq!(store.read("k").unwrap().unwrap().version, 1);
        let names: Vec<_> = std::fs::read_dir(dir.path().join(".rkv"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["k.json"], "no temporary file is left");
    }

    #[test]
    fn an_unreadable_entry_still_exists() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.exists("bin").unwrap());
        std::fs::write(dir.path().join("bin"), [0xff]).unwrap();
        assert!(store.read("bin").is_err());
        assert!(store.exists("bin").unwrap());
    }

    #[test]
    fn keys_that_cannot_name_a_file_are_refused() {
        assert!(key_problem("ok-key_1.txt").is_none());
        let longest = "k".repeat(MAX_KEY_BYTES);
        assert!(key_problem(&longest).is_none());
        let too_long = format!("{longest}k");
        for bad in ["", "a/b", ".rkv", ".hidden", "nul\0", &too_long] {
            assert!(key_problem(bad).is_some(), "{bad:?}");
        }
        assert!(
            key_problem(&too_long)
                .unwrap()
                .contains(&MAX_KEY_BYTES.to_string())
        );
    }

    #[test]
    fn the_longest_key_fits_every_file_the_store_makes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let longest = "é".repeat(MAX_KEY_BYTES / 2);
        assert_eq!(store.write(&longest, "v", Some("s")).unwrap(), 1);
        assert_eq!(store.write(&longest, "w", None).unwrap(), 2);
        assert_eq!(store.read(&longest).unwrap().unwrap().value, "w");
        let longest = "k".repeat(MAX_KEY_BYTES);
        assert_eq!(store.write(&longest, "v", None).unwrap(), 1);
        store.delete(&longest).unwrap();
    }
}
