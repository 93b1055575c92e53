//! The snapshot layout in a store: `<env>/<id>.tar.zst` and its signature
//! `<env>/<id>.tar.zst.sig`. Ids sort by creation time. A snapshot is committed when both
//! objects exist; the signature is written last, so an artifact without one is an orphan of
//! a failed or interrupted snapshot and does not exist for `list`, `latest` or `restore`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use anyhow::{Context, bail};
use jiff::Timestamp;
use serde::Serialize;

use super::{ObjectStore, Store, StoreError};
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

/// One snapshot found in a store.
#[derive(Debug, Clone, Serialize)]
pub struct StoredSnapshot {
    pub env: String,
    pub id: String,
    pub created: String,
    pub artifact_bytes: u64,
    /// Has both its artifact and its signature: visible to list, latest and restore.
    pub committed: bool,
    /// The artifact exists (false: a signature whose artifact is gone, an orphan).
    #[serde(skip)]
    pub has_artifact: bool,
    /// The signature exists.
    #[serde(skip)]
    pub has_signature: bool,
}

/// Every snapshot in the store (of `env`, if given), committed or not — orphaned artifacts
/// and orphaned signatures included — oldest first.
pub async fn scan(store: &Store, env: Option<&str>) -> Result<Vec<StoredSnapshot>, StoreError> {
    let prefix = env.map(|e| format!("{e}/")).unwrap_or_default();
    let mut found: BTreeMap<(String, String), (Option<u64>, bool)> = BTreeMap::new();
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
            found.entry((env.into(), id.into())).or_default().1 = true;
        } else if let Some(id) = file
            .strip_suffix(ARTIFACT_SUFFIX)
            .filter(|id| is_valid_id(id))
        {
            found.entry((env.into(), id.into())).or_default().0 = Some(object.size);
        }
    }
    Ok(found
        .into_iter()
        .map(|((env, id), (size, signed))| StoredSnapshot {
            created: id_time(&id).unwrap_or_default(),
            env,
            id,
            artifact_bytes: size.unwrap_or(0),
            committed: signed && size.is_some(),
            has_artifact: size.is_some(),
            has_signature: signed,
        })
        .collect())
}

/// Committed snapshots only, oldest first.
pub async fn list_committed(
    store: &Store,
    env: Option<&str>,
) -> Result<Vec<StoredSnapshot>, StoreError> {
    Ok(scan(store, env)
        .await?
        .into_iter()
        .filter(|s| s.committed)
        .collect())
}

/// Resolves `latest` or an id to the id of a committed snapshot of `env`.
pub async fn resolve(store: &Store, env: &str, spec: &str) -> anyhow::Result<String> {
    if !is_valid_env(env) {
        bail!(
            "environment name {env:?} is not valid: use lowercase letters, digits and '-' (at most 63)"
        );
    }
    let all = scan(store, Some(env)).await.context("listing snapshots")?;
    if spec == "latest" {
        return all
            .iter()
            .rev()
            .find(|s| s.committed)
            .map(|s| s.id.clone())
            .with_context(|| {
                format!(
                    "no committed snapshot of environment {env:?} in {}",
                    store.location("")
                )
            });
    }
    if !is_valid_id(spec) {
        bail!("{spec:?} is not a snapshot id (like 20261126T060709.123Z-3fa9c1) nor `latest`");
    }
    match all.iter().find(|s| s.id == spec) {
        Some(s) if s.committed => Ok(spec.to_string()),
        Some(s) if s.has_artifact => Err(VerifyError::MissingSignature {
            what: format!("{env}/{spec}"),
            key: store.location(&signature_key(env, spec)),
        }
        .into()),
        _ => bail!(
            "snapshot {env}/{spec} not found in {}; `routevault list` shows what there is",
            store.location("")
        ),
    }
}

/// A snapshot's objects, downloaded but not yet verified.
pub struct Fetched {
    /// The artifact, in a private temporary file, so what is verified is what is read.
    pub artifact: File,
    pub signature: SignatureFile,
    /// When the store received the signature (from the same read as its bytes).
    pub signature_stored_at: jiff::Timestamp,
}

/// Downloads a snapshot's signature and artifact (the artifact into a private temporary file
/// in `work_dir`).
pub async fn fetch(
    store: &Store,
    env: &str,
    id: &str,
    work_dir: &Path,
    max_artifact_bytes: u64,
) -> anyhow::Result<Fetched> {
    let what = format!("{env}/{id}");
    let sig_key = signature_key(env, id);
    let (sig_bytes, signature_stored_at) =
        match store.get_bytes_stamped(&sig_key, MAX_SIGNATURE_BYTES).await {
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
        .get_to_file(&artifact_key(env, id), &mut file, max_artifact_bytes)
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
