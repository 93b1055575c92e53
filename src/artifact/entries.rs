//! The manifest's entries as a reader holds them. An opened artifact keeps one entry per object
//! for as long as it is read (every pass checks every member against its entry), so the entries
//! are what an open artifact's memory grows with: as parsed `Entry` values they took about
//! 500 bytes each (six strings, a hex digest, a map of hex digests), 150 MB at 300,000 objects.
//! Held here they take about a quarter of that: digests as bytes, `apiVersion`/kind and
//! namespaces interned (an estate has a handful of kinds and far fewer namespaces than objects),
//! and no path where it is the writer's own `objects/NNNNNN.yaml` for its position. An `Entry`
//! is rebuilt on demand, for the one member being read. The format is unchanged: this is how
//! the `entries` array is held, not what it says.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, Serializer};

use super::format::{Entry, is_object_path, object_path, object_path_number};

/// No namespace (cluster-scoped) in `Compact::namespace`.
const NO_NAMESPACE: u32 = u32::MAX;

/// Every entry of a manifest, in manifest order.
#[derive(Clone, Default, PartialEq)]
pub struct Entries {
    items: Vec<Compact>,
    /// Interned `(apiVersion, kind)` pairs, indexed by `Compact::kind`.
    kinds: Vec<(Box<str>, Box<str>)>,
    kind_index: HashMap<(Box<str>, Box<str>), u32>,
    /// Interned namespaces, indexed by `Compact::namespace`.
    namespaces: Vec<Box<str>>,
    namespace_index: HashMap<Box<str>, u32>,
    /// Entries whose path is not `object_path` of their position, by path (the first entry
    /// declaring it, so that a second one shows up as a duplicate).
    odd_paths: HashMap<Box<str>, usize>,
}

/// A sealed value's data key and its digest.
type ValueDigest = (Box<str>, [u8; 32]);

#[derive(Clone, PartialEq)]
struct Compact {
    sha256: [u8; 32],
    size: u64,
    name: Box<str>,
    /// None: `object_path(position + 1)`.
    path: Option<Box<str>>,
    value_digests: Option<Box<[ValueDigest]>>,
    kind: u32,
    namespace: u32,
    sealed: bool,
}

// Nothing asks whether a manifest is empty (an empty snapshot is refused when written, and a
// reader checks every entry either way), so `len` goes without `is_empty`.
#[allow(clippy::len_without_is_empty)]
impl Entries {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Adds the next entry. Refuses digests that are not 64 lowercase hex digits: they could
    /// never match a member, and held as bytes they would come back spelled otherwise.
    pub fn push(&mut self, entry: Entry) -> Result<(), String> {
        let position = self.items.len();
        let sha256 = hex_digest(&entry.sha256).ok_or_else(|| {
            format!(
                "entry {}: sha256 is not 64 lowercase hex digits",
                entry.path
            )
        })?;
        let value_digests = if entry.value_digests.is_empty() {
            None
        } else {
            let mut digests = Vec::with_capacity(entry.value_digests.len());
            for (key, digest) in entry.value_digests {
                let bytes = hex_digest(&digest).ok_or_else(|| {
                    format!(
                        "entry {}: value digest of {key:?} is not 64 lowercase hex digits",
                        entry.path
                    )
                })?;
                digests.push((key.into_boxed_str(), bytes));
            }
            Some(digests.into_boxed_slice())
        };
        let path = if is_object_path(&entry.path, position + 1) {
            None
        } else {
            self.odd_paths
                .entry(entry.path.as_str().into())
                .or_insert(position);
            Some(entry.path.into_boxed_str())
        };
        let kind = intern(
            &mut self.kinds,
            &mut self.kind_index,
            (entry.api_version.into(), entry.kind.into()),
        );
        let namespace = match entry.namespace {
            Some(namespace) => intern(
                &mut self.namespaces,
                &mut self.namespace_index,
                namespace.into(),
            ),
            None => NO_NAMESPACE,
        };
        self.items.push(Compact {
            sha256,
            size: entry.size,
            name: entry.name.into_boxed_str(),
            path,
            value_digests,
            kind,
            namespace,
            sealed: entry.sealed,
        });
        Ok(())
    }

