//! The snapshot layout in a store: `<env>/<id>.tar.zst` and its signature
//! `<env>/<id>.tar.zst.sig`. Ids sort by creation time. A snapshot is committed when both
//! objects exist; the signature is written last, so an artifact without one is an orphan of
//! a failed or interrupted snapshot and does not exist for `list`, `latest` or `restore`.
//! This module only finds and fetches; which snapshots count is decided by `verified`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use anyhow::Context;
use jiff::Timestamp;
use serde::Serialize;

use super::{ObjectInfo, ObjectStore, Store, StoreError};
use crate::error::VerifyError;
use crate::sign::{MAX_SIGNATURE_BYTES, SignatureFile};

pub const ARTIFACT_SUFFIX: &str = ".tar.zst";
pub const SIGNATURE_SUFFIX: &str = ".tar.zst.sig";

pub fn artifact_key(env: &str, id: &str) -> String {
    format!("{env}/{id}{ARTIFACT_SUFFIX}")
}

pub fn signature_key(env: &str, id: &str) -> String {
    format!("{env}/{id}{SIGNATURE_SUFFIX}")
}

/// A new snapshot id for `now`: `YYYYMMDDTHHMMSS.mmmZ-xxxxxx` (UTC, random hex suffix), so
/// ids sort by time and two snapshots in the same millisecond still differ.
pub fn new_id(now: Timestamp) -> String {
    let mut random = [0u8; 3];
    getrandom::fill(&mut random).expect("the operating system's random source failed");
    format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%S.%3fZ"),
        hex::encode(random)
    )
}

