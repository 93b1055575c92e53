//! Restoring objects from a verified artifact: the reader decodes and checks each object
//! against its manifest entry and the catalog; here Secrets are unsealed when a key was
//! given, and objects handed to a sink (a folder or a cluster).

pub mod apply;
pub mod plan;
pub mod preflight;
pub mod prune;
pub mod read;
pub mod render;
pub mod reports;
pub mod wait;

use std::collections::BTreeMap;

use anyhow::Context;
use serde::Serialize;

use crate::k8s::Connection;
use crate::open::OpenedSnapshot;
use apply::{ApplyOptions, Existing, ObjectReport, Outcome};
use preflight::PreflightOptions;
use render::DirRenderer;
use reports::{Logged, ObjectLog};

/// The default of `--max-object-memory`: measured, a restore holding objects of this
/// estimated size peaks below the deploy kit's 512 MiB restore Job limit (docs/performance.md).
/// A restore holds only the objects in flight (see `read`), so this bounds those, and one
/// object bigger than it is refused.
pub const DEFAULT_MAX_OBJECT_MEMORY: u64 = 320 << 20;

/// What one decoded object costs in memory, estimated: its strings' bytes plus 128 bytes per
/// node (the measured cost of a map entry of serde_json's tree with its key).
pub fn memory_cost(value: &serde_json::Value) -> u64 {
    use serde_json::Value;
    const NODE: u64 = 128;
    match value {
        Value::String(s) => NODE + s.len() as u64,
        Value::Array(items) => NODE + items.iter().map(memory_cost).sum::<u64>(),
        Value::Object(map) => {
            NODE + map
                .iter()
                .map(|(k, v)| k.len() as u64 + memory_cost(v))
                .sum::<u64>()
        }
        _ => NODE,
    }
}

/// How a restore into a cluster behaves.
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    pub existing: Existing,
    pub dry_run: bool,
    pub concurrency: usize,
    pub skip_missing_kinds: bool,
    /// `--prune` follows: the preflight also checks list and delete.
    pub prune: bool,
    /// `--wait` follows: the preflight also checks list and watch of the waited kinds.
    pub wait: bool,
}

/// What a restore did, object by object.
#[derive(Debug)]
pub struct Restored {
    /// Every object's report, in a temporary file (see `reports`).
    pub log: ObjectLog,
    /// Milliseconds per tier, in restore order (cluster restores only).
    pub tiers: Vec<(String, u128)>,
    pub warnings: Vec<String>,
    /// What `--wait` saw.
    pub wait: Option<wait::WaitReport>,
    /// The kinds the target serves, as the preflight discovered them (cluster restores only):
    /// what `--wait` watches.
    pub served: Vec<crate::k8s::discovery::ServedKind>,
}

impl Restored {
    fn new(log: ObjectLog) -> Self {
        Self {
            log,
            tiers: Vec::new(),
            warnings: Vec::new(),
            wait: None,
            served: Vec::new(),
        }
    }
}

/// Restores the outlined objects of `reading` into a cluster: preflight (nothing is applied
/// when it fails), then server-side apply tier by tier, each tier read from the artifact as it
/// is applied, holding at most `max_object_memory` (estimated) of objects at once.
pub async fn to_cluster(
    connection: &Connection,
    reading: &read::Reading<'_>,
    options: ClusterOptions,
    max_object_memory: u64,
) -> anyhow::Result<Restored> {
    let checked = preflight::preflight(
        &connection.client,
        &connection.server,
        &reading.outline,
        PreflightOptions {
            skip_missing_kinds: options.skip_missing_kinds,
            check_permissions: !options.dry_run,
            prune: options.prune,
            wait: options.wait,
            concurrency: options.concurrency,
        },
    )
    .await?;
    let apply_options = ApplyOptions {
        existing: options.existing,
        dry_run: options.dry_run,
        concurrency: options.concurrency,
        max_object_memory,
    };
    let mut log = ObjectLog::new().context("creating the restore's report file (TMPDIR)")?;
    let tiers = apply::apply_tiers(
        &connection.client,
        &checked.served,
        reading,
        apply_options,
        &mut log,
    )
    .await?;
    Ok(Restored {
        tiers,
        warnings: checked.warnings,
        served: checked.served.into_values().collect(),
        ..Restored::new(log)
    })
}

