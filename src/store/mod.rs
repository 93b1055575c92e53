//! Object storage: one trait, [`ObjectStore`], with a local-folder backend and an S3 backend,
//! plus the snapshot layout on top of it (`snapshots`).
//!
//! The contract every backend keeps: `put_new_*` never overwrites — it fails with
//! [`StoreError::AlreadyExists`] if the key exists — and a put is all-or-nothing: a reader sees
//! the whole object or no object.

pub mod local;
pub mod s3;
pub mod snapshots;
pub mod verified;

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

pub use local::LocalStore;
pub use s3::{S3Options, S3Store};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{location} already exists; stored snapshots are never overwritten")]
    AlreadyExists { location: String },
    #[error("{location} does not exist")]
    NotFound { location: String },
    #[error("{location} is larger than {limit} bytes; refusing to read it")]
    TooLarge { location: String, limit: u64 },
    #[error("store URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "bucket {bucket} does not exist; create it (with Object Lock enabled, for retention) or fix --store"
    )]
    BucketMissing { bucket: String },
    #[error(
        "access denied to {location} ({reason}); check the credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE/IRSA) \
         and that they may read, write and list this bucket"
    )]
    AccessDenied { location: String, reason: String },
    #[error(
        "cannot reach the S3 endpoint {endpoint}: {reason}; check --s3-endpoint (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) and the network"
    )]
    Unreachable { endpoint: String, reason: String },
    #[error(
        "bucket {bucket} does not have Object Lock enabled, so --retain-days cannot lock snapshots; \
         use a bucket created with Object Lock, or drop --retain-days"
    )]
    ObjectLockDisabled { bucket: String },
    #[error("{store} cannot lock objects; --retain-days needs an S3 bucket with Object Lock")]
    RetentionUnsupported { store: String },
    #[error("{location}: {reason}")]
    Remote { location: String, reason: String },
    #[error("{location}: {source}")]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
}

/// A parsed `--store` value.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreUrl {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl StoreUrl {
    /// `file:///abs/path`, a plain path, or `s3://bucket/prefix`.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: url.into(),
            reason: reason.into(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("no bucket; use s3://BUCKET/PREFIX"));
            }
            return Ok(Self::S3 {
                bucket: bucket.into(),
                prefix: prefix.trim_matches('/').into(),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(invalid(
                    "file:// URLs take an absolute path: file:///srv/routevault",
                ));
            }
            return Ok(Self::Local(PathBuf::from(path)));
        }
        if url.contains("://") {
            return Err(invalid(
                "unknown scheme; use file:///PATH, a plain path, or s3://BUCKET/PREFIX",
            ));
        }
        if url.is_empty() {
            return Err(invalid("empty; pass --store or set ROUTEVAULT_STORE"));
        }
        Ok(Self::Local(PathBuf::from(url)))
    }
}

/// Object Lock retention modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// Users with s3:BypassGovernanceRetention can still delete.
    Governance,
    /// Nobody, not even the account root, can delete before the date.
    Compliance,
}

/// An object's retention: locked in `mode` until `until`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    pub mode: LockMode,
    pub until: jiff::Timestamp,
}

/// Information about one stored object. On a versioned bucket (every Object Lock bucket is
/// one) a key can hold several versions; routevault writes each key exactly once, create-only,
/// so the *oldest* version is the one it committed and the only one it reads. Anything written
/// over it later came from someone else: it is counted here and ignored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectInfo {
    /// Relative to the store's root, `/`-separated.
    pub key: String,
    /// Size of the committed (oldest) version.
    pub size: u64,
    /// The committed version's id; None on stores without versions (reads get the object).
    pub version: Option<String>,
    /// Versions written over the committed one (ignored; a sign of tampering).
    pub newer_versions: usize,
    /// The key's current version is a delete marker (the committed version is still there).
    pub hidden: bool,
    /// Every version id of the key, delete markers included, for removing it entirely.
    pub all_versions: Vec<String>,
}

impl ObjectInfo {
    /// Plain object on a store without versions.
    pub fn plain(key: String, size: u64) -> Self {
        Self {
            key,
            size,
            ..Default::default()
        }
    }

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// What is unusual about this key, for operators: writes over it, or a delete marker.
    pub fn tampering(&self) -> Option<String> {
        match (self.newer_versions, self.hidden) {
            (0, false) => None,
            (n, false) => Some(format!(
                "{n} newer version(s) written over the committed one (ignored)"
            )),
            (0, true) => Some("hidden by a delete marker (the committed version is read)".into()),
            (n, true) => Some(format!(
                "{n} newer version(s) written over the committed one and a delete marker (both ignored)"
            )),
        }
    }
}

