//! Comparison of two sets of normalised routing objects: a snapshot against a live
//! cluster (drift), or one snapshot against another (what a build changed). Objects are matched
//! by identity; a changed object lists its changed fields, old → new. Secret values never
//! appear: each side gives a witness per value (a hash of the plaintext kept in memory only, or
//! the snapshot's keyed digest), and the report says only that a value changed, or that it could
//! not be compared. The expected side's object texts wait in an unlinked spool file (`Side`);
//! the other side's objects are compared with it one at a time as they arrive (`Comparer`) and
//! never held. The comparison itself is pure logic.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::object::{HeldRef, Object, ObjectRef, SharedNames};
use crate::spool::{Slot, Spool, SpoolReader};

/// What can be known about one Secret value without holding it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueWitness {
    /// SHA-256 of the plaintext, when this side holds it (live, unsealed or plaintext snapshot).
    /// Never written out: an unkeyed hash would let a reader test guesses.
    pub plain: Option<[u8; 32]>,
    /// The keyed digest and the id of the signing key it was made under.
    pub digest: Option<KeyedDigest>,
}

/// A value's keyed digest (see `value_digest`) as bytes, with the id of the signing key whose
/// digest key made it: the id is one string shared by every witness of a side, where a hex
/// digest and an owned id cost two allocations per value (issue 16: ~350 bytes a Secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedDigest {
    pub signer: Arc<str>,
    pub digest: [u8; 32],
}

impl KeyedDigest {
    /// A digest as a manifest records it (64 lowercase hex digits); `None` when it is not one,
    /// which leaves the value uncompared rather than guessed at.
    fn from_hex(signer: &Arc<str>, text: &str) -> Option<Self> {
        let mut digest = [0; 32];
        (crate::value_digest::is_well_formed(text)
            && hex::decode_to_slice(text, &mut digest).is_ok())
        .then(|| Self {
            signer: Arc::clone(signer),
            digest,
        })
    }
}

impl ValueWitness {
    pub fn of_plaintext(plain: &[u8]) -> Self {
        Self {
            plain: Some(Sha256::digest(plain).into()),
            digest: None,
        }
    }

    /// Equal, different, or `None` when the two sides share no way of telling.
    fn same_as(&self, other: &Self) -> Option<bool> {
        if let (Some(a), Some(b)) = (&self.plain, &other.plain) {
            return Some(a == b);
        }
        match (&self.digest, &other.digest) {
            (Some(a), Some(b)) if a.signer == b.signer => Some(a.digest == b.digest),
            _ => None,
        }
    }
}

/// A Secret's value witnesses by data key, sorted by key: a boxed slice, since a map's node
/// cost about a kilobyte per Secret whatever its few keys (heaptrack, `diff` at 100k objects).
#[derive(Debug, Clone, Default)]
pub struct Witnesses(Box<[(String, ValueWitness)]>);

impl Witnesses {
    /// From pairs already sorted by key with each key once (a map's iteration).
    fn from_sorted(pairs: impl Iterator<Item = (String, ValueWitness)>) -> Self {
        Self(pairs.collect())
    }