/// Whether `id` has the shape [`new_id`] makes. Ids become parts of keys and paths, so
/// anything else is refused.
pub fn is_valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 27
        && digits(0..8)
        && b[8] == b'T'
        && digits(9..15)
        && b[15] == b'.'
        && digits(16..19)
        && b[19] == b'Z'
        && b[20] == b'-'
        && b[21..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// The creation time encoded in an id.
pub fn id_time(id: &str) -> Option<String> {
    is_valid_id(id).then(|| {
        format!(
            "{}-{}-{}T{}:{}:{}.{}Z",
            &id[0..4],
            &id[4..6],
            &id[6..8],
            &id[9..11],
            &id[11..13],
            &id[13..15],
            &id[16..19]
        )
    })
}

/// Environment names are DNS labels: they are folders in the store.
pub fn is_valid_env(env: &str) -> bool {
    crate::object::is_valid_namespace(env)
}

/// One snapshot found in a store: its two keys as listed. Nothing here is trusted yet — names,
/// sizes and times are claims of whoever can write to the store; [`super::verified`] decides.
#[derive(Debug, Clone, Serialize)]
pub struct StoredSnapshot {
    pub env: String,
    pub id: String,
    pub created: String,
    pub artifact_bytes: u64,
    /// Has both its artifact and its signature.
    pub committed: bool,
    /// The artifact as listed (None: a signature whose artifact is gone, an orphan).
    #[serde(skip)]
    pub artifact: Option<ObjectInfo>,
    /// The signature as listed (None: an upload that never committed).
    #[serde(skip)]
    pub signature: Option<ObjectInfo>,
}

impl StoredSnapshot {
    pub fn name(&self) -> String {
        format!("{}/{}", self.env, self.id)
    }

    /// Writes over the committed versions, or delete markers, seen on its keys.
    pub fn tampering(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for (what, info) in [("artifact", &self.artifact), ("signature", &self.signature)] {
            if let Some(note) = info.as_ref().and_then(ObjectInfo::tampering) {
                notes.push(format!("{what}: {note}"));
            }
        }
        notes
    }
}

/// Every snapshot in the store (of `env`, if given), committed or not — orphaned artifacts
/// and orphaned signatures included — oldest first.
pub async fn scan(store: &Store, env: Option<&str>) -> Result<Vec<StoredSnapshot>, StoreError> {
    let prefix = env.map(|e| format!("{e}/")).unwrap_or_default();
    type Pair = (Option<ObjectInfo>, Option<ObjectInfo>);
    let mut found: BTreeMap<(String, String), Pair> = BTreeMap::new();
    for object in store.list(&prefix).await? {
        let Some((env, file)) = object.key.split_once('/') else {
            continue;
        };
        if !is_valid_env(env) || file.contains('/') {
            continue;
        }
        if let Some(id) = file
            .strip_suffix(SIGNATURE_SUFFIX)
            .filter(|id| is_valid_id(id))
        {
            let slot = found.entry((env.into(), id.into())).or_default();
            slot.1 = Some(object);
        } else if let Some(id) = file
            .strip_suffix(ARTIFACT_SUFFIX)
            .filter(|id| is_valid_id(id))
        {
            let slot = found.entry((env.into(), id.into())).or_default();
            slot.0 = Some(object);
        }
    }
    Ok(found
        .into_iter()
        .map(|((env, id), (artifact, signature))| StoredSnapshot {
            created: id_time(&id).unwrap_or_default(),
            env,
            id,
            artifact_bytes: artifact.as_ref().map_or(0, |a| a.size),
            committed: artifact.is_some() && signature.is_some(),
            artifact,
            signature,
        })
        .collect())
}

/// A snapshot's objects, downloaded but not yet verified.
pub struct Fetched {
    /// The artifact, in a private temporary file, so what is verified is what is read.
    pub artifact: File,
    pub signature: SignatureFile,
    /// When the store received the signature (from the same read as its bytes).
    pub signature_stored_at: jiff::Timestamp,
}

/// Downloads a snapshot's committed signature and artifact (the artifact into a private
/// temporary file in `work_dir`).
pub async fn fetch(
    store: &Store,
    snapshot: &StoredSnapshot,
    work_dir: &Path,
    max_artifact_bytes: u64,
) -> anyhow::Result<Fetched> {
    let (env, id) = (snapshot.env.as_str(), snapshot.id.as_str());
    let what = snapshot.name();
    let sig_key = signature_key(env, id);
    let (Some(signature_info), Some(artifact_info)) = (&snapshot.signature, &snapshot.artifact)
    else {
        return Err(VerifyError::MissingSignature {
            what,
            key: store.location(&sig_key),
        }
        .into());
    };
    let (sig_bytes, signature_stored_at) = match store
        .get_bytes_stamped(&sig_key, signature_info.version(), MAX_SIGNATURE_BYTES)
        .await
    {
        Ok(stamped) => stamped,
        Err(StoreError::NotFound { location }) => {
            return Err(VerifyError::MissingSignature {
                what,
                key: location,
            }
            .into());
        }
        Err(StoreError::TooLarge { location, .. }) => {
            return Err(VerifyError::MalformedSignature {
                key: location,
                reason: "far too large".into(),
            }
            .into());
        }
        Err(e) => return Err(e).context("reading the signature"),
    };
    let signature = SignatureFile::parse(&sig_bytes, &store.location(&sig_key))?;
    let mut file =
        tempfile::tempfile_in(work_dir).context("creating a temporary file for the artifact")?;
    match store
        .get_to_file(
            &artifact_key(env, id),
            artifact_info.version(),
            &mut file,
            max_artifact_bytes,
        )
        .await
    {
        Ok(_) => {}
        Err(StoreError::TooLarge { limit, .. }) => {
            return Err(VerifyError::TooLarge { what, limit }.into());
        }
        Err(e) => return Err(e).context("downloading the artifact"),
    }
    Ok(Fetched {
        artifact: file,
        signature,
        signature_stored_at,
    })
}

/// Where a committed snapshot's two objects are.
#[derive(Debug, Clone)]
pub struct Committed {
    pub artifact: String,
    pub signature: String,
}

/// Why a snapshot was not committed; in every case no snapshot is visible.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("storing the artifact (nothing was committed): {0}")]
    Artifact(#[source] StoreError),
    #[error(
        "storing the signature (the artifact {artifact} stays uncommitted and invisible): {source}"
    )]
    Signature {
        artifact: String,
        #[source]
        source: StoreError,
    },
}

