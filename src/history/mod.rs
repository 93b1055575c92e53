//! The chain of snapshots, pure: every manifest names the snapshot that was newest when it was
//! made (`previous`: id and artifact SHA-256). Walking those links from the newest verified
//! snapshot proves the history, and finds what a bucket writer could do to it: a snapshot
//! removed from the middle, a predecessor that is not the one signed, a second branch (fork).
//! `walk` reads the manifests; this module judges them.

pub mod walk;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::artifact::{Entry, OpenedManifest, PreviousSnapshot};

/// One verified snapshot on the chain, as history needs it.
#[derive(Debug, Clone)]
pub struct Link {
    pub id: String,
    pub created: String,
    pub build_id: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub key_id: String,
    pub previous: Option<PreviousSnapshot>,
    /// identity → (kind, entry digest, sealed).
    pub objects: BTreeMap<String, (String, String, bool)>,
}

impl Link {
    pub fn new(manifest: &OpenedManifest, key_id: String) -> Self {
        Self {
            id: manifest.id.clone(),
            created: manifest.created.clone(),
            build_id: manifest.build_id.clone(),
            labels: manifest.labels.clone(),
            key_id,
            previous: manifest.previous.clone(),
            objects: manifest
                .entries
                .iter()
                .map(|entry| identity(&entry))
                .collect(),
        }
    }
}

fn identity(entry: &Entry) -> (String, (String, String, bool)) {
    let kind = crate::catalog::qualified(
        crate::catalog::split_api_version(&entry.api_version).0,
        &entry.kind,
    );
    (entry.describe(), (kind, entry.sha256.clone(), entry.sealed))
}

/// What changed between a snapshot and its predecessor, counted by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    pub added: BTreeMap<String, usize>,
    pub removed: BTreeMap<String, usize>,
    pub changed: BTreeMap<String, usize>,
    /// Sealed Secrets in both: their sealed values are encrypted anew for every snapshot, so
    /// they cannot be compared without the unseal key.
    pub sealed_not_compared: usize,
}

/// Compares a snapshot with its predecessor.
pub fn changes(predecessor: &Link, current: &Link) -> Changes {
    let mut out = Changes::default();
    let bump = |map: &mut BTreeMap<String, usize>, kind: &str| {
        *map.entry(kind.to_string()).or_default() += 1;
    };
    for (name, (kind, digest, sealed)) in &current.objects {
        match predecessor.objects.get(name) {
            None => bump(&mut out.added, kind),
            Some((_, _, true)) if *sealed => out.sealed_not_compared += 1,
            Some((_, old, _)) if old != digest => bump(&mut out.changed, kind),
            Some(_) => {}
        }
    }
    for (name, (kind, _, _)) in &predecessor.objects {
        if !current.objects.contains_key(name) {
            bump(&mut out.removed, kind);
        }
    }
    out
}

/// How a snapshot links to the one before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "link", rename_all = "kebab-case")]
pub enum Step {
    /// Its predecessor is a verified snapshot with the recorded digest.
    Linked { previous: String },
    /// It records no predecessor and no verified snapshot is older: the start of the chain.
    Start,
    /// Its predecessor is gone and nothing verified is older: pruned from the old end.
    PrunedBefore { previous: String },
    /// A break: the reason says what.
    Broken { reason: String },
}

/// Judges one link. `verified` maps every verified snapshot id of the environment to the
/// artifact digest its signature vouches for.
pub fn step(current: &Link, verified: &BTreeMap<String, String>) -> Step {
    let older = verified.keys().filter(|id| **id < current.id).count();
    let Some(previous) = &current.previous else {
        return if older == 0 {
            Step::Start
        } else {
            Step::Broken {
                reason: format!(
                    "{} records no previous snapshot, yet {older} older verified snapshot(s) exist: \
                     they were hidden when it was made, or it was made without trusting their key",
                    current.id
                ),
            }
        };
    };
    if previous.id >= current.id {
        return Step::Broken {
            reason: format!(
                "{} names {} as its previous snapshot, which is not older",
                current.id, previous.id
            ),
        };
    }
    match verified.get(&previous.id) {
        Some(digest) if *digest == previous.artifact_sha256 => Step::Linked {
            previous: previous.id.clone(),
        },
        Some(_) => Step::Broken {
            reason: format!(
                "{} names {} as its previous snapshot with a digest that is not the signed one",
                current.id, previous.id
            ),
        },
        None if !verified.keys().any(|id| *id < previous.id) => Step::PrunedBefore {
            previous: previous.id.clone(),
        },
        None => Step::Broken {
            reason: format!(
                "{}'s previous snapshot {} is missing (or does not verify) while older verified \
                 snapshots exist: removed from the middle of the chain",
                current.id, previous.id
            ),
        },
    }
}