    fn get(&self, key: &str) -> Option<&ValueWitness> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &ValueWitness)> {
        self.0.iter().map(|(k, w)| (k.as_str(), w))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One object of a side as it is read, with the witnesses of its Secret values by data key
/// (the values themselves already taken out). A [`SideWriter`] keeps it as a [`Kept`].
#[derive(Debug, Clone)]
pub struct Item {
    object: Object,
    pub values: Witnesses,
}

impl Item {
    fn new(object: Object, values: Witnesses) -> Self {
        Self { object, values }
    }

    /// An object whose Secret data (if any) is plaintext base64: witnesses are computed and
    /// the values taken out of the object. With `digester` (and its key id), each witness also
    /// carries that key's digest, to compare with sealed values.
    pub fn plaintext(
        mut object: Object,
        digester: Option<(&crate::value_digest::ValueDigester, &Arc<str>)>,
    ) -> Self {
        let values = take_secret_data(&mut object)
            .into_iter()
            .map(|(key, encoded)| {
                let plain = decode_base64(&encoded).unwrap_or_else(|| encoded.into_bytes());
                let mut witness = ValueWitness::of_plaintext(&plain);
                if let Some((digester, signer)) = digester {
                    witness.digest = Some(KeyedDigest {
                        signer: Arc::clone(signer),
                        digest: digester.digest_bytes(&plain),
                    });
                }
                (key, witness)
            });
        Self::new(object, Witnesses::from_sorted(values))
    }

    /// A sealed Secret as the artifact holds it: its values are known only by the keyed
    /// digests recorded in the manifest under `signer` (none in older artifacts).
    pub fn sealed(
        mut object: Object,
        digests: &BTreeMap<String, String>,
        signer: &Arc<str>,
    ) -> Self {
        let values = take_secret_data(&mut object).into_keys().map(|key| {
            let digest = digests
                .get(&key)
                .and_then(|d| KeyedDigest::from_hex(signer, d));
            (
                key,
                ValueWitness {
                    plain: None,
                    digest,
                },
            )
        });
        Self::new(object, Witnesses::from_sorted(values))
    }
}

/// One object of a side as a comparison keeps it: its canonical JSON (serde_json's maps are
/// sorted, so two objects are equal exactly when their texts are) lives in the side's spool
/// file, and memory holds only its identity (held compactly: about 100 bytes an object with
/// its hash and slot), the text's hash and where it is, so that `diff`'s memory does not grow
/// with the objects' bodies (issue 16). Only objects whose hashes differ are read back and
/// parsed to find the fields.
#[derive(Debug)]
pub struct Kept {
    pub identity: HeldRef,
    hash: [u8; 32],
    slot: Slot,
    pub values: Witnesses,
}

/// Writes one side's items as they are read.
pub struct SideWriter {
    items: Vec<Kept>,
    names: SharedNames,
    spool: Spool,
}

impl SideWriter {
    /// A writer for about `expected_count` objects: the items are reserved once, where
    /// growing by doubling cost up to twice their size at 100k objects (13.6 MB a side).
    pub fn new(expected_count: usize) -> io::Result<Self> {
        Ok(Self {
            items: Vec::with_capacity(expected_count),
            names: SharedNames::default(),
            spool: Spool::new()?,
        })
    }

    /// Keeps `item`. Both sides hold only routing kinds (a verified artifact holds nothing
    /// else; a capture lists nothing else), so another kind is refused, naming it.
    pub fn push(&mut self, item: Item) -> io::Result<()> {
        let Some(kind) = item.object.catalog_kind() else {
            return Err(not_routing(&item.object));
        };
        let identity = HeldRef::of(&item.object, kind, &mut self.names);
        let text = serde_json::to_vec(&item.object.0).map_err(io::Error::other)?;
        let slot = self.spool.put_bytes(&text)?;
        self.items.push(Kept {
            identity,
            hash: Sha256::digest(&text).into(),
            slot,
            values: item.values,
        });
        Ok(())
    }

    /// The side, its items sorted in [`pairing_order`] (what [`Comparer`] and
    /// [`Side::holds`] search).
    pub fn finish(mut self) -> io::Result<Side> {
        self.items
            .sort_unstable_by(|a, b| pairing_order(&a.identity, &b.identity));
        Ok(Side {
            items: self.items,
            texts: self.spool.finish()?,
        })
    }
}

/// One side of a comparison: its kept items, sorted in [`pairing_order`], and the spool
/// holding their texts.
pub struct Side {
    items: Vec<Kept>,
    texts: SpoolReader,
}

impl Side {
    /// A side of items already in memory.
    #[cfg(test)]
    pub fn of(items: Vec<Item>) -> io::Result<Self> {
        let mut writer = SideWriter::new(items.len())?;
        for item in items {
            writer.push(item)?;
        }
        writer.finish()
    }

    /// The items, in [`pairing_order`].
    pub fn items(&self) -> &[Kept] {
        &self.items
    }

    /// Whether this side holds an object of `object`'s identity.
    pub fn holds(&self, object: &Object) -> bool {
        self.position(object).is_some()
    }

    /// Where this side's item of `object`'s identity is: a binary search with the object's
    /// own strings, since `diff --cluster` asks it of every live object.
    fn position(&self, object: &Object) -> Option<usize> {
        let key = (
            object.name(),
            object.namespace(),
            object.kind(),
            object.group(),
        );
        self.items
            .binary_search_by(|item| pairing_key(&item.identity).cmp(&key))
            .ok()
    }

    /// The object (without its Secret data) of one of this side's items.
    pub fn object(&self, item: &Kept) -> io::Result<Object> {
        self.texts.get(item.slot)
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Removes a Secret's `data` and returns it; other objects are left alone.
fn take_secret_data(object: &mut Object) -> BTreeMap<String, String> {
    if !(object.group().is_empty() && object.kind() == "Secret") {
        return BTreeMap::new();
    }
    let Some(Value::Object(data)) = object.0.as_object_mut().and_then(|m| m.remove("data")) else {
        return BTreeMap::new();
    };
    data.into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// What the two sides are: a snapshot and a cluster, or two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Cluster,
    Snapshots,
}

/// How an object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// In the snapshot, not in the cluster.
    Missing,
    /// In the cluster (in scope), not in the snapshot.
    Extra,
    /// In the first snapshot, not in the second.
    Removed,
    /// In the second snapshot, not in the first.
    Added,
    Changed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Missing => "missing",
            State::Extra => "extra",
            State::Removed => "removed",
            State::Added => "added",
            State::Changed => "changed",
        }
    }
}

