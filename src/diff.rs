//! `diff`'s two sides, read from where they live: a verified snapshot (as a restore would
//! write it: converted, narrowed and rewritten by the same transform, Secret values known by
//! their keyed digests unless an unseal key opens them), and the live routing of a cluster in
//! the snapshot's scope, captured and normalised exactly as a snapshot would be. The
//! comparison itself is `drift`; which live objects count is `scope`.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;

use crate::artifact::VerifiedArtifact;
use crate::drift::{self, Comparer, Comparison, Item, Mode, Side, SideWriter};
use crate::k8s::Connection;
use crate::object::Object;
use crate::open::OpenedSnapshot;
use crate::scope::Scope;
use crate::seal::Unsealer;
use crate::select::SecretsMode;
use crate::transform::Transform;
use crate::value_digest::ValueDigester;

/// The page size of the live capture (the snapshot command's default).
const PAGE_SIZE: u32 = 500;

/// A snapshot's objects as a restore through `transform` would write them, as one side of
/// a comparison, with the rewrites' notes (see [`snapshot_items`]).
pub fn snapshot_side(
    artifact: &VerifiedArtifact,
    unsealer: Option<&Unsealer>,
    transform: &Transform,
    max_object_memory: u64,
) -> anyhow::Result<(Side, Vec<String>)> {
    let mut side = SideWriter::new(artifact.manifest.entries.len())
        .context("creating a temporary file for the comparison")?;
    let notes = snapshot_items(
        artifact,
        unsealer,
        transform,
        max_object_memory,
        &mut |item| {
            side.push(item)
                .context("writing the comparison's temporary file")
        },
    )?;
    let side = side
        .finish()
        .context("writing the comparison's temporary file")?;
    Ok((side, notes))
}