/// A `--to-dir` target: written through a staging folder, or (dry run) only named.
pub enum Folder {
    Write(DirRenderer),
    DryRun(std::path::PathBuf),
}

impl Folder {
    /// Refuses a non-empty target before anything is downloaded. A dry run writes nothing at
    /// all, not even a staging folder.
    pub fn open(dir: &std::path::Path, dry_run: bool) -> Result<Self, render::RenderError> {
        if dry_run {
            render::check_target(dir)?;
            Ok(Folder::DryRun(dir.to_path_buf()))
        } else {
            Ok(Folder::Write(DirRenderer::new(dir)?))
        }
    }

    /// Writes every object of `reading` as a file (or names it, for a dry run), one at a
    /// time as it is read, and commits the folder. Returns the folder and what was written.
    pub fn restore(
        mut self,
        reading: &read::Reading<'_>,
    ) -> anyhow::Result<(std::path::PathBuf, Restored)> {
        let mut log = ObjectLog::new().context("creating the restore's report file (TMPDIR)")?;
        reading.each(|object| {
            let file = render::relative_path(&object)?;
            if let Folder::Write(renderer) = &mut self {
                renderer.write(&object)?;
            }
            log.push(&ObjectReport {
                object: object.object_ref().to_string(),
                tier: plan::tier_name(&object),
                outcome: Outcome::Created,
                message: Some(file.display().to_string()),
                changes: Vec::new(),
            })
            .context("writing the restore's report to its temporary file (TMPDIR)")?;
            Ok(())
        })?;
        let dir = match self {
            Folder::Write(renderer) => renderer.commit()?,
            Folder::DryRun(dir) => dir,
        };
        Ok((dir, Restored::new(log)))
    }
}

/// A restore's report, as `--output json|yaml` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub env: String,
    pub id: String,
    pub target: String,
    pub dry_run: bool,
    pub counts: BTreeMap<String, usize>,
    pub secrets_withheld: usize,
    pub warnings: Vec<String>,
    /// Time to routing restored, and per tier.
    pub total_ms: u128,
    pub tiers: Vec<TierTiming>,
    /// `--wait`: when the routing went live, object by object and tier by tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<wait::WaitReport>,
    /// Every object's report, read from the restore's log as the report is written out.
    pub objects: Logged,
}

impl Report {
    /// The report of a finished restore of `opened` into `target`. Withheld Secrets are the
    /// first warning: routing without its TLS Secrets is not restored routing.
    pub fn new(
        opened: &OpenedSnapshot,
        target: String,
        dry_run: bool,
        restored: Restored,
        secrets_withheld: usize,
        started: std::time::Instant,
    ) -> std::io::Result<Self> {
        let mut warnings = restored.warnings.clone();
        if secrets_withheld > 0 {
            warnings.insert(
                0,
                format!(
                    "{secrets_withheld} sealed Secrets were NOT restored: pass --unseal-key FILE \
                     (a .seal.key matching the snapshot's recipients)"
                ),
            );
        }
        Ok(Self {
            env: opened.env.clone(),
            id: opened.id.clone(),
            target,
            dry_run,
            counts: restored.log.counts(),
            secrets_withheld,
            warnings,
            total_ms: started.elapsed().as_millis(),
            tiers: restored
                .tiers
                .into_iter()
                .map(|(tier, ms)| TierTiming { tier, ms })
                .collect(),
            wait: restored.wait,
            objects: restored.log.finish()?,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct TierTiming {
    pub tier: String,
    pub ms: u128,
}
