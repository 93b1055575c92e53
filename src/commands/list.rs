//! `routevault list`: committed snapshots, oldest first, each checked against the trusted keys
//! and shown as verified or not (with why, escaped). Uncommitted artifacts (no signature) are
//! not snapshots and are not listed; `prune` removes them. With `--keys`, each row also names
//! the key that signed it, for key rotation and incident response.

use anyhow::Context;
use serde::Serialize;

use crate::cli::ListArgs;
use routevault::sign::TrustSet;
use routevault::store::snapshots::StoredSnapshot;
use routevault::store::verified::{self, Surveyed};

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    snapshot: StoredSnapshot,
    verified: bool,
    /// The key that signed it (verified snapshots only).
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    /// Why it does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    /// Writes over its committed objects, or delete markers, seen in the store.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tampering: Vec<String>,
}

impl Row {
    fn from(surveyed: Surveyed) -> Self {
        Self {
            verified: surveyed.is_verified(),
            key_id: surveyed.vouched().map(|v| v.key_id.to_string()),
            problem: surveyed.unverified_reason().map(str::to_string),
            tampering: surveyed.snapshot.tampering(),
            snapshot: surveyed.snapshot,
        }
    }
}

pub async fn run(args: ListArgs) -> anyhow::Result<()> {
    if let Some(env) = &args.env {
        super::check_env(env)?;
    }
    let trust = TrustSet::load(&args.trust).context("loading trusted keys (--trust)")?;
    let store = super::open_store(&args.store).await?;
    let rows: Vec<Row> = verified::survey(&store, &trust, args.env.as_deref())
        .await?
        .into_iter()
        .filter(|s| s.snapshot.committed)
        .map(Row::from)
        .collect();
    super::emit(args.output, &rows, |rows| print_table(rows, args.keys))?;
    Ok(())
}

fn print_table(rows: &[Row], keys: bool) {
    let mut headers = vec!["ENV", "ID", "CREATED", "BYTES", "VERIFIED"];
    if keys {
        headers.push("KEY");
    }
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let s = &row.snapshot;
            let mut line = vec![
                s.env.clone(),
                s.id.clone(),
                s.created.clone(),
                s.artifact_bytes.to_string(),
                if row.verified { "yes" } else { "NO" }.to_string(),
            ];
            if keys {
                line.push(row.key_id.clone().unwrap_or_else(|| "-".into()));
            }
            line
        })
        .collect();
    out!("{}", routevault::output::table(&headers, &lines));
    for row in rows {
        if let Some(problem) = &row.problem {
            outln!("unverified {}: {problem}", row.snapshot.name());
        }
        for note in &row.tampering {
            outln!("tampering {}: {note}", row.snapshot.name());
        }
    }
}
