//! Carrying out a prune: gathers what the store and the trusted keys say about each snapshot,
//! asks the pure policy (the parent module) what to delete, and deletes it. A snapshot is
//! uncommitted first (every version of its signature deleted), then its artifact, so an
//! interrupted prune never leaves a signature pointing at nothing.

use std::collections::BTreeMap;

use anyhow::Context;
use jiff::Timestamp;
use serde::Serialize;

use super::{Candidate, Decision, Policy};
use crate::sign::TrustSet;
use crate::store::snapshots::{self, StoredSnapshot};
use crate::store::verified::{self, Surveyed};
use crate::store::{ObjectInfo, ObjectStore, Retention, Store};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub deleted: Vec<String>,
    pub retained: Vec<RetainedSnapshot>,
    /// Past --keep-last but newer than a snapshot that had to stay: kept so the chain has no gap.
    pub kept_for_chain: Vec<String>,
    pub orphans_removed: Vec<String>,
    pub unverified_removed: Vec<String>,
    /// Committed pairs whose signature does not verify, left in place (with why).
    pub unverified: Vec<UnverifiedSnapshot>,
    pub kept: usize,
}

#[derive(Debug, Serialize)]
pub struct RetainedSnapshot {
    pub snapshot: String,
    pub retention: Retention,
}

#[derive(Debug, Serialize)]
pub struct UnverifiedSnapshot {
    pub snapshot: String,
    pub problem: String,
}

/// Prunes the snapshots of `env` (all environments when None) by `policy`; with `dry_run`,
/// only reports what it would delete.
pub async fn prune(
    store: &Store,
    trust: &TrustSet,
    env: Option<&str>,
    policy: &Policy,
    dry_run: bool,
) -> anyhow::Result<Report> {
    let mut by_env: BTreeMap<String, Vec<Surveyed>> = BTreeMap::new();
    for surveyed in verified::survey(store, trust, env)
        .await
        .context("listing snapshots")?
    {
        by_env
            .entry(surveyed.snapshot.env.clone())
            .or_default()
            .push(surveyed);
    }

    let mut report = Report {
        dry_run,
        ..Default::default()
    };
    for found in by_env.values() {
        let mut candidates: Vec<Candidate> = found
            .iter()
            .map(|s| Candidate {
                name: s.snapshot.name(),
                created: s.snapshot.created.parse().ok(),
                committed: s.snapshot.committed,
                verified: s.is_verified(),
                locked: None,
            })
            .collect();
        for (i, needed) in super::needs_retention(&candidates, policy)
            .into_iter()
            .enumerate()
        {
            if needed {
                candidates[i].locked = retained(store, &found[i].snapshot, policy.now).await?;
            }
        }
        let decisions = super::plan(&candidates, policy);
        for ((surveyed, candidate), decision) in found.iter().zip(&candidates).zip(decisions) {
            let delete = report.record(surveyed, candidate.name.clone(), decision);
            if delete && !dry_run {
                remove(store, &surveyed.snapshot).await?;
            }
        }
    }

    Ok(report)
}

impl Report {
    /// Records a decision about one snapshot; true when it is to be deleted.
    fn record(&mut self, surveyed: &Surveyed, name: String, decision: Decision) -> bool {
        match decision {
            Decision::Keep => {
                self.kept += 1;
                false
            }
            Decision::KeepForChain => {
                self.kept += 1;
                self.kept_for_chain.push(name);
                false
            }
            Decision::Locked { retention } => {
                self.retained.push(RetainedSnapshot {
                    snapshot: name,
                    retention,
                });
                false
            }
            Decision::LeaveUnverified => {
                self.unverified.push(UnverifiedSnapshot {
                    snapshot: name,
                    problem: surveyed.unverified_reason().unwrap_or_default().into(),
                });
                false
            }
            Decision::LeaveOrphan => false,
            Decision::Delete => {
                self.deleted.push(name);
                true
            }
            Decision::DeleteUnverified => {
                self.unverified_removed.push(name);
                true
            }
            Decision::DeleteOrphan => {
                self.orphans_removed.push(name);
                true
            }
        }
    }
}

/// The versions prune would delete of one key: every version (writes over the committed one
/// and delete markers included) on a versioned bucket, the object itself elsewhere.
fn versions(info: &ObjectInfo) -> Vec<Option<&str>> {
    if info.all_versions.is_empty() {
        vec![None]
    } else {
        info.all_versions.iter().map(|v| Some(v.as_str())).collect()
    }
}

/// The retention still in force on any version of a snapshot's keys that prune would delete.
async fn retained(
    store: &Store,
    snapshot: &StoredSnapshot,
    now: Timestamp,
) -> anyhow::Result<Option<Retention>> {
    for (key, info) in keys(snapshot) {
        for version in versions(info) {
            if let Some(retention) = store
                .retention(&key, version)
                .await
                .with_context(|| format!("reading the retention of {}", store.location(&key)))?
                && retention.until > now
            {
                return Ok(Some(retention));
            }
        }
    }
    Ok(None)
}

/// The snapshot's keys that exist, signature first (the commit point goes first).
fn keys(snapshot: &StoredSnapshot) -> Vec<(String, &ObjectInfo)> {
    let mut out = Vec::new();
    if let Some(info) = &snapshot.signature {
        out.push((snapshots::signature_key(&snapshot.env, &snapshot.id), info));
    }
    if let Some(info) = &snapshot.artifact {
        out.push((snapshots::artifact_key(&snapshot.env, &snapshot.id), info));
    }
    out
}

async fn remove(store: &Store, snapshot: &StoredSnapshot) -> anyhow::Result<()> {
    for (key, info) in keys(snapshot) {
        for version in versions(info) {
            store
                .delete(&key, version)
                .await
                .with_context(|| format!("deleting {}", snapshot.name()))?;
        }
    }
    Ok(())
}