/// One changed field. A Secret value's change is `hidden`: neither side is shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl std::fmt::Display for FieldChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<Value>| match v {
            None => "(absent)".to_string(),
            Some(v) => serde_json::to_string(v).unwrap_or_default(),
        };
        if self.hidden {
            let what = match (&self.old, &self.new) {
                (None, Some(_)) => "value added",
                (Some(_), None) => "value removed",
                _ => "value changed",
            };
            write!(f, "{}: {what} (hidden)", self.path)
        } else {
            write!(
                f,
                "{}: {} → {}",
                self.path,
                show(&self.old),
                show(&self.new)
            )
        }
    }
}

/// One object that differs.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDrift {
    pub object: String,
    #[serde(rename = "ref")]
    pub identity: ObjectRef,
    pub state: State,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

impl ObjectDrift {
    fn new(identity: ObjectRef, state: State, changes: Vec<FieldChange>) -> Self {
        Self {
            object: identity.to_string(),
            identity,
            state,
            changes,
        }
    }

    fn of(identity: &HeldRef, state: State, changes: Vec<FieldChange>) -> Self {
        Self::new(identity.to_object_ref(), state, changes)
    }
}

/// The comparison: the objects that differ, how many are the same, and how many Secret values
/// could not be compared (neither side's witness fits the other's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    pub differences: Vec<ObjectDrift>,
    pub in_sync: usize,
    pub values_not_compared: usize,
}

impl Comparison {
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for d in &self.differences {
            *counts.entry(d.state.name()).or_insert(0) += 1;
        }
        counts
    }
}

/// Compares items, as they arrive, with an expected side (the snapshot, or the first
/// snapshot): each arriving item (a live object in scope, or an object of the second snapshot)
/// is looked up in the sorted side, compared and dropped, so the second side is never held
/// (issue 16: holding it as a side of its own cost 10 MB of `diff --cluster` and 21 MB of
/// `diff A B` at 100k objects). What the expected side holds that never arrived is reported
/// when the comparison finishes.
pub struct Comparer {
    expected: Side,
    /// Which expected items an arriving item has been paired with, by index.
    paired: Vec<bool>,
    /// The state of an expected item nothing arrived for, and of an arrival with no pair.
    gone: State,
    new: State,
    comparison: Comparison,
}

