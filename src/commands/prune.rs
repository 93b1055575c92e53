//! `routevault prune`: the policy from the options, the prune (`routevault::prune::run`), the
//! report.

use anyhow::Context;
use jiff::Timestamp;

use crate::cli::PruneArgs;
use routevault::prune::Policy;
use routevault::prune::run::{self, Report};
use routevault::sign::TrustSet;

pub async fn run(args: PruneArgs) -> anyhow::Result<()> {
    if let Some(env) = &args.env {
        super::check_env(env)?;
    }
    let older_than = args.older_than.as_ref().map(|age| age.duration);
    let trust = TrustSet::load(&args.trust).context("loading trusted keys (--trust)")?;
    let store = super::open_store(&args.store).await?;
    let policy = Policy {
        keep_last: usize::try_from(args.keep_last).unwrap_or(usize::MAX),
        older_than,
        delete_unverified: args.delete_unverified,
        now: Timestamp::now(),
    };
    let report = run::prune(&store, &trust, args.env.as_deref(), &policy, args.dry_run).await?;
    super::emit(args.output, &report, |r| print_text(r, args.dry_run))?;
    Ok(())
}

fn print_text(report: &Report, dry_run: bool) {
    let verb = if dry_run { "would delete" } else { "deleted" };
    for name in &report.deleted {
        outln!("{verb} {name}");
    }
    for name in &report.orphans_removed {
        outln!("{verb} orphaned upload {name}");
    }
    for name in &report.unverified_removed {
        outln!("{verb} unverified pair {name}");
    }
    for r in &report.retained {
        outln!(
            "kept {} (locked {:?} until {})",
            r.snapshot,
            r.retention.mode,
            r.retention.until
        );
    }
    for name in &report.kept_for_chain {
        outln!(
            "kept {name} (newer than a snapshot that stays; prune deletes from the old end only)"
        );
    }
    for u in &report.unverified {
        outln!(
            "left unverified pair {} ({}); --delete-unverified removes such pairs",
            u.snapshot,
            u.problem
        );
    }
    outln!(
        "{} {} snapshots, {} orphans and {} unverified pairs; kept {}; {} under retention",
        verb,
        report.deleted.len(),
        report.orphans_removed.len(),
        report.unverified_removed.len(),
        report.kept,
        report.retained.len()
    );
}
