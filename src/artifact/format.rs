//! Artifact format v3 (v1 and v2 are still read): the manifest, its entries, and the rules for member
//! paths.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::seal::Sealing;
use crate::select::{SecretsMode, Selection};

pub const FORMAT_NAME: &str = "routevault.dev/artifact";
/// The version written. Version 2 adds `value_digests` to sealed entries; version 3 adds
/// `source.addressed_ingress_classes`; nothing else changed.
pub const FORMAT_VERSION: u32 = 3;
/// The versions read.
pub const READABLE_VERSIONS: &[u32] = &[1, 2, 3];
/// The first member of every artifact.
pub const MANIFEST_PATH: &str = "manifest.json";
/// Object members live under this folder, named by their index: `objects/000001.yaml`.
pub const OBJECTS_DIR: &str = "objects/";

/// The manifest: what the artifact holds and where it came from. `E` is how the entries are
/// held: a plain list where a manifest is built in memory, `entries::Entries` (compact) where
/// an artifact is opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest<E = Vec<Entry>> {
    pub format: String,
    pub format_version: u32,
    pub id: String,
    pub env: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub tool: ToolInfo,
    pub source: SourceInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub selection: Selection,
    pub secrets: SecretsMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing: Option<Sealing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSnapshot>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Objects the source held but the selection left out, by reason.
    #[serde(default)]
    pub skipped: BTreeMap<String, usize>,
    /// Last, so that a writer can stream the entries after everything else (`write`).
    pub entries: E,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

/// Where the objects came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// `dir` or `cluster`.
    pub kind: String,
    /// For `dir`: the folder as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For `cluster`: API server URL, its version, and the uid of kube-system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Routing kinds the cluster served (group/version/kind) and those it did not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds_served: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds_absent: Vec<String>,
    /// For `cluster`: the IngressClasses ("" for Ingresses naming none) of which some Ingress
    /// had a load-balancer address when the snapshot was taken — whose controller publishes
    /// one, so that `restore --wait` waits for an address only there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addressed_ingress_classes: Option<std::collections::BTreeSet<String>>,
}

/// The snapshot that was the newest of this environment when this one was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousSnapshot {
    pub id: String,
    pub artifact_sha256: String,
}

/// One object member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Whether the object's Secret data is sealed.
    #[serde(default)]
    pub sealed: bool,
    /// For a sealed Secret: each data key's keyed value digest (`value_digest`), so snapshots
    /// signed by one key can be compared without unsealing. Absent in older artifacts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub value_digests: BTreeMap<String, String>,
}

impl Entry {
    pub fn describe(&self) -> String {
        let kind = crate::catalog::qualified(
            crate::catalog::split_api_version(&self.api_version).0,
            &self.kind,
        );
        let mut text = String::new();
        crate::object::write_identity(&mut text, &kind, self.namespace.as_deref(), &self.name)
            .expect("writing to a String does not fail");
        text
    }
}

/// The member path of the object with this index.
pub fn object_path(index: usize) -> String {
    format!("{OBJECTS_DIR}{index:06}.yaml")
}

/// Whether `path` is exactly `object_path(index)`, without spelling it out: readers ask this
/// of every entry of a manifest.
pub fn is_object_path(path: &str, index: usize) -> bool {
    object_path_number(path) == Some(index)
}

/// The index whose `object_path` is exactly `path` (canonical spelling only: no sign, no
/// extra zeros), or None.
pub fn object_path_number(path: &str) -> Option<usize> {
    let digits = path.strip_prefix(OBJECTS_DIR)?.strip_suffix(".yaml")?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: usize = digits.parse().ok()?;
    // `{index:06}`: the number's own digits, zero-padded to six.
    let width = number
        .checked_ilog10()
        .map_or(1, |log| log as usize + 1)
        .max(6);
    (digits.len() == width).then_some(number)
}

/// Why a member path is unsafe, or None if it is a plain relative path of normal parts.
/// Every reader applies this to every member, before anything else.
pub fn unsafe_path_reason(path: &[u8]) -> Option<&'static str> {
    let Ok(text) = std::str::from_utf8(path) else {
        return Some("path is not UTF-8");
    };
    if text.is_empty() {
        return Some("empty path");
    }
    if text.starts_with('/') || text.starts_with('\\') || text.contains(':') {
        return Some("absolute path");
    }
    if text.contains('\\') || text.contains('\0') {
        return Some("backslash or NUL in path");
    }
    for part in text.split('/') {
        match part {
            ".." => return Some("'..' in path"),
            "" | "." => return Some("empty or '.' path component"),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_named() {
        assert_eq!(unsafe_path_reason(b"../etc/passwd"), Some("'..' in path"));
        assert_eq!(unsafe_path_reason(b"objects/../../x"), Some("'..' in path"));
        assert_eq!(unsafe_path_reason(b"/etc/passwd"), Some("absolute path"));
        assert_eq!(unsafe_path_reason(b"C:/x"), Some("absolute path"));
        assert_eq!(
            unsafe_path_reason(b"objects//x"),
            Some("empty or '.' path component")
        );
        assert_eq!(
            unsafe_path_reason(b"a\\..\\b"),
            Some("backslash or NUL in path")
        );
        assert_eq!(unsafe_path_reason(b"\xff"), Some("path is not UTF-8"));
        assert_eq!(unsafe_path_reason(object_path(7).as_bytes()), None);
        assert_eq!(object_path(7), "objects/000007.yaml");
    }

    #[test]
    fn object_paths_are_recognised_exactly_as_spelled() {
        for index in [1, 7, 99_999, 999_999, 1_000_000, 1_234_567, usize::MAX - 1] {
            assert!(is_object_path(&object_path(index), index), "{index}");
            assert!(!is_object_path(&object_path(index), index - 1), "{index}");
        }
        for (path, index) in [
            ("objects/7.yaml", 7),
            ("objects/0000007.yaml", 7),
            ("objects/+00007.yaml", 7),
            ("objects/00007 .yaml", 7),
            ("objects/000007.yml", 7),
            ("object/000007.yaml", 7),
            ("objects/01000000.yaml", 1_000_000),
        ] {
            assert!(!is_object_path(path, index), "{path}");
            assert_eq!(object_path_number(path), None, "{path}");
        }
        assert!(is_object_path("objects/000000.yaml", 0));
        assert_eq!(object_path_number("objects/001234.yaml"), Some(1234));
        // More digits than any index has: refused, not an overflow.
        assert_eq!(
            object_path_number("objects/99999999999999999999999.yaml"),
            None
        );
    }

    proptest::proptest! {
        /// Whatever the bytes, an accepted path is relative and made of normal components only.
        #[test]
        fn accepted_paths_cannot_escape(path in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            if unsafe_path_reason(&path).is_none() {
                let text = std::str::from_utf8(&path).unwrap();
                proptest::prop_assert!(!text.starts_with('/'));
                for part in text.split('/') {
                    proptest::prop_assert!(!part.is_empty() && part != "." && part != "..");
                }
                proptest::prop_assert!(!text.contains('\\') && !text.contains(':'));
            }
        }

        /// Paths built from '..', '.', '/' and letters: exactly those with a bad component are refused.
        #[test]
        fn dot_dot_anywhere_is_refused(parts in proptest::collection::vec("(\\.\\.|\\.|[a-z]{1,3})", 1..6)) {
            let path = parts.join("/");
            let bad = parts.iter().any(|p| p == ".." || p == ".");
            proptest::prop_assert_eq!(unsafe_path_reason(path.as_bytes()).is_some(), bad);
        }
    }
}