impl Comparer {
    pub fn new(expected: Side, mode: Mode) -> Self {
        let (gone, new) = match mode {
            Mode::Cluster => (State::Missing, State::Extra),
            Mode::Snapshots => (State::Removed, State::Added),
        };
        Self {
            paired: vec![false; expected.items.len()],
            expected,
            gone,
            new,
            comparison: Comparison::default(),
        }
    }

    /// The side arrivals are compared with.
    pub fn expected(&self) -> &Side {
        &self.expected
    }

    /// Compares one arriving item with its pair. Both sides hold only routing kinds (a
    /// verified artifact holds nothing else; a capture lists nothing else), so another kind is
    /// refused, naming it. Fails too when the pair's spooled text cannot be read back.
    pub fn push(&mut self, item: Item) -> io::Result<()> {
        if item.object.catalog_kind().is_none() {
            return Err(not_routing(&item.object));
        }
        // An identity that arrives twice (no source sends one) pairs once; the repeat is
        // reported on its own, as an object of the arriving side only.
        let pair = self
            .expected
            .position(&item.object)
            .filter(|&index| !self.paired[index]);
        let Some(index) = pair else {
            let drift = ObjectDrift::new(item.object.object_ref(), self.new, Vec::new());
            self.comparison.differences.push(drift);
            return Ok(());
        };
        self.paired[index] = true;
        let kept = &self.expected.items[index];
        let mut changes = Vec::new();
        let text = serde_json::to_vec(&item.object.0).map_err(io::Error::other)?;
        if kept.hash != <[u8; 32]>::from(Sha256::digest(&text)) {
            field_changes(
                &self.expected.object(kept)?.0,
                &item.object.0,
                &mut String::new(),
                &mut changes,
            );
        }
        self.comparison.values_not_compared +=
            value_changes(&kept.values, &item.values, &mut changes);
        if changes.is_empty() {
            self.comparison.in_sync += 1;
        } else {
            let drift = ObjectDrift::of(&kept.identity, State::Changed, changes);
            self.comparison.differences.push(drift);
        }
        Ok(())
    }

    /// The comparison: what never arrived is reported as gone, and the differences are sorted
    /// in restore order.
    pub fn finish(self) -> Comparison {
        let Self {
            expected,
            paired,
            gone,
            mut comparison,
            ..
        } = self;
        let unpaired = expected
            .items
            .iter()
            .zip(paired)
            .filter(|(_, paired)| !paired);
        for (item, _) in unpaired {
            let drift = ObjectDrift::of(&item.identity, gone, Vec::new());
            comparison.differences.push(drift);
        }
        comparison.differences.sort_by(|a, b| {
            tier_of(&a.identity)
                .cmp(&tier_of(&b.identity))
                .then(a.identity.cmp(&b.identity))
        });
        comparison
    }
}

fn not_routing(object: &Object) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is not a routing kind routevault compares",
            object.object_ref()
        ),
    )
}

/// The order a side is sorted in to be searched: any total order of identities will do
/// (the report is sorted afterwards), so the name, which mostly differs at its first bytes,
/// comes first and the long, shared group last (ObjectRef's order spent 4% of a 100k `diff`
/// comparing equal group names).
fn pairing_order(a: &HeldRef, b: &HeldRef) -> std::cmp::Ordering {
    pairing_key(a).cmp(&pairing_key(b))
}

fn pairing_key(identity: &HeldRef) -> (&str, Option<&str>, &str, &str) {
    (
        &identity.name,
        identity.namespace.as_deref(),
        identity.kind.kind,
        identity.kind.group,
    )
}

