//! `PLUGIN_PROTOCOL_VERSIONS` as a plugin reads the host's list (`VersionList::parse`), and the
//! version it then chooses. The list re-renders to text that parses to the same list; the choice
//! is one of the plugin's versions, and one of the host's when it says they had one in common.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_core::{Negotiation, VersionList};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (host, invalid) = VersionList::parse(&text);
    assert!(invalid.len() <= text.split(',').count());
    let rendered = host.to_string();
    let (again, none) = VersionList::parse(&rendered);
    assert_eq!(again, host, "{text:?} re-rendered as {rendered:?}");
    assert!(none.is_empty(), "{rendered:?}: {none:?}");

    let plugin: VersionList = [1, 2, 5, u32::MAX].into_iter().collect();
    match Negotiation::choose(Some(&host), &plugin) {
        Some(n) => {
            assert!(plugin.contains(n.version));
            assert_eq!(n.common, host.contains(n.version));
            assert_eq!(Negotiation::accept(n.version, &host).is_ok(), n.common);
        }
        None => unreachable!("the plugin has versions"),
    }
});