/// The operations routevault needs from object storage. Keys are `/`-separated paths relative
/// to the store's root.
#[allow(async_fn_in_trait)] // used through the `Store` enum, never as `dyn`, so no Send bound is needed
pub trait ObjectStore {
    /// Where `key` lives, for messages: a path or an s3:// URL.
    fn location(&self, key: &str) -> String;
    /// Stores the file at `source` under `key`, failing if `key` exists; locked if `retention`.
    async fn put_new_file(
        &self,
        key: &str,
        source: &Path,
        retention: Option<&Retention>,
    ) -> Result<(), StoreError>;
    /// Stores `bytes` under `key`, failing if `key` exists; locked if `retention`.
    async fn put_new_bytes(
        &self,
        key: &str,
        bytes: &[u8],
        retention: Option<&Retention>,
    ) -> Result<(), StoreError>;
    /// Copies the object (`version` of it, if given) into `dest`, failing if it is larger than
    /// `max` bytes.
    async fn get_to_file(
        &self,
        key: &str,
        version: Option<&str>,
        dest: &mut File,
        max: u64,
    ) -> Result<u64, StoreError>;
    /// The object's bytes (`version` of it, if given), failing if it is larger than `max`.
    async fn get_bytes(
        &self,
        key: &str,
        version: Option<&str>,
        max: u64,
    ) -> Result<Vec<u8>, StoreError>;
    /// Every key that starts with `prefix`, with its committed version (see [`ObjectInfo`]).
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError>;
    /// Removes an object (one version of it, if given: permanently); a missing one is not an
    /// error.
    async fn delete(&self, key: &str, version: Option<&str>) -> Result<(), StoreError>;
    /// The retention in force on an object (`version` of it, if given), if any.
    async fn retention(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<Retention>, StoreError>;
    /// The object's bytes (at most `max`) and, from the same read, when the store says it was
    /// written: S3's Last-Modified, set by the server; a file's mtime, which anyone who can
    /// write the folder can change.
    async fn get_bytes_stamped(
        &self,
        key: &str,
        version: Option<&str>,
        max: u64,
    ) -> Result<(Vec<u8>, jiff::Timestamp), StoreError>;
    /// Fails unless objects can be locked (S3 with Object Lock enabled on the bucket).
    async fn check_retention_supported(&self) -> Result<(), StoreError>;
}

/// The configured store.
pub enum Store {
    Local(LocalStore),
    S3(S3Store),
}

/// Opens the store a URL names.
pub async fn open(url: &str, s3: &S3Options) -> Result<Store, StoreError> {
    match StoreUrl::parse(url)? {
        StoreUrl::Local(path) => Ok(Store::Local(LocalStore::new(path))),
        StoreUrl::S3 { bucket, prefix } => {
            Ok(Store::S3(S3Store::connect(&bucket, &prefix, s3).await))
        }
    }
}

macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Local($store) => $call,
            Store::S3($store) => $call,
        }
    };
}

impl ObjectStore for Store {
    fn location(&self, key: &str) -> String {
        each!(self, s => s.location(key))
    }
    async fn put_new_file(
        &self,
        key: &str,
        source: &Path,
        retention: Option<&Retention>,
    ) -> Result<(), StoreError> {
        each!(self, s => s.put_new_file(key, source, retention).await)
    }
    async fn put_new_bytes(
        &self,
        key: &str,
        bytes: &[u8],
        retention: Option<&Retention>,
    ) -> Result<(), StoreError> {
        each!(self, s => s.put_new_bytes(key, bytes, retention).await)
    }
    async fn get_to_file(
        &self,
        key: &str,
        version: Option<&str>,
        dest: &mut File,
        max: u64,
    ) -> Result<u64, StoreError> {
        each!(self, s => s.get_to_file(key, version, dest, max).await)
    }
    async fn get_bytes(
        &self,
        key: &str,
        version: Option<&str>,
        max: u64,
    ) -> Result<Vec<u8>, StoreError> {
        each!(self, s => s.get_bytes(key, version, max).await)
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        each!(self, s => s.list(prefix).await)
    }
    async fn delete(&self, key: &str, version: Option<&str>) -> Result<(), StoreError> {
        each!(self, s => s.delete(key, version).await)
    }
    async fn retention(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<Retention>, StoreError> {
        match self {
            Store::Local(_) => Ok(None),
            Store::S3(s) => s.retention(key, version).await,
        }
    }
    async fn get_bytes_stamped(
        &self,
        key: &str,
        version: Option<&str>,
        max: u64,
    ) -> Result<(Vec<u8>, jiff::Timestamp), StoreError> {
        each!(self, s => s.get_bytes_stamped(key, version, max).await)
    }
    async fn check_retention_supported(&self) -> Result<(), StoreError> {
        match self {
            Store::Local(s) => Err(StoreError::RetentionUnsupported {
                store: s.location(""),
            }),
            Store::S3(s) => s.check_object_lock().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_parse() {
        assert_eq!(
            StoreUrl::parse("file:///srv/rv").unwrap(),
            StoreUrl::Local("/srv/rv".into())
        );
        assert_eq!(
            StoreUrl::parse("./rv").unwrap(),
            StoreUrl::Local("./rv".into())
        );
        assert_eq!(
            StoreUrl::parse("s3://b/p/q/").unwrap(),
            StoreUrl::S3 {
                bucket: "b".into(),
                prefix: "p/q".into()
            }
        );
        assert!(StoreUrl::parse("file://relative").is_err());
        assert!(StoreUrl::parse("gs://b").is_err());
        assert!(StoreUrl::parse("s3:///p").is_err());
    }
}