fn tier_of(identity: &ObjectRef) -> usize {
    crate::select::tier_of(&identity.group, &identity.kind)
}

/// Adds the hidden changes between two Secrets' values; returns how many values could not be
/// compared.
fn value_changes(old: &Witnesses, new: &Witnesses, changes: &mut Vec<FieldChange>) -> usize {
    let hidden = |key: &str, old: bool, new: bool| FieldChange {
        path: format!("data{}", path_key(key)),
        old: old.then(|| Value::String("(hidden)".into())),
        new: new.then(|| Value::String("(hidden)".into())),
        hidden: true,
    };
    let mut not_compared = 0;
    for (key, witness) in old.iter() {
        match new.get(key) {
            None => changes.push(hidden(key, true, false)),
            Some(other) => match witness.same_as(other) {
                Some(true) => {}
                Some(false) => changes.push(hidden(key, true, true)),
                None => not_compared += 1,
            },
        }
    }
    for (key, _) in new.iter().filter(|(k, _)| old.get(k).is_none()) {
        changes.push(hidden(key, false, true));
    }
    not_compared
}

/// `.name` for plain keys, `["a.b/c"]` for keys a reader could not split unambiguously.
fn path_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        format!(".{key}")
    } else {
        format!("[{}]", serde_json::to_string(key).unwrap_or_default())
    }
}

fn join(path: &str, key: &str) -> String {
    let part = path_key(key);
    if path.is_empty() {
        part.trim_start_matches('.').to_string()
    } else {
        format!("{path}{part}")
    }
}

/// Appends the differences between `old` and `new` under `path`: maps key by key, lists
/// item by item (a longer list's tail is added or removed), anything else as a whole.
fn field_changes(old: &Value, new: &Value, path: &mut String, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let here = join(path, key);
                match b.get(key) {
                    Some(other) => field_changes(value, other, &mut here.clone(), out),
                    None => out.push(change(here, Some(value), None)),
                }
            }
            for (key, value) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                out.push(change(join(path, key), None, Some(value)));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for index in 0..a.len().max(b.len()) {
                let mut here = format!("{path}[{index}]");
                match (a.get(index), b.get(index)) {
                    (Some(x), Some(y)) => field_changes(x, y, &mut here, out),
                    (x, y) => out.push(change(here, x, y)),
                }
            }
        }
        _ => out.push(change(path.clone(), Some(old), Some(new))),
    }
}

