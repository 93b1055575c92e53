//! `routevault history`: the walk of the chain (`routevault::history::walk`), printed. Exit 3
//! on a broken or forked chain, or with `--max-age` on a stale one; the report is printed
//! first either way.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::cli::HistoryArgs;
use routevault::artifact::Limits;
use routevault::error::VerifyError;
use routevault::history::Step;
use routevault::history::walk::{self, Report};
use routevault::sign::TrustSet;
use routevault::store::ObjectStore;

pub async fn run(args: HistoryArgs) -> anyhow::Result<()> {
    let env = args.env.env.clone();
    super::check_env(&env)?;
    let trust = TrustSet::load(&args.trust).context("loading trusted keys (--trust)")?;
    let store = super::open_store(&args.store).await?;
    let limits = Limits {
        max_artifact_bytes: args.max_artifact_bytes,
        max_unpacked_bytes: args.max_unpacked_bytes,
    };
    let report = walk::walk(&store, &trust, &env, args.max_age.as_ref(), limits).await?;
    super::emit(args.output, &report, print_text)?;
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
        outln!(
            "{} {}{build} key {} {} objects",
            row.id,
            row.created,
            row.key_id,
            row.objects
        );
        if let Some(c) = &row.changes {
            for (label, map) in [
                ("added", &c.added),
                ("removed", &c.removed),
                ("changed", &c.changed),
            ] {
                if !map.is_empty() {
                    outln!("    {label:<8} {}", counts(map));
                }
            }
            if c.sealed_not_compared > 0 {
                outln!(
                    "    sealed   {} Secrets (sealed values are not compared)",
                    c.sealed_not_compared
                );
            }
        }
        match &row.step {
            Step::Linked { .. } => {}
            Step::Start => outln!("    (start of the chain)"),
            Step::PrunedBefore { previous } => {
                outln!("    (older snapshots pruned; its predecessor was {previous})")
            }
            Step::Broken { reason } => outln!("    BROKEN: {reason}"),
        }
    }
    for u in &report.unverified {
        outln!("unverified (not part of the history): {u}");
    }
    if report.intact {
        outln!(
            "chain of {} intact: {} verified snapshots",
            report.env,
            report.snapshots.len()
        );
    } else {
        for p in &report.problems {
            outln!("PROBLEM: {p}");
        }
    }
}
