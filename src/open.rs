//! Opening a stored snapshot for reading, always in this order: resolve (`latest` is the
//! newest *verified* snapshot), check freshness (`--max-age`), download, verify the signature
//! and the artifact's structure. Nothing in an artifact is read before it verifies.

use std::path::Path;

use crate::artifact::read::Verification;
use crate::artifact::{Limits, VerifiedArtifact};
use crate::duration::Age;
use crate::sign::TrustSet;
use crate::store::{ObjectStore, Store, snapshots, verified};

/// How to open a snapshot.
pub struct OpenOptions<'a> {
    /// None only for `--insecure-skip-verify`.
    pub trust: Option<&'a TrustSet>,
    /// Fail unless the newest verified snapshot is younger than this.
    pub max_age: Option<&'a Age>,
    pub limits: Limits,
    /// Where the downloaded artifact is kept (a private temporary file).
    pub work_dir: &'a Path,
}

/// A snapshot that resolved, downloaded and verified.
pub struct OpenedSnapshot {
    pub env: String,
    pub id: String,
    /// The keys as listed: which versions were read.
    pub stored: snapshots::StoredSnapshot,
    pub store: Store,
    pub artifact: VerifiedArtifact,
}

impl OpenedSnapshot {
    pub fn what(&self) -> String {
        format!("{}/{}", self.env, self.id)
    }

    /// The Object Lock retention in force on the snapshot (the earlier of its two objects'),
    /// if any.
    pub async fn retention(&self) -> anyhow::Result<Option<crate::store::Retention>> {
        // The retention of the versions that were read, not of whatever is current.
        let version =
            |info: &Option<crate::store::ObjectInfo>| info.as_ref().and_then(|i| i.version.clone());
        let artifact = self
            .store
            .retention(
                &snapshots::artifact_key(&self.env, &self.id),
                version(&self.stored.artifact).as_deref(),
            )
            .await?;
        let signature = self
            .store
            .retention(
                &snapshots::signature_key(&self.env, &self.id),
                version(&self.stored.signature).as_deref(),
            )
            .await?;
        Ok(match (artifact, signature) {
            (Some(a), Some(s)) => Some(if a.until <= s.until { a } else { s }),
            (a, s) => a.or(s),
        })
    }
}

/// Resolves `spec` (an id or `latest`) in `env`, downloads the artifact and its signature,
/// and verifies them.
pub async fn open(
    store: Store,
    env: &str,
    spec: &str,
    options: &OpenOptions<'_>,
) -> anyhow::Result<OpenedSnapshot> {
    // With --max-age the newest verified snapshot is needed anyway; `latest` reuses it.
    let stored = match (options.trust, options.max_age) {
        (Some(trust), Some(max_age)) => {
            let newest = verified::latest(&store, trust, env).await?.snapshot;
            verified::ensure_fresh(&newest, max_age)?;
            if spec == "latest" {
                verified::warn_tampering(&newest);
                newest
            } else {
                verified::resolve(&store, Some(trust), env, spec).await?
            }
        }
        _ => verified::resolve(&store, options.trust, env, spec).await?,
    };
    let id = stored.id.clone();
    let what = format!("{env}/{id}");
    let fetched = snapshots::fetch(
        &store,
        &stored,
        options.work_dir,
        options.limits.max_artifact_bytes,
    )
    .await?;
    let verification = match options.trust {
        Some(trust) => Verification::Signed {
            signature: &fetched.signature,
            trust,
            stored_at: Some(fetched.signature_stored_at),
        },
        None => Verification::Skip,
    };
    let artifact = VerifiedArtifact::open(
        fetched.artifact,
        verification,
        env,
        &id,
        options.limits,
        &what,
    )?;
    match &artifact.signer {
        Some(key) => tracing::info!(snapshot = %what, key_id = %key, "signature verified"),
        None => tracing::warn!(snapshot = %what, "signature NOT verified (--insecure-skip-verify)"),
    }
    Ok(OpenedSnapshot {
        env: env.into(),
        id,
        stored,
        store,
        artifact,
    })
}
