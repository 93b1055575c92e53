//! Building a snapshot from a stream of objects: each Secret sealed to the recipients (or the
//! snapshot refused when Secrets would be captured without any), each object written into the
//! artifact and counted; and the link to the previous verified snapshot that chains them.
//! The command feeds it from a folder or a cluster, then signs and commits
//! (`store::snapshots::commit`).

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::SigningKey;
use thiserror::Error;

use crate::artifact::write::FinishedArtifact;
use crate::artifact::{ArtifactWriter, Manifest, PreviousSnapshot, SourceInfo};
use crate::object::Object;
use crate::seal::{SealError, Sealer};
use crate::select::{SecretsMode, Selection};
use crate::sign::{KeyError, TrustSet};
use crate::store::{Store, StoreError, verified};

#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error(
        "{object} would be captured but no --seal-to recipient was given: pass --seal-to age1... \
         (or a .seal.pub file), or --secrets skip to leave Secrets out, or --secrets plaintext \
         if you really want them unencrypted"
    )]
    NoRecipient { object: String },
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("writing {object} into the artifact: {source}")]
    Write {
        object: String,
        #[source]
        source: std::io::Error,
    },
    #[error("loading trusted keys (--trust) to find the previous snapshot: {0}")]
    Trust(#[source] KeyError),
    #[error("listing earlier snapshots: {0}")]
    Earlier(#[source] StoreError),
    #[error(
        "{source_name} captured no routing objects (selection: {selection}); nothing was stored. \
         Check the context, --namespace and --selector, or pass --allow-empty to commit an empty \
         snapshot"
    )]
    Empty {
        source_name: String,
        selection: String,
    },
}

/// What went into an artifact.
#[derive(Debug, Default, Clone)]
pub struct Contents {
    pub objects: usize,
    pub sealed_secrets: usize,
    /// Objects per kind.
    pub counts: BTreeMap<String, usize>,
}

/// Seals, writes and counts the objects of a snapshot, in the order they arrive (restore
/// order).
pub struct ArtifactSink<'a> {
    writer: ArtifactWriter,
    secrets: SecretsMode,
    sealer: Option<&'a Sealer>,
    contents: Contents,
}

impl<'a> ArtifactSink<'a> {
    pub fn new(writer: ArtifactWriter, secrets: SecretsMode, sealer: Option<&'a Sealer>) -> Self {
        Self {
            writer,
            secrets,
            sealer,
            contents: Contents::default(),
        }
    }

    pub fn add(&mut self, mut object: Object) -> Result<(), SnapshotError> {
        let mut sealed = false;
        let mut digests = BTreeMap::new();
        if object.group().is_empty() && object.kind() == "Secret" {
            match (self.secrets, self.sealer) {
                (SecretsMode::Sealed, Some(sealer)) => {
                    digests = sealer.seal_secret(&mut object)?;
                    sealed = true;
                    self.contents.sealed_secrets += 1;
                }
                (SecretsMode::Sealed, None) => {
                    return Err(SnapshotError::NoRecipient {
                        object: object.object_ref().to_string(),
                    });
                }
                _ => {}
            }
        }
        self.writer
            .add_object(&object, sealed, digests)
            .map_err(|source| SnapshotError::Write {
                object: object.object_ref().to_string(),
                source,
            })?;
        *self
            .contents
            .counts
            .entry(object.kind().to_string())
            .or_insert(0) += 1;
        self.contents.objects += 1;
        Ok(())
    }

    pub fn contents(&self) -> &Contents {
        &self.contents
    }

    /// How Secrets are sealed, if they are.
    pub fn sealing(&self) -> Option<&crate::seal::Sealing> {
        self.sealer.map(Sealer::sealing)
    }

    /// Refuses an empty capture unless `allow_empty`: more often a wrong selector or context
    /// than an intent.
    pub fn check_not_empty(
        &self,
        source: &SourceInfo,
        selection: &Selection,
        allow_empty: bool,
    ) -> Result<(), SnapshotError> {
        if self.contents.objects > 0 || allow_empty {
            return Ok(());
        }
        Err(SnapshotError::Empty {
            source_name: describe_source(source),
            selection: describe_selection(selection),
        })
    }

    /// Writes the manifest (entries are filled in by the writer) and closes the artifact.
    pub fn finish(self, manifest: Manifest) -> std::io::Result<(FinishedArtifact, Contents)> {
        let finished = self.writer.finish(manifest)?;
        Ok((finished, self.contents))
    }
}

/// The keys a previous snapshot is verified against: the signing key's own public key plus
/// the keys in `trust` if that exists (absent or empty adds nothing; a broken one is an
/// error).
pub fn chain_trust(trust: &Path, signing_key: &SigningKey) -> Result<TrustSet, SnapshotError> {
    let mut trusted = match TrustSet::load(trust) {
        Ok(set) => set,
        Err(KeyError::NoTrustedKeys { .. }) => TrustSet::from_keys(Vec::new()),
        Err(KeyError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            TrustSet::from_keys(Vec::new())
        }
        Err(e) => return Err(SnapshotError::Trust(e)),
    };
    trusted.add_key(signing_key.verifying_key());
    Ok(trusted)
}

/// The newest snapshot of `env` verified with `trusted` ([`chain_trust`]), to record in a new
/// manifest as its `previous`: junk planted in the store is skipped with a warning and can
/// never stop a snapshot.
pub async fn previous_snapshot(
    store: &Store,
    trusted: &TrustSet,
    env: &str,
) -> Result<Option<PreviousSnapshot>, SnapshotError> {
    let (newest, skipped) = verified::newest_verified(store, trusted, env)
        .await
        .map_err(SnapshotError::Earlier)?;
    verified::warn_skipped(&skipped);
    Ok(newest.and_then(|found| {
        let vouched = found.vouched()?;
        Some(PreviousSnapshot {
            id: found.snapshot.id.clone(),
            artifact_sha256: vouched.signature.artifact_sha256.clone(),
        })
    }))
}

fn describe_source(source: &SourceInfo) -> String {
    match (&source.path, &source.server) {
        (Some(path), _) => format!("the folder {path}"),
        (None, Some(server)) => format!("the cluster at {server}"),
        (None, None) => "the source".into(),
    }
}

fn describe_selection(selection: &Selection) -> String {
    let mut parts = Vec::new();
    if !selection.namespaces.is_empty() {
        parts.push(format!("--namespace {}", selection.namespaces.join(",")));
    }
    if !selection.exclude_namespaces.is_empty() {
        parts.push(format!(
            "--exclude-namespace {}",
            selection.exclude_namespaces.join(",")
        ));
    }
    if let Some(selector) = &selection.selector {
        parts.push(format!("--selector {selector}"));
    }
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(" ")
    }
}
