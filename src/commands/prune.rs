//! `routevault prune`: delete snapshots beyond `--keep-last` (and older than `--older-than`),
//! never one under retention (those are listed with their date), and remove the leftovers of
//! failed snapshots. A snapshot is uncommitted first (its signature deleted), then its artifact,
//! so an interrupted prune never leaves a signature pointing at nothing.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::cli::{PruneArgs, SummaryFormat};
use crate::store::snapshots::{self, StoredSnapshot};
use crate::store::{ObjectStore, Retention, Store};

/// An artifact without a signature younger than this may be a snapshot still uploading.
const ORPHAN_GRACE: SignedDuration = SignedDuration::from_hours(1);

#[derive(Debug, Default, Serialize)]
struct Report {
    dry_run: bool,
    deleted: Vec<String>,
    retained: Vec<RetainedSnapshot>,
    orphans_removed: Vec<String>,
    kept: usize,
}

#[derive(Debug, Serialize)]
struct RetainedSnapshot {
    snapshot: String,
    retention: Retention,
}

pub async fn run(args: PruneArgs) -> anyhow::Result<()> {
    if let Some(env) = &args.env {
        super::check_env(env)?;
    }
    let older_than = args.older_than.as_deref().map(parse_duration).transpose()?;
    let store = super::open_store(&args.store).await?;
    let now = Timestamp::now();
    let all = snapshots::scan(&store, args.env.as_deref())
        .await
        .context("listing snapshots")?;
    let mut by_env: BTreeMap<String, Vec<StoredSnapshot>> = BTreeMap::new();
    for snapshot in all {
        by_env
            .entry(snapshot.env.clone())
            .or_default()
            .push(snapshot);
    }

    let mut report = Report {
        dry_run: args.dry_run,
        ..Default::default()
    };
    for (env, found) in by_env {
        let committed: Vec<&StoredSnapshot> = found.iter().filter(|s| s.committed).collect();
        let cut = committed.len().saturating_sub(args.keep_last);
        report.kept += committed.len() - cut;
        for snapshot in &committed[..cut] {
            let age_ok = match older_than {
                Some(limit) => created(snapshot).is_some_and(|t| now.duration_since(t) > limit),
                None => true,
            };
            if !age_ok {
                report.kept += 1;
                continue;
            }
            let name = format!("{env}/{}", snapshot.id);
            if let Some(retention) = retained(&store, &env, &snapshot.id, now).await? {
                report.retained.push(RetainedSnapshot {
                    snapshot: name,
                    retention,
                });
                continue;
            }
            if !args.dry_run {
                store
                    .delete(&snapshots::signature_key(&env, &snapshot.id))
                    .await
                    .with_context(|| format!("deleting {name}"))?;
                store
                    .delete(&snapshots::artifact_key(&env, &snapshot.id))
                    .await
                    .with_context(|| format!("deleting {name}"))?;
            }
            report.deleted.push(name);
        }
        for orphan in found.iter().filter(|s| !s.committed) {
            let young = created(orphan).is_none_or(|t| now.duration_since(t) < ORPHAN_GRACE);
            if orphan.has_artifact && young {
                continue; // may be a snapshot whose signature is still on its way
            }
            let name = format!("{env}/{}", orphan.id);
            if retained(&store, &env, &orphan.id, now).await?.is_some() {
                continue;
            }
            if !args.dry_run {
                if orphan.has_artifact {
                    store
                        .delete(&snapshots::artifact_key(&env, &orphan.id))
                        .await?;
                }
                if orphan.has_signature {
                    store
                        .delete(&snapshots::signature_key(&env, &orphan.id))
                        .await?;
                }
            }
            report.orphans_removed.push(name);
        }
    }

    match args.output {
        SummaryFormat::Json => crate::output::print_json(&report)?,
        SummaryFormat::Text => {
            let verb = if args.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            for name in &report.deleted {
                println!("{verb} {name}");
            }
            for name in &report.orphans_removed {
                println!("{verb} orphaned upload {name}");
            }
            for r in &report.retained {
                println!(
                    "kept {} (locked {:?} until {})",
                    r.snapshot, r.retention.mode, r.retention.until
                );
            }
            println!(
                "{} {} snapshots and {} orphans; kept {}; {} under retention",
                verb,
                report.deleted.len(),
                report.orphans_removed.len(),
                report.kept,
                report.retained.len()
            );
        }
    }
    Ok(())
}

fn created(snapshot: &StoredSnapshot) -> Option<Timestamp> {
    snapshot.created.parse().ok()
}

/// The retention still in force on either object of a snapshot.
async fn retained(
    store: &Store,
    env: &str,
    id: &str,
    now: Timestamp,
) -> anyhow::Result<Option<Retention>> {
    for key in [
        snapshots::artifact_key(env, id),
        snapshots::signature_key(env, id),
    ] {
        if let Some(retention) = store
            .retention(&key)
            .await
            .with_context(|| format!("reading the retention of {key}"))?
            && retention.until > now
        {
            return Ok(Some(retention));
        }
    }
    Ok(None)
}

/// `30d`, `12h`, `90m`, `2w`, `45s`.
pub fn parse_duration(text: &str) -> anyhow::Result<SignedDuration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<i64>() else {
        bail!("--older-than {text:?}: expected a number and a unit, like 30d, 12h, 2w");
    };
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => bail!("--older-than {text:?}: the unit must be s, m, h, d or w"),
    };
    Ok(SignedDuration::from_secs(number.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(
            parse_duration("30d").unwrap(),
            SignedDuration::from_hours(720)
        );
        assert_eq!(
            parse_duration("90m").unwrap(),
            SignedDuration::from_mins(90)
        );
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
    }
}