/// Verified snapshots newer than the oldest one on the chain that the chain does not pass
/// through: a second branch (two writers, or a snapshot made while newer ones were hidden).
pub fn detached(verified: &BTreeMap<String, String>, chain: &BTreeSet<String>) -> Vec<String> {
    let Some(oldest) = chain.iter().next() else {
        return Vec::new();
    };
    verified
        .keys()
        .filter(|id| id.as_str() > oldest.as_str() && !chain.contains(*id))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: &str, previous: Option<(&str, &str)>) -> Link {
        Link {
            id: id.into(),
            created: String::new(),
            build_id: None,
            labels: BTreeMap::new(),
            key_id: "k".into(),
            previous: previous.map(|(id, sha)| PreviousSnapshot {
                id: id.into(),
                artifact_sha256: sha.into(),
            }),
            objects: BTreeMap::new(),
        }
    }

    fn verified(ids: &[&str]) -> BTreeMap<String, String> {
        ids.iter()
            .map(|id| (id.to_string(), format!("sha-{id}")))
            .collect()
    }

    #[test]
    fn links_are_judged_by_signed_digests_and_what_is_older() {
        let all = verified(&["1", "2", "3"]);
        assert_eq!(
            step(&link("3", Some(("2", "sha-2"))), &all),
            Step::Linked {
                previous: "2".into()
            }
        );
        assert!(matches!(
            step(&link("3", Some(("2", "sha-other"))), &all),
            Step::Broken { .. }
        ));
        assert_eq!(step(&link("1", None), &all), Step::Start);
        assert!(matches!(step(&link("3", None), &all), Step::Broken { .. }));
        assert!(matches!(
            step(&link("2", Some(("3", "sha-3"))), &all),
            Step::Broken { .. }
        ));
        // "2" removed: 3 → 2 is a gap in the middle while 1 exists ...
        let without_2 = verified(&["1", "3"]);
        assert!(matches!(
            step(&link("3", Some(("2", "sha-2"))), &without_2),
            Step::Broken { .. }
        ));
        // ... but the old end when nothing older is left.
        let pruned = verified(&["3"]);
        assert_eq!(
            step(&link("3", Some(("2", "sha-2"))), &pruned),
            Step::PrunedBefore {
                previous: "2".into()
            }
        );
    }

    #[test]
    fn snapshots_off_the_chain_are_a_fork() {
        let all = verified(&["1", "2", "3", "4"]);
        let chain: BTreeSet<String> = ["2", "4"].iter().map(|s| s.to_string()).collect();
        assert_eq!(detached(&all, &chain), vec!["3".to_string()]);
        let whole: BTreeSet<String> = ["2", "3", "4"].iter().map(|s| s.to_string()).collect();
        assert!(detached(&all, &whole).is_empty());
    }

    #[test]
    fn changes_count_by_kind_and_leave_sealed_values_uncompared() {
        let mut a = link("1", None);
        let mut b = link("2", Some(("1", "sha-1")));
        let obj = |kind: &str, sha: &str, sealed: bool| (kind.to_string(), sha.to_string(), sealed);
        a.objects
            .insert("Ingress a/x".into(), obj("Ingress", "1", false));
        a.objects
            .insert("Ingress a/gone".into(), obj("Ingress", "1", false));
        a.objects
            .insert("Service a/s".into(), obj("Service", "1", false));
        a.objects
            .insert("Secret a/tls".into(), obj("Secret", "1", true));
        b.objects
            .insert("Ingress a/x".into(), obj("Ingress", "2", false));
        b.objects
            .insert("Service a/s".into(), obj("Service", "1", false));
        b.objects
            .insert("Service a/new".into(), obj("Service", "1", false));
        b.objects
            .insert("Secret a/tls".into(), obj("Secret", "9", true));
        let c = changes(&a, &b);
        assert_eq!(c.added, BTreeMap::from([("Service".to_string(), 1)]));
        assert_eq!(c.removed, BTreeMap::from([("Ingress".to_string(), 1)]));
        assert_eq!(c.changed, BTreeMap::from([("Ingress".to_string(), 1)]));
        assert_eq!(c.sealed_not_compared, 1);
    }
}
