//! `routevault history`: walks the chain of `previous` links from the newest verified snapshot
//! back, reading each manifest (after verifying its artifact), and reports per snapshot what
//! changed against its predecessor. Exit 3 on a broken or forked chain, or with `--max-age` on
//! a stale one; the report is printed first either way.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde::Serialize;

use crate::artifact::read::Verification;
use crate::artifact::{Limits, VerifiedArtifact};
use crate::cli::{HistoryArgs, SummaryFormat};
use crate::error::VerifyError;
use crate::history::{self, Changes, Link, Step};
use crate::sign::TrustSet;
use crate::store::verified::{self, Surveyed};
use crate::store::{ObjectStore, snapshots};

#[derive(Serialize)]
struct Report {
    env: String,
    snapshots: Vec<Row>,
    /// Verified snapshots the chain does not reach (a fork).
    detached: Vec<String>,
    /// Committed pairs that do not verify (not part of the history).
    unverified: Vec<String>,
    problems: Vec<String>,
    intact: bool,
}

#[derive(Serialize)]
struct Row {
    id: String,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    build_id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    key_id: String,
    objects: usize,
    #[serde(flatten)]
    step: Step,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Changes>,
}

pub async fn run(args: HistoryArgs) -> anyhow::Result<()> {
    let env = args.env.env.clone();
    super::check_env(&env)?;
    let trust = TrustSet::load(&args.trust).context("loading trusted keys (--trust)")?;
    let store = super::open_store(&args.store).await?;
    if let Some(max_age) = &args.max_age {
        crate::duration::parse(max_age).context("--max-age")?;
    }
    let surveyed = verified::survey(&store, &trust, Some(&env))
        .await
        .context("listing snapshots")?;
    if let Some(max_age) = &args.max_age {
        match surveyed.iter().rev().find(|s| s.is_verified()) {
            Some(newest) => verified::ensure_fresh(&newest.snapshot, max_age)?,
            None => {
                let unverified = surveyed.iter().filter(|s| s.snapshot.committed).count();
                return Err(verified::nothing_verified(
                    &store,
                    Some(&trust),
                    &env,
                    unverified,
                ));
            }
        }
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
    let limits = Limits {
        max_artifact_bytes: args.max_artifact_bytes,
        max_unpacked_bytes: args.max_unpacked_bytes,
    };

    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut chain = BTreeSet::new();
    let mut current = match by_id.values().next_back() {
        Some(newest) => Some(load(&store, &trust, newest, limits).await?),
        None => None,
    };
    while let Some(link) = current.take() {
        chain.insert(link.id.clone());
        let step = history::step(&link, &verified_ids);
        let predecessor = match &step {
            Step::Linked { previous } if !chain.contains(previous) => {
                Some(load(&store, &trust, by_id[previous.as_str()], limits).await?)
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
        env: env.clone(),
        snapshots: rows,
        detached,
        unverified,
        intact: problems.is_empty(),
        problems,
    };
    match args.output {
        SummaryFormat::Json => crate::output::print_json(&report)?,
        SummaryFormat::Text => print_text(&report),
    }
    if report.snapshots.is_empty() {
        anyhow::bail!(
            "no verified snapshot of environment {env:?} in {}",
            store.location("")
        );
    }
    if !report.problems.is_empty() {
        return Err(VerifyError::BrokenChain {
            env,
            reason: report.problems.join("; "),
        }
        .into());
    }
    Ok(())
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
    Ok(Link::new(
        &artifact.manifest,
        key_id,
        hex::encode(artifact.sha256),
    ))
}

fn counts(map: &BTreeMap<String, usize>) -> String {
    map.iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_text(report: &Report) {
    for row in &report.snapshots {
        let build = row
            .build_id
            .as_deref()
            .map(|b| format!(" build {b}"))
            .unwrap_or_default();
        println!(
            "{} {}{build} key {} {} objects",
            row.id, row.created, row.key_id, row.objects
        );
        if let Some(c) = &row.changes {
            for (label, map) in [
                ("added", &c.added),
                ("removed", &c.removed),
                ("changed", &c.changed),
            ] {
                if !map.is_empty() {
                    println!("    {label:<8} {}", counts(map));
                }
            }
            if c.sealed_not_compared > 0 {
                println!(
                    "    sealed   {} Secrets (sealed values are not compared)",
                    c.sealed_not_compared
                );
            }
        }
        match &row.step {
            Step::Linked { .. } => {}
            Step::Start => println!("    (start of the chain)"),
            Step::PrunedBefore { previous } => {
                println!("    (older snapshots pruned; its predecessor was {previous})")
            }
            Step::Broken { reason } => println!("    BROKEN: {reason}"),
        }
    }
    for u in &report.unverified {
        println!("unverified (not part of the history): {u}");
    }
    if report.intact {
        println!(
            "chain of {} intact: {} verified snapshots",
            report.env,
            report.snapshots.len()
        );
    } else {
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
    }
}