/// How a snapshot's artifact goes to the store: whole once it is finished, or, on S3, its
/// body in parts while it is still being written (`s3::StreamingUpload`).
pub enum ArtifactUpload {
    Whole,
    Streaming(super::s3::StreamingUpload),
}

impl ArtifactUpload {
    /// Begins the upload of snapshot `id`'s artifact before it is written. `follow_body` is
    /// asked for the artifact's body only where it can be sent early (S3).
    pub fn begin(
        store: &Store,
        env: &str,
        id: &str,
        retention: Option<&super::Retention>,
        follow_body: impl FnOnce() -> std::io::Result<crate::growing::Follower>,
    ) -> std::io::Result<Self> {
        Ok(match store {
            Store::Local(_) => Self::Whole,
            Store::S3(s3) => Self::Streaming(s3.upload_while_written(
                &artifact_key(env, id),
                retention,
                follow_body()?,
            )),
        })
    }

    /// Abandons an upload whose snapshot failed: nothing of it becomes visible. The artifact's
    /// writer must be gone (dropped), or its body's end is never seen.
    pub async fn abort(self) {
        if let Self::Streaming(upload) = self {
            upload.abort().await;
        }
    }
}

/// The finished artifact to commit: the file, and where its body starts in it (the part an
/// [`ArtifactUpload::Streaming`] may have sent already).
pub struct ArtifactFile<'a> {
    pub path: &'a Path,
    pub body_offset: u64,
}

/// Stores a finished artifact and then its signature, both create-only and under `retention`.
/// The signature is the commit point: until it is stored, the artifact is uncommitted and
/// invisible to `latest`, `list` and `restore`, so a failure at any step leaves no snapshot.
pub async fn commit(
    store: &Store,
    env: &str,
    id: &str,
    upload: ArtifactUpload,
    artifact: ArtifactFile<'_>,
    signature: &SignatureFile,
    retention: Option<&super::Retention>,
) -> Result<Committed, CommitError> {
    let artifact_key = artifact_key(env, id);
    let signature_key = signature_key(env, id);
    match upload {
        ArtifactUpload::Whole => {
            store
                .put_new_file(&artifact_key, artifact.path, retention)
                .await
        }
        ArtifactUpload::Streaming(upload) => {
            upload.finish(artifact.path, artifact.body_offset).await
        }
    }
    .map_err(CommitError::Artifact)?;
    store
        .put_new_bytes(&signature_key, &signature.to_bytes(), retention)
        .await
        .map_err(|source| CommitError::Signature {
            artifact: store.location(&artifact_key),
            source,
        })?;
    Ok(Committed {
        artifact: store.location(&artifact_key),
        signature: store.location(&signature_key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_validate() {
        let a = new_id("2026-11-26T06:07:09.123Z".parse().unwrap());
        let b = new_id("2026-11-26T06:07:10.001Z".parse().unwrap());
        assert!(a.starts_with("20261126T060709.123Z-"), "{a}");
        assert!(is_valid_id(&a) && is_valid_id(&b));
        assert!(a < b);
        assert_eq!(id_time(&a).unwrap(), "2026-11-26T06:07:09.123Z");
        for bad in [
            "",
            "latest",
            "../../etc/passwd",
            "20261126T060709.123Z-3FA9C1",
            "20261126T060709.123Z-3fa9c1/x",
        ] {
            assert!(!is_valid_id(bad), "{bad}");
        }
        assert!(is_valid_env("prod-eu") && !is_valid_env("../x") && !is_valid_env("Prod"));
    }
}
