//! Walking the chain of an environment's snapshots (`routevault history`): from the newest
//! verified snapshot along the `previous` links, each artifact downloaded and verified, and
//! judged by the pure rules of the parent module.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde::Serialize;

use super::{Changes, Link, Step};
use crate::artifact::read::Verification;
use crate::artifact::{Limits, VerifiedArtifact};
use crate::duration::Age;
use crate::history;
use crate::sign::TrustSet;
use crate::store::verified::{self, Surveyed};
use crate::store::{Store, snapshots};

#[derive(Debug, Serialize)]
pub struct Report {
    pub env: String,
    pub snapshots: Vec<Row>,
    /// Verified snapshots the chain does not reach (a fork).
    pub detached: Vec<String>,
    /// Committed pairs that do not verify (not part of the history).
    pub unverified: Vec<String>,
    pub problems: Vec<String>,
    pub intact: bool,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub id: String,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub key_id: String,
    pub objects: usize,
    #[serde(flatten)]
    pub step: Step,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

/// Walks the chain of `env`. With `max_age`, fails (exit 3) first when the newest verified
/// snapshot is older. Problems of the chain are in the report, not errors.
pub async fn walk(
    store: &Store,
    trust: &TrustSet,
    env: &str,
    max_age: Option<&Age>,
    limits: Limits,
) -> anyhow::Result<Report> {
    let surveyed = verified::survey(store, trust, Some(env))
        .await
        .context("listing snapshots")?;
    if let Some(max_age) = max_age {
        ensure_fresh(store, trust, env, &surveyed, max_age)?;
    }
    let verified_ids: BTreeMap<String, String> = surveyed
        .iter()
        .filter_map(|s| {
            let v = s.vouched()?;
            Some((s.snapshot.id.clone(), v.signature.artifact_sha256.clone()))
        })
        .collect();
    let unverified: Vec<String> = surveyed
        .iter()
        .filter(|s| s.snapshot.committed && !s.is_verified())
        .map(|s| {
            format!(
                "{}: {}",
                s.snapshot.name(),
                s.unverified_reason().unwrap_or_default()
            )
        })
        .collect();
    let by_id: BTreeMap<&str, &Surveyed> = surveyed
        .iter()
        .filter(|s| s.is_verified())
        .map(|s| (s.snapshot.id.as_str(), s))
        .collect();

    let (rows, chain, mut problems) =
        follow_chain(store, trust, &by_id, &verified_ids, limits).await?;
    let detached = history::detached(&verified_ids, &chain);
    if !detached.is_empty() {
        problems.push(format!(
            "{} verified snapshot(s) are not on the chain from the newest ({}): a second branch \
             (two snapshot jobs writing one environment?) or snapshots made while newer ones were hidden",
            detached.len(),
            detached.join(", ")
        ));
    }
    let report = Report {
        env: env.to_string(),
        snapshots: rows,
        detached,
        unverified,
        intact: problems.is_empty(),
        problems,
    };
    Ok(report)
}

/// `--max-age`: the newest verified snapshot must be younger (exit 3 otherwise, or when none
/// verifies).
fn ensure_fresh(
    store: &Store,
    trust: &TrustSet,
    env: &str,
    surveyed: &[Surveyed],
    max_age: &Age,
) -> anyhow::Result<()> {
    match surveyed.iter().rev().find(|s| s.is_verified()) {
        Some(newest) => verified::ensure_fresh(&newest.snapshot, max_age),
        None => {
            let unverified = surveyed.iter().filter(|s| s.snapshot.committed).count();
            Err(verified::nothing_verified(
                store,
                Some(trust),
                env,
                unverified,
            ))
        }
    }
}

/// Follows `previous` from the newest verified snapshot until the start of the chain, a
/// pruned predecessor or a break. Returns the rows, the ids on the chain and the problems.
async fn follow_chain(
    store: &Store,
    trust: &TrustSet,
    by_id: &BTreeMap<&str, &Surveyed>,
    verified_ids: &BTreeMap<String, String>,
    limits: Limits,
) -> anyhow::Result<(Vec<Row>, BTreeSet<String>, Vec<String>)> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut chain = BTreeSet::new();
    let mut current = match by_id.values().next_back() {
        Some(newest) => Some(load(store, trust, newest, limits).await?),
        None => None,
    };
    while let Some(link) = current.take() {
        chain.insert(link.id.clone());
        let step = history::step(&link, verified_ids);
        let predecessor = match &step {
            Step::Linked { previous } if !chain.contains(previous) => {
                Some(load(store, trust, by_id[previous.as_str()], limits).await?)
            }
            Step::Broken { reason } => {
                problems.push(reason.clone());
                None
            }
            _ => None,
        };
        rows.push(Row {
            id: link.id.clone(),
            created: link.created.clone(),
            build_id: link.build_id.clone(),
            labels: link.labels.clone(),
            key_id: link.key_id.clone(),
            objects: link.objects.len(),
            changes: predecessor.as_ref().map(|p| history::changes(p, &link)),
            step,
        });
        current = predecessor;
    }
    Ok((rows, chain, problems))
}

/// Downloads and verifies one snapshot, and keeps what history needs of its manifest.
async fn load(
    store: &crate::store::Store,
    trust: &TrustSet,
    surveyed: &Surveyed,
    limits: Limits,
) -> anyhow::Result<Link> {
    let snapshot = &surveyed.snapshot;
    let what = snapshot.name();
    let fetched = snapshots::fetch(
        store,
        snapshot,
        &std::env::temp_dir(),
        limits.max_artifact_bytes,
    )
    .await
    .with_context(|| format!("reading {what}"))?;
    let artifact = VerifiedArtifact::open(
        fetched.artifact,
        Verification::Signed {
            signature: &fetched.signature,
            trust,
            stored_at: Some(fetched.signature_stored_at),
        },
        &snapshot.env,
        &snapshot.id,
        limits,
        &what,
    )?;
    let key_id = artifact
        .signer
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    Ok(Link::new(&artifact.manifest, key_id))
}
