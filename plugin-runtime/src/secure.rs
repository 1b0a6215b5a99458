//! Verifying the plugin binary before it is launched (go-plugin's `SecureConfig`).

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::Digest as _;

use plugin_core::SecureConfigError;

/// A digest algorithm for [`SecureConfig`].
///
/// ```
/// use std::io::Read;
/// use plugin_runtime::{ChecksumHash, SecureConfig};
///
/// /// A toy digest: the length of the file, as 8 bytes.
/// struct Length;
///
/// impl ChecksumHash for Length {
///     fn name(&self) -> &'static str { "length" }
///     fn digest(&self, reader: &mut dyn Read) -> std::io::Result<Vec<u8>> {
///         let n = std::io::copy(reader, &mut std::io::sink())?;
///         Ok(n.to_be_bytes().to_vec())
///     }
/// }
///
/// let secure = SecureConfig::new(3u64.to_be_bytes().to_vec(), Some(std::sync::Arc::new(Length)));
/// # let _ = secure;
/// ```
pub trait ChecksumHash: Send + Sync + 'static {
    /// Its name, for messages (`sha256`).
    fn name(&self) -> &'static str;
    /// The digest of everything `reader` yields.
    fn digest(&self, reader: &mut dyn Read) -> io::Result<Vec<u8>>;
}

/// SHA-256.
///
/// ```
/// use plugin_runtime::{ChecksumHash, Sha256};
/// let digest = Sha256.digest(&mut &b"abc"[..])?;
/// assert_eq!(digest.len(), 32);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Sha256;

impl ChecksumHash for Sha256 {
    fn name(&self) -> &'static str {
        "sha256"
    }

    fn digest(&self, reader: &mut dyn Read) -> io::Result<Vec<u8>> {
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher.finalize().to_vec())
    }
}

/// The expected checksum of the plugin binary and how to compute it.
///
/// ```
/// use plugin_runtime::SecureConfig;
/// let path = std::env::temp_dir().join(format!("secure-doc-{}", std::process::id()));
/// std::fs::write(&path, b"abc")?;
/// let sum = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// assert!(SecureConfig::sha256(sum).check(&path).is_ok());
/// assert!(SecureConfig::sha256(vec![0; 32]).check(&path).is_err());
/// std::fs::remove_file(&path)?;
/// # fn hex(s: &str) -> Vec<u8> { (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect() }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct SecureConfig {
    checksum: Vec<u8>,
    hash: Option<Arc<dyn ChecksumHash>>,
}

impl fmt::Debug for SecureConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureConfig")
            .field("checksum", &hex(&self.checksum))
            .field("hash", &self.hash.as_ref().map(|h| h.name()))
            .finish()
    }
}

impl SecureConfig {
    /// Expect this SHA-256 digest.
    pub fn sha256(checksum: Vec<u8>) -> Self {
        SecureConfig {
            checksum,
            hash: Some(Arc::new(Sha256)),
        }
    }

    /// Expect `checksum` computed with `hash` (`None` reproduces go-plugin's "no hash" error).
    pub fn new(checksum: Vec<u8>, hash: Option<Arc<dyn ChecksumHash>>) -> Self {
        SecureConfig { checksum, hash }
    }

    /// Hashes the file at `path` and compares in constant time.
    pub fn check(&self, path: &Path) -> Result<(), SecureConfigError> {
        if self.checksum.is_empty() {
            return Err(SecureConfigError::NoChecksum);
        }
        let hash = self.hash.as_ref().ok_or(SecureConfigError::NoHash)?;
        let verify = |reason: String| SecureConfigError::Verify {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = std::fs::File::open(path).map_err(|e| verify(e.to_string()))?;
        let actual = hash.digest(&mut file).map_err(|e| verify(e.to_string()))?;
        let same = actual.len() == self.checksum.len()
            && actual
                .iter()
                .zip(&self.checksum)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(SecureConfigError::Mismatch {
                path: path.to_path_buf(),
                algorithm: hash.name().to_string(),
                expected: hex(&self.checksum),
                actual: hex(&actual),
            })
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file a program name refers to: as given when it contains a `/`, else found in `PATH`.
pub(crate) fn resolve_program(program: &Path) -> PathBuf {
    if program.components().count() > 1 || program.is_absolute() {
        return program.to_path_buf();
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| program.to_path_buf())
}