/// Hands `sink` a snapshot's objects as a restore through `transform` would write them, one
/// item at a time; returns the rewrites' notes. Sealed Secrets are unsealed when `unsealer`
/// is given; otherwise their values are known by the manifest's digests under the snapshot's
/// signer. Objects are read one at a time (twice with `--namespace`, as a restore does), and
/// one object estimated over `max_object_memory` is refused.
pub fn snapshot_items(
    artifact: &VerifiedArtifact,
    unsealer: Option<&Unsealer>,
    transform: &Transform,
    max_object_memory: u64,
    sink: &mut dyn FnMut(Item) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<String>> {
    // Unverified (--insecure-skip-verify): nobody vouches for which key made the digests, so
    // they are not used at all.
    let signer: Arc<str> = artifact
        .signer
        .as_ref()
        .map(|k| k.0.as_str())
        .unwrap_or("")
        .into();
    let no_digests = BTreeMap::new();
    let keep = crate::restore::read::narrowing(artifact, transform)?;
    let mut notes = Vec::new();
    artifact.for_each_object_where(None, |index, entry, mut object| {
        if keep.as_ref().is_some_and(|keep| !keep[index]) {
            return Ok(());
        }
        if crate::restore::memory_cost(&object.0) > max_object_memory {
            return Err(crate::error::VerifyError::TooMuchMemory {
                what: artifact.what().into(),
                object: format!("{} ({})", entry.describe(), entry.path),
                limit: max_object_memory,
            }
            .into());
        }
        if !transform.selects(&object) {
            return Ok(());
        }
        let mut still_sealed = false;
        if entry.sealed {
            match unsealer {
                Some(unsealer) => unsealer
                    .unseal_secret(&mut object)
                    .with_context(|| format!("unsealing {}", entry.describe()))?,
                None => still_sealed = true,
            }
        }
        if let Ok(crate::convert::Converted::Converted(note)) = crate::convert::convert(&mut object)
        {
            notes.push(note);
        }
        notes.extend(transform.apply(&mut object));
        let item = match (still_sealed, artifact.signer.is_some()) {
            (true, true) => Item::sealed(object, &entry.value_digests, &signer),
            (true, false) => Item::sealed(object, &no_digests, &signer),
            (false, _) => Item::plaintext(object, None),
        };
        sink(item)
    })?;
    Ok(notes)
}

/// Hands `sink` the live routing of the cluster in `snapshot`'s selection, captured and
/// normalised as a snapshot of it would be, one object at a time; returns the capture's
/// warnings. The caller decides which objects count: those `scope` covers, and (for `diff`)
/// any object the snapshot names, so that a cluster-scoped object of the snapshot is compared
/// even where the scope has no such extras. Secrets are read (to compute witnesses, never
/// kept or written) unless the snapshot skipped them.
pub async fn live_objects(
    connection: &Connection,
    scope: &Scope,
    snapshot: &crate::artifact::OpenedManifest,
    sink: &mut dyn FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<String>> {
    let selection = scope.live_selection(&snapshot.selection);
    let secrets = match snapshot.secrets {
        SecretsMode::Skip => SecretsMode::Skip,
        _ => SecretsMode::Plaintext,
    };
    let capture = crate::source::cluster::capture(connection, &selection, secrets, PAGE_SIZE, sink)
        .await
        .with_context(|| {
            format!(
                "reading the routing of the cluster at {}",
                connection.server
            )
        })?;
    Ok(capture.warnings)
}

/// Compares the live routing of the cluster in `scope` with `comparer`'s snapshot side, one
/// live object at a time (see [`live_objects`]): what `scope` covers, and any object the
/// snapshot names. With `digester` (from the signing key of the snapshot's signer) live
/// Secret values also get that key's digests, so they compare with sealed values without
/// unsealing.
pub async fn compare_live(
    connection: &Connection,
    scope: &Scope,
    snapshot: &crate::artifact::OpenedManifest,
    comparer: &mut Comparer,
    digester: Option<(&ValueDigester, &Arc<str>)>,
) -> anyhow::Result<Vec<String>> {
    live_objects(connection, scope, snapshot, &mut |object: Object| {
        if scope.covers(&object) || comparer.expected().holds(&object) {
            comparer
                .push(Item::plaintext(object, digester))
                .context("comparing with the snapshot")?;
        }
        Ok(())
    })
    .await
}

/// Who made a snapshot, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub env: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

impl SnapshotInfo {
    pub fn of(opened: &OpenedSnapshot) -> Self {
        let manifest = &opened.artifact.manifest;
        Self {
            env: opened.env.clone(),
            id: opened.id.clone(),
            build_id: manifest.build_id.clone(),
            labels: manifest.labels.clone(),
            created: manifest.created.clone(),
            signer: opened.artifact.signer.as_ref().map(|k| k.0.clone()),
        }
    }
}

/// A diff's report, as `-o json|yaml` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub mode: Mode,
    pub snapshot: SnapshotInfo,
    /// The second snapshot (between builds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<SnapshotInfo>,
    /// The cluster's API server (drift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// No object differs (Secret values that could not be compared do not count).
    pub in_sync: bool,
    pub counts: BTreeMap<&'static str, usize>,
    pub unchanged: usize,
    pub values_not_compared: usize,
    pub warnings: Vec<String>,
    pub differences: Vec<drift::ObjectDrift>,
    pub duration_ms: u128,
}

impl Report {
    pub fn new(
        mode: Mode,
        snapshot: SnapshotInfo,
        comparison: Comparison,
        mut warnings: Vec<String>,
        started: std::time::Instant,
    ) -> Self {
        if comparison.values_not_compared > 0 {
            warnings.push(format!(
                "{} Secret values were not compared: they are sealed and {}; pass --unseal-key \
                 (or, against a cluster, --sign-key with the key that signed the snapshot)",
                comparison.values_not_compared,
                match mode {
                    Mode::Cluster => "the snapshot's digests need the signer's key to check",
                    Mode::Snapshots =>
                        "the snapshots were signed by different keys, or one predates value digests",
                }
            ));
        }
        Self {
            mode,
            snapshot,
            against: None,
            cluster: None,
            scope: None,
            in_sync: comparison.differences.is_empty(),
            counts: comparison.counts(),
            unchanged: comparison.in_sync,
            values_not_compared: comparison.values_not_compared,
            warnings,
            differences: comparison.differences,
            duration_ms: started.elapsed().as_millis(),
        }
    }
}