    /// The entry at `index`, rebuilt.
    pub fn get(&self, index: usize) -> Option<Entry> {
        let item = self.items.get(index)?;
        let (api_version, kind) = &self.kinds[item.kind as usize];
        Some(Entry {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: (item.namespace != NO_NAMESPACE)
                .then(|| self.namespaces[item.namespace as usize].to_string()),
            name: item.name.to_string(),
            path: match &item.path {
                Some(path) => path.to_string(),
                None => object_path(index + 1),
            },
            size: item.size,
            sha256: hex::encode(item.sha256),
            sealed: item.sealed,
            value_digests: item
                .value_digests
                .iter()
                .flatten()
                .map(|(key, digest)| (key.to_string(), hex::encode(digest)))
                .collect::<BTreeMap<_, _>>(),
        })
    }

    /// Every entry, rebuilt one at a time.
    pub fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        (0..self.items.len()).filter_map(|index| self.get(index))
    }

    /// Whether any entry carries value digests (a version 2 field), without rebuilding them.
    pub fn any_value_digests(&self) -> bool {
        self.items.iter().any(|item| item.value_digests.is_some())
    }

    /// The position of the (first) entry declaring `path`. An entry whose own position this is
    /// not declares a path some earlier entry declared too.
    pub fn position_of(&self, path: &str) -> Option<usize> {
        if let Some(&position) = self.odd_paths.get(path) {
            return Some(position);
        }
        let position = object_path_number(path)?.checked_sub(1)?;
        let standard = self.items.get(position)?.path.is_none();
        standard.then_some(position)
    }

    /// Whether the entry at `index` is the member at `path` with this size and SHA-256.
    pub fn matches(&self, index: usize, size: u64, sha256: &[u8; 32]) -> bool {
        self.items
            .get(index)
            .is_some_and(|item| item.size == size && &item.sha256 == sha256)
    }
}

impl From<Vec<Entry>> for Entries {
    /// For tests and tools that build a manifest in memory; panics on a malformed digest.
    fn from(entries: Vec<Entry>) -> Self {
        let mut out = Entries::default();
        for entry in entries {
            out.push(entry).expect("well-formed entry");
        }
        out
    }
}

fn intern<K: std::hash::Hash + Eq + Clone>(
    table: &mut Vec<K>,
    index: &mut HashMap<K, u32>,
    key: K,
) -> u32 {
    if let Some(&found) = index.get(&key) {
        return found;
    }
    let position = table.len() as u32;
    table.push(key.clone());
    index.insert(key, position);
    position
}