fn change(path: String, old: Option<&Value>, new: Option<&Value>) -> FieldChange {
    FieldChange {
        path,
        old: old.cloned(),
        new: new.cloned(),
        hidden: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ingress(name: &str, host: &str) -> Object {
        Object(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "shop",
                         "annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "true"}},
            "spec": {"rules": [{"host": host}]}}),
        )
    }

    fn secret(name: &str, key: &str) -> Object {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        Object(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "shop"},
            "data": {"tls.crt": "Q0VSVA==", "tls.key": encoded}}),
        )
    }

    fn plain(objects: Vec<Object>) -> Side {
        side(items(objects))
    }

    fn side(items: Vec<Item>) -> Side {
        Side::of(items).unwrap()
    }

    fn items(objects: Vec<Object>) -> Vec<Item> {
        objects
            .into_iter()
            .map(|o| Item::plaintext(o, None))
            .collect()
    }

    /// `actual`'s items arriving one at a time at a comparer of `expected`.
    fn compare(expected: Side, actual: Vec<Item>, mode: Mode) -> Comparison {
        let mut comparer = Comparer::new(expected, mode);
        for item in actual {
            comparer.push(item).unwrap();
        }
        comparer.finish()
    }

    #[test]
    fn same_objects_are_in_sync() {
        let c = compare(
            plain(vec![ingress("web", "a.example"), secret("tls", "K")]),
            items(vec![secret("tls", "K"), ingress("web", "a.example")]),
            Mode::Cluster,
        );
        assert!(c.differences.is_empty(), "{c:?}");
        assert_eq!(c.in_sync, 2);
    }

    #[test]
    fn missing_extra_and_changed_fields_are_each_reported() {
        let mut edited = ingress("web", "b.example");
        edited.0["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] =
            json!("false");
        let c = compare(
            plain(vec![
                ingress("web", "a.example"),
                ingress("gone", "g.example"),
            ]),
            items(vec![edited, ingress("new", "n.example")]),
            Mode::Cluster,
        );
        let states: Vec<(&str, State)> = c
            .differences
            .iter()
            .map(|d| (d.identity.name.as_str(), d.state))
            .collect();
        assert_eq!(
            states,
            vec![
                ("gone", State::Missing),
                ("new", State::Extra),
                ("web", State::Changed)
            ]
        );
        let changes: Vec<String> = c.differences[2]
            .changes
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            vec![
                r#"metadata.annotations["nginx.ingress.kubernetes.io/ssl-redirect"]: "true" → "false""#,
                r#"spec.rules[0].host: "a.example" → "b.example""#,
            ]
        );
    }

    #[test]
    fn between_snapshots_objects_are_added_or_removed() {
        let c = compare(
            plain(vec![ingress("old", "a")]),
            items(vec![ingress("new", "a")]),
            Mode::Snapshots,
        );
        let states: Vec<State> = c.differences.iter().map(|d| d.state).collect();
        assert_eq!(states, vec![State::Added, State::Removed]);
    }

    #[test]
    fn list_tails_are_added_and_removed_items() {
        let mut two = ingress("web", "a");
        two.0["spec"]["rules"] = json!([{"host": "a"}, {"host": "b"}]);
        let c = compare(
            plain(vec![ingress("web", "a")]),
            items(vec![two]),
            Mode::Cluster,
        );
        let change = &c.differences[0].changes;
        assert_eq!(change.len(), 1);
        assert_eq!(change[0].path, "spec.rules[1]");
        assert_eq!(change[0].old, None);
        assert_eq!(change[0].new, Some(json!({"host": "b"})));
    }

    #[test]
    fn a_changed_secret_value_is_reported_hidden_and_never_shown() {
        let c = compare(
            plain(vec![secret("tls", "OLD-KEY")]),
            items(vec![secret("tls", "NEW-KEY")]),
            Mode::Cluster,
        );
        assert_eq!(c.differences.len(), 1);
        let change = &c.differences[0].changes;
        assert_eq!(change.len(), 1);
        assert!(change[0].hidden);
        assert_eq!(
            change[0].to_string(),
            r#"data["tls.key"]: value changed (hidden)"#
        );
        let json = serde_json::to_string(&c).unwrap();
        use base64::Engine;
        for value in ["OLD-KEY", "NEW-KEY"] {
            assert!(!json.contains(value));
            assert!(!json.contains(&base64::engine::general_purpose::STANDARD.encode(value)));
        }
    }

    #[test]
    fn sealed_values_compare_by_digest_of_one_signer_only() {
        // Digests as a manifest records them: 64 lowercase hex digits.
        let digests = |crt: u8, key: u8| {
            BTreeMap::from([
                ("tls.crt".to_string(), format!("{crt:02x}").repeat(32)),
                ("tls.key".to_string(), format!("{key:02x}").repeat(32)),
            ])
        };
        let (signer_1, signer_2): (Arc<str>, Arc<str>) = ("signer-1".into(), "signer-2".into());
        let a = Item::sealed(secret("tls", "x"), &digests(0xc1, 0xa1), &signer_1);
        let b = Item::sealed(secret("tls", "y"), &digests(0xc1, 0xa2), &signer_1);
        let c = compare(side(vec![a.clone()]), vec![b], Mode::Snapshots);
        let paths: Vec<&str> = c.differences[0]
            .changes
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(paths, vec![r#"data["tls.key"]"#]);
        assert_eq!(c.values_not_compared, 0);

        // Another signer's digests, or none (an older artifact), cannot be compared: counted,
        // not reported as a change.
        let other = Item::sealed(secret("tls", "x"), &digests(0xc9, 0xa9), &signer_2);
        let c = compare(side(vec![a.clone()]), vec![other], Mode::Snapshots);
        assert!(c.differences.is_empty());
        assert_eq!(c.values_not_compared, 2);
        // A digest that is not one (as no verified manifest holds) is not compared either.
        let mut malformed = digests(0xc1, 0xa1);
        malformed.insert("tls.key".into(), "A1".repeat(32));
        let malformed = Item::sealed(secret("tls", "x"), &malformed, &signer_1);
        let c = compare(side(vec![a.clone()]), vec![malformed], Mode::Snapshots);
        assert!(c.differences.is_empty());
        assert_eq!(c.values_not_compared, 1);
        let live = Item::plaintext(secret("tls", "x"), None);
        let c = compare(side(vec![a]), vec![live], Mode::Cluster);
        assert_eq!(c.values_not_compared, 2);
    }

    #[test]
    fn a_live_witness_with_the_signers_digest_compares_with_a_sealed_value() {
        let key = crate::sign::generate_signing_key();
        let digester = crate::value_digest::ValueDigester::from_signing_key(&key);
        let signer: Arc<str> = "id".into();
        let sealed = Item::sealed(
            secret("tls", "K"),
            &BTreeMap::from([
                ("tls.crt".to_string(), digester.digest(b"CERT")),
                ("tls.key".to_string(), digester.digest(b"K")),
            ]),
            &signer,
        );
        let live = Item::plaintext(secret("tls", "OTHER"), Some((&digester, &signer)));
        let c = compare(side(vec![sealed]), vec![live], Mode::Cluster);
        assert_eq!(c.values_not_compared, 0);
        let paths: Vec<&str> = c.differences[0]
            .changes
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(paths, vec![r#"data["tls.key"]"#]);
    }

    #[test]
    fn a_side_keeps_no_secret_value_even_in_its_spool() {
        let side = plain(vec![secret("tls", "PRIVATE-KEY")]);
        let kept = &side.items[0];
        assert_eq!(kept.values.len(), 2);
        let object = side.object(kept).unwrap();
        assert_eq!(object.0.get("data"), None, "{object:?}");
        assert_eq!(object.name(), "tls");
    }

    #[test]
    fn added_and_removed_data_keys_are_changes() {
        let mut more = secret("tls", "K");
        more.0["data"]["ca.crt"] = json!("Q0E=");
        let c = compare(
            plain(vec![secret("tls", "K")]),
            items(vec![more]),
            Mode::Cluster,
        );
        assert_eq!(
            c.differences[0].changes[0].to_string(),
            r#"data["ca.crt"]: value added (hidden)"#
        );
    }

    #[test]
    fn an_identity_arriving_twice_pairs_once() {
        let c = compare(
            plain(vec![ingress("web", "a"), ingress("api", "a")]),
            items(vec![ingress("web", "a"), ingress("web", "b")]),
            Mode::Snapshots,
        );
        assert_eq!(c.in_sync, 1);
        let states: Vec<(&str, State)> = c
            .differences
            .iter()
            .map(|d| (d.identity.name.as_str(), d.state))
            .collect();
        assert_eq!(states, vec![("api", State::Removed), ("web", State::Added)]);
    }

    #[test]
    fn a_comparer_refuses_a_kind_outside_the_catalog_by_name() {
        let mut comparer = Comparer::new(plain(vec![ingress("web", "a")]), Mode::Cluster);
        let deployment = Object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"}}));
        let error = comparer
            .push(Item::plaintext(deployment, None))
            .unwrap_err();
        assert!(
            error.to_string().contains("apps/Deployment shop/web"),
            "{error}"
        );
    }

    #[test]
    fn many_objects_in_any_order_pair_by_identity() {
        // Sides in opposite orders, most objects on both, some on one side only: the walk
        // must pair every common object however the sides arrived.
        let names: Vec<String> = (0..200).map(|i| format!("web-{i:03}")).collect();
        let expected = plain(names[..150].iter().map(|n| ingress(n, "a")).collect());
        let actual = items(names[50..].iter().rev().map(|n| ingress(n, "a")).collect());
        let c = compare(expected, actual, Mode::Snapshots);
        assert_eq!(c.in_sync, 100);
        let counts = c.counts();
        assert_eq!(counts.get("removed"), Some(&50));
        assert_eq!(counts.get("added"), Some(&50));
        assert_eq!(c.differences[0].identity.name, "web-000");
    }

    #[test]
    fn one_name_in_many_kinds_and_namespaces_pairs_with_its_own_identity() {
        let object = |api: &str, kind: &str, ns: Option<&str>| {
            let mut metadata = json!({"name": "web"});
            if let Some(ns) = ns {
                metadata["namespace"] = json!(ns);
            }
            Object(json!({"apiVersion": api, "kind": kind, "metadata": metadata}))
        };
        let all = || {
            vec![
                object("v1", "Service", Some("shop")),
                object("v1", "Service", Some("blog")),
                object("networking.k8s.io/v1", "Ingress", Some("shop")),
                object("gateway.networking.k8s.io/v1", "HTTPRoute", Some("shop")),
                object("networking.k8s.io/v1", "IngressClass", None),
                object("v1", "Namespace", None),
            ]
        };
        let mut reversed = all();
        reversed.reverse();
        let c = compare(plain(all()), items(reversed), Mode::Cluster);
        assert!(c.differences.is_empty(), "{c:?}");
        assert_eq!(c.in_sync, 6);

        let fewer_than_all = || {
            let mut fewer = all();
            fewer.remove(2);
            fewer
        };
        let c = compare(plain(all()), items(fewer_than_all()), Mode::Cluster);
        let missing: Vec<String> = c.differences.iter().map(|d| d.object.clone()).collect();
        assert_eq!(missing, vec!["networking.k8s.io/Ingress shop/web"]);
        assert_eq!(c.differences[0].state, State::Missing);

        // A side answers for exactly the identities it holds, whatever shares a name.
        let side = plain(fewer_than_all());
        for (i, object) in all().iter().enumerate() {
            assert_eq!(side.holds(object), i != 2, "{}", object.object_ref());
        }
        for absent in [
            object("v1", "Service", Some("docs")),
            object("v1", "Secret", Some("shop")),
            object("gateway.networking.k8s.io/v1", "HTTPRoute", None),
            object("apps/v1", "Deployment", Some("shop")),
        ] {
            assert!(!side.holds(&absent), "{}", absent.object_ref());
        }
    }

    #[test]
    fn a_kind_outside_the_catalog_is_refused_by_name() {
        let mut writer = SideWriter::new(1).unwrap();
        let deployment = Object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"}}));
        let error = writer.push(Item::plaintext(deployment, None)).unwrap_err();
        assert!(
            error.to_string().contains("apps/Deployment shop/web"),
            "{error}"
        );
    }

    #[test]
    fn witnesses_are_found_by_key_among_many() {
        let keys = ["a", "ca.crt", "tls.crt", "tls.key", "z"];
        let witnesses = Witnesses::from_sorted(
            keys.iter()
                .map(|k| (k.to_string(), ValueWitness::of_plaintext(k.as_bytes()))),
        );
        assert_eq!(witnesses.len(), 5);
        for key in keys {
            let found = witnesses.get(key).unwrap();
            assert_eq!(found, &ValueWitness::of_plaintext(key.as_bytes()), "{key}");
        }
        for absent in ["", "b", "tls.crt2", "zz"] {
            assert!(witnesses.get(absent).is_none(), "{absent}");
        }
        assert!(Witnesses::default().is_empty());
    }
}
