//! App protocol version negotiation, both sides, as go-plugin does it.
//!
//! The host sends every version it has in `PLUGIN_PROTOCOL_VERSIONS`; the plugin picks the
//! highest version both have, or its lowest when none is common (a legacy host sends nothing),
//! and the host then checks the plugin's choice against its own table.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::HandshakeError;

/// A set of app protocol versions, as carried in `PLUGIN_PROTOCOL_VERSIONS`.
///
/// ```
/// use plugin_core::VersionList;
/// let (list, invalid) = VersionList::parse("3,1, 2,x");
/// assert_eq!(list.to_string(), "1,3");
/// assert_eq!(invalid, vec![" 2".to_string(), "x".to_string()]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionList(BTreeSet<u32>);

impl VersionList {
    /// Parses the comma-separated list. Entries Go's `strconv.Atoi` would reject (spaces
    /// included) are returned separately so the plugin can report them, as go-plugin does.
    pub fn parse(raw: &str) -> (VersionList, Vec<String>) {
        let mut set = BTreeSet::new();
        let mut invalid = Vec::new();
        for entry in raw.split(',').filter(|e| !e.is_empty()) {
            match entry.strip_prefix('+').unwrap_or(entry).parse::<u32>() {
                Ok(v) if !entry.starts_with("+-") => {
                    set.insert(v);
                }
                _ => invalid.push(entry.to_string()),
            }
        }
        (VersionList(set), invalid)
    }

    /// Whether `version` is in the list.
    pub fn contains(&self, version: u32) -> bool {
        self.0.contains(&version)
    }

    /// The versions, ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        self.0.iter().copied()
    }

    /// The versions as a vector, ascending.
    pub fn to_vec(&self) -> Vec<u32> {
        self.iter().collect()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<u32> for VersionList {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        VersionList(iter.into_iter().collect())
    }
}

impl fmt::Display for VersionList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for v in &self.0 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// The plugin's choice of app protocol version.
///
/// ```
/// use plugin_core::{Negotiation, VersionList};
/// let host: VersionList = [2, 3].into_iter().collect();
/// let plugin: VersionList = [1, 2, 3, 4].into_iter().collect();
/// assert_eq!(Negotiation::choose(Some(&host), &plugin), Some(Negotiation { version: 3, common: true }));
///
/// // Nothing in common: the plugin falls back to its lowest and the host will report it.
/// let old_host: VersionList = [7].into_iter().collect();
/// assert_eq!(Negotiation::choose(Some(&old_host), &plugin), Some(Negotiation { version: 1, common: false }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiation {
    /// The version the plugin serves and announces.
    pub version: u32,
    /// Whether the host offered it (false: fallback to the plugin's lowest).
    pub common: bool,
}

impl Negotiation {
    /// Plugin side: the highest version in both lists, else the plugin's lowest.
    /// `host` is `None` when `PLUGIN_PROTOCOL_VERSIONS` was not set. `None` only when the plugin
    /// has no version at all.
    pub fn choose(host: Option<&VersionList>, plugin: &VersionList) -> Option<Negotiation> {
        let common = host.and_then(|h| plugin.iter().rev().find(|v| h.contains(*v)));
        match common {
            Some(version) => Some(Negotiation {
                version,
                common: true,
            }),
            None => plugin.iter().next().map(|version| Negotiation {
                version,
                common: false,
            }),
        }
    }

    /// Host side: the plugin's announced version must be one of the host's.
    ///
    /// ```
    /// use plugin_core::{Negotiation, VersionList};
    /// let host: VersionList = [2, 3].into_iter().collect();
    /// assert!(Negotiation::accept(3, &host).is_ok());
    /// assert!(Negotiation::accept(1, &host).unwrap_err().to_string().contains("Client versions: [2, 3]"));
    /// ```
    pub fn accept(plugin_version: u32, host: &VersionList) -> Result<(), HandshakeError> {
        if host.contains(plugin_version) {
            Ok(())
        } else {
            Err(HandshakeError::IncompatibleAppVersion {
                plugin: plugin_version,
                host: host.to_vec(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[u32]) -> VersionList {
        v.iter().copied().collect()
    }

    #[test]
    fn legacy_host_without_versions_gets_the_lowest() {
        let n = Negotiation::choose(None, &list(&[5, 2, 9])).unwrap();
        assert_eq!(
            n,
            Negotiation {
                version: 2,
                common: false
            }
        );
    }

    #[test]
    fn empty_plugin_set_has_no_choice() {
        assert_eq!(Negotiation::choose(Some(&list(&[1])), &list(&[])), None);
    }

    #[test]
    fn atoi_rules_for_entries() {
        let (l, bad) = VersionList::parse("+4,-1,07,,10");
        assert_eq!(l.to_vec(), vec![4, 7, 10]);
        assert_eq!(bad, vec!["-1".to_string()]);
    }
}