/// 64 lowercase hex digits as bytes.
fn hex_digest(text: &str) -> Option<[u8; 32]> {
    if !crate::value_digest::is_well_formed(text) {
        return None;
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Entries {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for entry in self.iter() {
            seq.serialize_element(&entry)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Entries {
    /// One entry at a time, straight into the compact form: the parsed array is never held.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of manifest entries")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
                let mut entries = Entries::default();
                while let Some(entry) = seq.next_element::<Entry>()? {
                    entries.push(entry).map_err(de::Error::custom)?;
                }
                entries.items.shrink_to_fit();
                Ok(entries)
            }
        }
        deserializer.deserialize_seq(EntriesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(position: usize, namespace: Option<&str>, name: &str) -> Entry {
        Entry {
            api_version: "networking.k8s.io/v1".into(),
            kind: "Ingress".into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
            path: object_path(position),
            size: 10 + position as u64,
            sha256: format!("{:064x}", position),
            sealed: false,
            value_digests: BTreeMap::new(),
        }
    }

    #[test]
    fn entries_come_back_as_they_went_in() {
        let mut sealed = entry(3, Some("shop"), "tls");
        sealed.api_version = "v1".into();
        sealed.kind = "Secret".into();
        sealed.sealed = true;
        sealed.value_digests = [("tls.crt", "ab"), ("tls.key", "cd")]
            .into_iter()
            .map(|(k, d)| (k.to_string(), d.repeat(32)))
            .collect();
        let mut odd = entry(4, None, "odd");
        odd.path = "objects/elsewhere.yaml".into();
        let given = vec![
            entry(1, Some("shop"), "web"),
            entry(2, Some("blog"), "web"),
            sealed,
            odd,
        ];
        let entries = Entries::from(given.clone());
        assert_eq!(entries.len(), 4);
        assert_eq!(entries.iter().collect::<Vec<_>>(), given);
        assert!(entries.any_value_digests());
        assert!(!Entries::from(vec![entry(1, None, "a")]).any_value_digests());
        let json = serde_json::to_string(&entries).unwrap();
        assert_eq!(json, serde_json::to_string(&given).unwrap());
        let parsed: Entries = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.iter().collect::<Vec<_>>(), given);
    }

    #[test]
    fn positions_are_found_by_path() {
        let mut odd = entry(2, None, "odd");
        odd.path = "objects/x.yaml".into();
        let entries = Entries::from(vec![entry(1, None, "a"), odd, entry(3, None, "c")]);
        assert_eq!(entries.position_of("objects/000001.yaml"), Some(0));
        assert_eq!(entries.position_of("objects/x.yaml"), Some(1));
        assert_eq!(entries.position_of("objects/000003.yaml"), Some(2));
        // Entry 2 is not at its standard path, and non-canonical spellings are not paths.
        assert_eq!(entries.position_of("objects/000002.yaml"), None);
        assert_eq!(entries.position_of("objects/3.yaml"), None);
        assert_eq!(entries.position_of("objects/0000003.yaml"), None);
        assert_eq!(entries.position_of("objects/000004.yaml"), None);
        assert_eq!(entries.position_of("objects/000000.yaml"), None);
        assert_eq!(entries.position_of("manifest.json"), None);
    }

    #[test]
    fn a_path_declared_twice_points_at_its_first_entry() {
        // The second entry declares the first one's standard path; the third declares the
        // second's odd path again.
        let mut second = entry(2, None, "b");
        second.path = object_path(1);
        let mut third = entry(3, None, "c");
        third.path = object_path(1);
        let entries = Entries::from(vec![entry(1, None, "a"), second, third]);
        // Each entry's path must lead back to that entry; here 0 and 2 do not.
        let leads_back: Vec<bool> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| entries.position_of(&e.path) == Some(i))
            .collect();
        assert_eq!(leads_back, vec![false, true, false]);
    }

    #[test]
    fn malformed_digests_are_refused_when_parsed() {
        let mut upper = entry(1, None, "a");
        upper.sha256 = "AB".repeat(32);
        let json = serde_json::to_string(&vec![upper]).unwrap();
        let error = serde_json::from_str::<Entries>(&json)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sha256 is not 64 lowercase hex digits"),
            "{error}"
        );

        let mut digest = entry(1, None, "a");
        digest.sealed = true;
        digest.value_digests = [("tls.key".to_string(), "zz".repeat(32))].into();
        let json = serde_json::to_string(&vec![digest]).unwrap();
        let error = serde_json::from_str::<Entries>(&json)
            .unwrap_err()
            .to_string();
        assert!(error.contains("value digest of \"tls.key\""), "{error}");
    }

    #[test]
    fn matches_compares_size_and_digest() {
        let entries = Entries::from(vec![entry(1, None, "a")]);
        let mut digest = [0u8; 32];
        digest[31] = 1;
        assert!(entries.matches(0, 11, &digest));
        assert!(!entries.matches(0, 12, &digest));
        assert!(!entries.matches(0, 11, &[0u8; 32]));
        assert!(!entries.matches(1, 11, &digest));
    }
}
