//! Which snapshots in a store count. Trust decides, names don't: a snapshot counts when its
//! signature verifies against the trust set, and `latest`, a new snapshot's `previous`, what
//! prune keeps and what history walks are all chosen among those. Whoever can write to the
//! bucket can add pairs with any name, but not signatures: a pair that does not verify is
//! reported (why, escaped) and skipped, never fatal to commands about other snapshots.
//!
//! Ranking needs only the small signature files: a signature binds (env, id, artifact SHA-256),
//! so [`SignatureFile::verify_claim`] proves a trusted key made the claim; the artifact's bytes
//! are checked against it when the snapshot is opened.

use crate::duration::Age;
use anyhow::{Context, bail};
use futures::StreamExt;
use jiff::Timestamp;

use super::snapshots::{self, StoredSnapshot};
use super::{ObjectStore, Store, StoreError};
use crate::error::VerifyError;
use crate::output::escape;
use crate::sign::{KeyId, MAX_SIGNATURE_BYTES, SignatureFile, TrustSet};

/// Signature files read at once.
const SIGNATURE_READS_IN_FLIGHT: usize = 16;

/// What the trust set says about one stored snapshot.
#[derive(Debug, Clone)]
pub enum Standing {
    /// Signed by a trusted key, for this env and id.
    Verified(Box<Vouched>),
    /// Not vouched for; the reason is escaped and safe to print.
    Unverified(String),
}

/// A verified signature's facts.
#[derive(Debug, Clone)]
pub struct Vouched {
    pub key_id: KeyId,
    pub signature: SignatureFile,
}

/// A stored snapshot with its standing.
#[derive(Debug, Clone)]
pub struct Surveyed {
    pub snapshot: StoredSnapshot,
    pub standing: Standing,
}

impl Surveyed {
    pub fn vouched(&self) -> Option<&Vouched> {
        match &self.standing {
            Standing::Verified(v) => Some(v),
            Standing::Unverified(_) => None,
        }
    }

    pub fn is_verified(&self) -> bool {
        self.vouched().is_some()
    }

    /// Why it does not count (None when it does).
    pub fn unverified_reason(&self) -> Option<&str> {
        match &self.standing {
            Standing::Verified(_) => None,
            Standing::Unverified(reason) => Some(reason),
        }
    }
}

/// Checks one snapshot's signature (its committed version) against `trust`.
pub async fn check(store: &Store, trust: &TrustSet, snapshot: &StoredSnapshot) -> Standing {
    let (Some(signature), Some(artifact)) = (&snapshot.signature, &snapshot.artifact) else {
        return Standing::Unverified(
            if snapshot.signature.is_none() {
                "uncommitted: no signature"
            } else {
                "orphaned signature: no artifact"
            }
            .into(),
        );
    };
    let key = snapshots::signature_key(&snapshot.env, &snapshot.id);
    let (bytes, stored_at) = match store
        .get_bytes_stamped(&key, signature.version(), MAX_SIGNATURE_BYTES)
        .await
    {
        Ok(read) => read,
        Err(StoreError::TooLarge { .. }) => {
            return Standing::Unverified("signature file far too large".into());
        }
        Err(e) => return Standing::Unverified(escape(&e.to_string()).into_owned()),
    };
    let what = snapshot.name();
    let vouched = SignatureFile::parse(&bytes, &store.location(&key)).and_then(|file| {
        let key_id =
            file.verify_claim(trust, &snapshot.env, &snapshot.id, Some(stored_at), &what)?;
        Ok((key_id, file))
    });
    match vouched {
        Ok((key_id, file)) if file.artifact_size != artifact.size => Standing::Unverified(format!(
            "the artifact is {} bytes but key {key_id} signed one of {} (replaced or truncated)",
            artifact.size, file.artifact_size
        )),
        Ok((key_id, signature)) => Standing::Verified(Box::new(Vouched { key_id, signature })),
        Err(e) => Standing::Unverified(escape(&e.to_string()).into_owned()),
    }
}

/// Every snapshot of the store (of `env`, if given), oldest first, with its standing.
/// Uncommitted uploads are included as unverified.
pub async fn survey(
    store: &Store,
    trust: &TrustSet,
    env: Option<&str>,
) -> Result<Vec<Surveyed>, StoreError> {
    let found = snapshots::scan(store, env).await?;
    Ok(futures::stream::iter(found)
        .map(|snapshot| async move {
            let standing = check(store, trust, &snapshot).await;
            Surveyed { snapshot, standing }
        })
        .buffered(SIGNATURE_READS_IN_FLIGHT)
        .collect()
        .await)
}

/// The newest verified snapshot of `env`, and the committed snapshots newer than it that did
/// not verify (newest first). Reads signatures newest first and stops at the first that
/// verifies, so a long history costs nothing.
pub async fn newest_verified(
    store: &Store,
    trust: &TrustSet,
    env: &str,
) -> Result<(Option<Surveyed>, Vec<Surveyed>), StoreError> {
    let committed: Vec<StoredSnapshot> = snapshots::scan(store, Some(env))
        .await?
        .into_iter()
        .filter(|s| s.committed)
        .rev()
        .collect();
    let mut skipped = Vec::new();
    for batch in committed.chunks(SIGNATURE_READS_IN_FLIGHT) {
        let checked: Vec<Surveyed> = futures::stream::iter(batch.iter().cloned())
            .map(|snapshot| async move {
                let standing = check(store, trust, &snapshot).await;
                Surveyed { snapshot, standing }
            })
            .buffered(SIGNATURE_READS_IN_FLIGHT)
            .collect()
            .await;
        for surveyed in checked {
            if surveyed.is_verified() {
                return Ok((Some(surveyed), skipped));
            }
            skipped.push(surveyed);
        }
    }
    Ok((None, skipped))
}

/// Logs the snapshots skipped because they did not verify.
pub fn warn_skipped(skipped: &[Surveyed]) {
    for s in skipped {
        tracing::warn!(
            snapshot = %s.snapshot.name(),
            reason = s.unverified_reason().unwrap_or_default(),
            "skipping a snapshot whose signature does not verify against the trusted keys \
             (junk or tampering in the store; it is left for an operator: `routevault list` shows it)"
        );
    }
}

/// Logs writes over committed objects and delete markers seen on a snapshot's keys.
pub fn warn_tampering(snapshot: &StoredSnapshot) {
    for note in snapshot.tampering() {
        tracing::warn!(
            snapshot = %snapshot.name(),
            "{note}: someone other than routevault wrote to this snapshot's keys; the version \
             routevault committed is the one read"
        );
    }
}

/// The newest verified snapshot of `env`, after warning about the newer ones skipped; an
/// error (exit 3 when only unverified pairs exist) when there is none.
pub async fn latest(store: &Store, trust: &TrustSet, env: &str) -> anyhow::Result<Surveyed> {
    let (newest, skipped) = newest_verified(store, trust, env)
        .await
        .context("listing snapshots")?;
    warn_skipped(&skipped);
    newest.ok_or_else(|| nothing_verified(store, Some(trust), env, skipped.len()))
}

/// The error for an environment with no snapshot to use: none committed at all, or
/// `unverified` committed pairs of which none verifies (a verification failure).
pub fn nothing_verified(
    store: &Store,
    trust: Option<&TrustSet>,
    env: &str,
    unverified: usize,
) -> anyhow::Error {
    match trust {
        Some(trust) if unverified > 0 => VerifyError::NoneVerified {
            env: env.into(),
            store: store.location(""),
            count: unverified,
            trust: trust.source.display().to_string(),
        }
        .into(),
        _ => anyhow::anyhow!(
            "no committed snapshot of environment {env:?} in {}",
            store.location("")
        ),
    }
}

/// `--max-age`: fails (exit 3) unless `newest` — the newest verified snapshot of its
/// environment — is younger than `max_age`. A writer who hides or withholds the newest
/// snapshots leaves a chain that looks whole; only its age gives that away. The age is the
/// one in the signed id.
pub fn ensure_fresh(newest: &StoredSnapshot, max_age: &Age) -> anyhow::Result<()> {
    let limit = max_age.duration;
    let created: Timestamp = newest
        .created
        .parse()
        .context("reading the time in a snapshot id")?;
    if Timestamp::now().duration_since(created) > limit {
        return Err(VerifyError::Stale {
            env: newest.env.clone(),
            id: newest.id.clone(),
            created: newest.created.clone(),
            max_age: max_age.to_string(),
        }
        .into());
    }
    tracing::info!(env = %newest.env, newest = %newest.id, %max_age, "the newest verified snapshot is fresh");
    Ok(())
}

/// Resolves `latest` or an id to a committed snapshot of `env`. `latest` is the newest snapshot
/// whose signature verifies against `trust` (with `trust` None — `--insecure-skip-verify` —
/// the newest committed one). An id is taken as named; it is verified when opened.
pub async fn resolve(
    store: &Store,
    trust: Option<&TrustSet>,
    env: &str,
    spec: &str,
) -> anyhow::Result<StoredSnapshot> {
    if !snapshots::is_valid_env(env) {
        bail!(
            "environment name {env:?} is not valid: use lowercase letters, digits and '-' (at most 63)"
        );
    }
    if spec == "latest" {
        let snapshot = match trust {
            Some(trust) => latest(store, trust, env).await?.snapshot,
            None => snapshots::scan(store, Some(env))
                .await
                .context("listing snapshots")?
                .into_iter()
                .rev()
                .find(|s| s.committed)
                .ok_or_else(|| nothing_verified(store, trust, env, 0))?,
        };
        warn_tampering(&snapshot);
        return Ok(snapshot);
    }
    if !snapshots::is_valid_id(spec) {
        bail!(
            "{:?} is not a snapshot id (like 20261126T060709.123Z-3fa9c1) nor `latest`",
            escape(spec)
        );
    }
    let all = snapshots::scan(store, Some(env))
        .await
        .context("listing snapshots")?;
    match all.into_iter().find(|s| s.id == spec) {
        Some(s) if s.committed => {
            warn_tampering(&s);
            Ok(s)
        }
        Some(s) if s.artifact.is_some() => Err(VerifyError::MissingSignature {
            what: format!("{env}/{spec}"),
            key: store.location(&snapshots::signature_key(env, spec)),
        }
        .into()),
        _ => bail!(
            "snapshot {env}/{spec} not found in {}; `routevault list` shows what there is",
            store.location("")
        ),
    }
}
