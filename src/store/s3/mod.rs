//! The S3 store (`s3://bucket/prefix`), for AWS S3 and S3-compatible stores (Ceph RGW,
//! SeaweedFS, R2, MinIO). Credentials come from aws-config's standard chain (environment,
//! profile, web identity / IRSA, container credentials / EKS Pod Identity, IMDS).
//!
//! Create-only by construction: every PUT, and the completion of every multipart upload,
//! carries `If-None-Match: *`, so an existing key answers 412 and is never replaced. Large files
//! go up in parts of bounded size, two at a time (memory does not grow with the artifact); a
//! failed multipart upload is aborted. A snapshot's artifact can go up while it is still being
//! written (`streaming`). Request checksums are sent only when an operation requires them (many
//! S3-compatible stores reject the SDK's default CRC trailers); every upload carries
//! Content-MD5 instead, which Object Lock requires and every store accepts.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ObjectLockEnabled, ObjectLockMode,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};

use super::{LockMode, ObjectInfo, Retention, StoreError};

mod streaming;
pub use streaming::StreamingUpload;

/// How to reach the S3 endpoint.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// A custom endpoint (S3-compatible stores); None for AWS.
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub region: Option<String>,
    /// Files larger than this go up as multipart uploads of this part size.
    pub part_size: u64,
    /// Static credentials (access key, secret key) for library users; None: the AWS chain.
    pub credentials: Option<(String, String)>,
}

/// S3's smallest allowed part (except the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// 8 MiB, as the AWS CLI's default: while a snapshot is written, one part is held at a time and
/// two at the end; at 100k objects 16 MiB parts cost 9 MB of peak memory for no gain in time
/// (docs/performance.md).
pub const DEFAULT_PART_SIZE: u64 = 8 << 20;

/// Parts sent at once: two keep the connection busy while the next part is read and hashed,
/// and bound the memory an upload holds to two parts.
const PARTS_AT_ONCE: usize = 2;

/// One part of a multipart upload: its number and where it lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PartRange {
    number: i32,
    offset: u64,
    length: u64,
}

/// The file from `offset` to `size` in parts of `part_size` (the last one smaller), numbered
/// from `first`.
fn parts_of(first: i32, mut offset: u64, size: u64, part_size: u64) -> Vec<PartRange> {
    let mut ranges = Vec::new();
    let mut number = first;
    while offset < size {
        let length = part_size.min(size - offset);
        ranges.push(PartRange {
            number,
            offset,
            length,
        });
        offset += length;
        number += 1;
    }
    ranges
}

#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    part_size: u64,
    endpoint: String,
}

impl S3Store {
    pub async fn connect(bucket: &str, prefix: &str, options: &S3Options) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some((access, secret)) = &options.credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                access,
                secret,
                None,
                None,
                "routevault",
            ));
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .force_path_style(options.path_style);
        if shared.region().is_none() {
            // S3-compatible stores rarely care; AWS redirects. Better than failing every call.
            config = config.region(Region::new("us-east-1"));
        }
        // --s3-endpoint, else the AWS SDKs' standard variables, service-specific first.
        let configured = options
            .endpoint
            .clone()
            .or_else(|| env_endpoint("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env_endpoint("AWS_ENDPOINT_URL"))
            .or_else(|| shared.endpoint_url().map(str::to_string));
        if let Some(endpoint) = &configured {
            config = config.endpoint_url(endpoint);
        }
        let endpoint = configured.unwrap_or_else(|| {
            let region = shared
                .region()
                .map_or("us-east-1".to_string(), |r| r.to_string());
            format!("AWS S3 ({region})")
        });
        Self {
            client: Client::from_conf(config.build()),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            part_size: options.part_size.max(MIN_PART_SIZE),
            endpoint,
        }
    }

    fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    pub fn location(&self, key: &str) -> String {
        let full = self.full_key(key);
        if full.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{full}", self.bucket)
        }
    }

    /// Turns an SDK error into a store error that says what to do.
    fn error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        &self,
        key: &str,
        err: SdkError<E>,
    ) -> StoreError {
        let location = self.location(key);
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err
            .as_service_error()
            .and_then(|e| e.code())
            .map(str::to_string);
        match (&err, status, code.as_deref()) {
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _, _) => {
                StoreError::Unreachable {
                    endpoint: self.endpoint.clone(),
                    reason: error_chain(&err),
                }
            }
            (_, Some(412), _) | (_, _, Some("PreconditionFailed")) => {
                StoreError::AlreadyExists { location }
            }
            (_, _, Some("NoSuchBucket")) => StoreError::BucketMissing {
                bucket: self.bucket.clone(),
            },
            (_, _, Some("NoSuchKey")) | (_, Some(404), None) => StoreError::NotFound { location },
            (
                _,
                _,
                Some(
                    "AccessDenied"
                    | "InvalidAccessKeyId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "InvalidToken",
                ),
            )
            | (_, Some(401 | 403), _) => StoreError::AccessDenied {
                location,
                reason: code.unwrap_or_else(|| "HTTP 403".into()),
            },
            _ => StoreError::Remote {
                location,
                reason: error_chain(&err),
            },
        }
    }

    pub async fn put_new_file(
        &self,
        key: &str,
        source: &Path,
        retention: Option<&Retention>,
    ) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            location: self.location(key),
            source,
        };
        let size = std::fs::metadata(source).map_err(io)?.len();
        if size > self.part_size {
            return self.put_new_multipart(key, source, size, retention).await;
        }
        let bytes = std::fs::read(source).map_err(io)?;
        self.put_new_bytes(key, &bytes, retention).await
    }

    pub async fn put_new_bytes(
        &self,
        key: &str,
        bytes: &[u8],
        retention: Option<&Retention>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .if_none_match("*")
            .content_md5(content_md5(bytes))
            .body(ByteStream::from(bytes.to_vec()));
        if let Some(retention) = retention {
            request = request
                .object_lock_mode(lock_mode(retention.mode))
                .object_lock_retain_until_date(retain_until(retention));
        }
        request.send().await.map_err(|e| self.error(key, e))?;
        Ok(())
    }

    async fn put_new_multipart(
        &self,
        key: &str,
        source: &Path,
        size: u64,
        retention: Option<&Retention>,
    ) -> Result<(), StoreError> {
        let file = Arc::new(File::open(source).map_err(|source| StoreError::Io {
            location: self.location(key),
            source,
        })?);
        let upload_id = self.create_multipart(key, retention).await?;
        let ranges = parts_of(1, 0, size, self.part_size);
        let result = async {
            let parts = self.send_parts(key, &upload_id, &file, ranges).await?;
            self.complete_multipart(key, &upload_id, parts).await
        }
        .await;
        if result.is_err() {
            self.abort_multipart(key, &upload_id).await;
        }
        result
    }

    /// Sends `ranges` of `file` as parts of upload `upload_id`, [`PARTS_AT_ONCE`] at a time;
    /// returns them in part-number order.
    async fn send_parts(
        &self,
        key: &str,
        upload_id: &str,
        file: &Arc<File>,
        ranges: Vec<PartRange>,
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let mut parts: Vec<CompletedPart> = futures::stream::iter(ranges)
            .map(|range| async move {
                let (bytes, md5) = self
                    .read_part(key, file, range.offset, range.length)
                    .await?;
                self.upload_part(key, upload_id, range.number, bytes, md5)
                    .await
            })
            .buffer_unordered(PARTS_AT_ONCE)
            .try_collect()
            .await?;
        parts.sort_by_key(|part| part.part_number());
        Ok(parts)
    }

    /// `length` bytes of `file` from `offset` and their Content-MD5, read and hashed on a
    /// blocking thread: the runtime's one thread is the snapshot's pipeline. A buffer per
    /// part, handed to its request as the body (a reused buffer was copied, two parts at once).
    async fn read_part(
        &self,
        key: &str,
        file: &Arc<File>,
        offset: u64,
        length: u64,
    ) -> Result<(Vec<u8>, String), StoreError> {
        let file = file.clone();
        let read = tokio::task::spawn_blocking(move || {
            let bytes = crate::growing::read_range(&file, offset, length as usize)?;
            let md5 = content_md5(&bytes);
            Ok::<_, std::io::Error>((bytes, md5))
        })
        .await
        .map_err(|e| StoreError::Remote {
            location: self.location(key),
            reason: format!("reading a part to upload: {e}"),
        })?;
        read.map_err(|source| StoreError::Io {
            location: self.location(key),
            source,
        })
    }

    /// Starts a multipart upload of `key`, locked if `retention`; returns its id.
    async fn create_multipart(
        &self,
        key: &str,
        retention: Option<&Retention>,
    ) -> Result<String, StoreError> {
        let mut create = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full_key(key));
        if let Some(retention) = retention {
            create = create
                .object_lock_mode(lock_mode(retention.mode))
                .object_lock_retain_until_date(retain_until(retention));
        }
        let upload = create.send().await.map_err(|e| self.error(key, e))?;
        Ok(upload.upload_id().unwrap_or_default().to_string())
    }

    /// Sends part `number` (its Content-MD5 computed by the caller, off the runtime's thread
    /// where it is large).
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        bytes: Vec<u8>,
        md5: String,
    ) -> Result<CompletedPart, StoreError> {
        let part = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .upload_id(upload_id)
            .part_number(number)
            .content_md5(md5)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| self.error(key, e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(part.e_tag().map(str::to_string))
            .build())
    }

    /// Completes the upload create-only (`If-None-Match: *`); `parts` in part-number order.
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<(), StoreError> {
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .upload_id(upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error(key, e))?;
        Ok(())
    }

    /// Best effort: an unreachable store cannot be told; the bucket's lifecycle rule for
    /// incomplete multipart uploads (docs/deploy) cleans up what is left. An upload that is
    /// never completed is never visible either way.
    async fn abort_multipart(&self, key: &str, upload_id: &str) {
        let _ = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .upload_id(upload_id)
            .send()
            .await;
    }

    pub async fn get_to_file(
        &self,
        key: &str,
        version: Option<&str>,
        dest: &mut File,
        max: u64,
    ) -> Result<u64, StoreError> {
        Ok(self.download(key, version, dest, max).await?.0)
    }

    /// Streams an object into `dest`, failing once it exceeds `max` bytes.
    async fn download(
        &self,
        key: &str,
        version: Option<&str>,
        dest: &mut impl Write,
        max: u64,
    ) -> Result<(u64, Option<jiff::Timestamp>), StoreError> {
        let response = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .set_version_id(version.map(str::to_string))
            .send()
            .await
            .map_err(|e| self.error(key, e))?;
        if response
            .content_length()
            .is_some_and(|len| len as u64 > max)
        {
            return Err(StoreError::TooLarge {
                location: self.location(key),
                limit: max,
            });
        }
        let modified = response
            .last_modified()
            .and_then(|t| jiff::Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok());
        let mut body = response.body;
        let mut written = 0u64;
        while let Some(chunk) = body.try_next().await.map_err(|e| StoreError::Remote {
            location: self.location(key),
            reason: e.to_string(),
        })? {
            written += chunk.len() as u64;
            if written > max {
                return Err(StoreError::TooLarge {
                    location: self.location(key),
                    limit: max,
                });
            }
            dest.write_all(&chunk).map_err(|source| StoreError::Io {
                location: self.location(key),
                source,
            })?;
        }
        Ok((written, modified))
    }

    pub async fn get_bytes(
        &self,
        key: &str,
        version: Option<&str>,
        max: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let mut bytes = Vec::new();
        self.download(key, version, &mut bytes, max).await?;
        Ok(bytes)
    }

    pub async fn get_bytes_stamped(
        &self,
        key: &str,
        version: Option<&str>,
        max: u64,
    ) -> Result<(Vec<u8>, jiff::Timestamp), StoreError> {
        let mut bytes = Vec::new();
        let (_, modified) = self.download(key, version, &mut bytes, max).await?;
        let modified = modified.ok_or_else(|| StoreError::Remote {
            location: self.location(key),
            reason: "the server sent no valid Last-Modified".into(),
        })?;
        Ok((bytes, modified))
    }

    /// Lists keys through ListObjectVersions, so that a version written over a committed one,
    /// or a delete marker, cannot change what routevault reads (see [`ObjectInfo`]). A store
    /// that does not answer ListObjectVersions (or a role without s3:ListBucketVersions) is
    /// listed by ListObjectsV2 instead, with a warning: then only current versions are seen.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        match self.list_versions(prefix).await? {
            Some(found) => Ok(found),
            None => self.list_current(prefix).await,
        }
    }

    fn strip_prefix<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(&self.prefix)?.strip_prefix('/')
        }
    }

    /// None when the store will not list versions (not implemented, or not allowed).
    async fn list_versions(&self, prefix: &str) -> Result<Option<Vec<ObjectInfo>>, StoreError> {
        let full_prefix = self.full_key(prefix);
        let mut keys: std::collections::BTreeMap<String, VersionsSeen> = Default::default();
        let mut position = 0usize;
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&full_prefix)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    let code = err.as_service_error().and_then(|e| e.code()).unwrap_or("");
                    if matches!(code, "NotImplemented" | "AccessDenied" | "MethodNotAllowed") {
                        tracing::warn!(
                            store = %self.location(prefix),
                            "cannot list object versions ({code}); reading current versions only, \
                             so an object written over a snapshot would replace it: grant \
                             s3:ListBucketVersions"
                        );
                        return Ok(None);
                    }
                    return Err(self.error(prefix, err));
                }
            };
            for version in page.versions() {
                let Some(key) = version.key().and_then(|k| self.strip_prefix(k)) else {
                    continue;
                };
                let modified = version.last_modified().map_or(i128::MAX, |t| {
                    i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos())
                });
                position += 1;
                keys.entry(key.to_string()).or_default().versions.push((
                    modified,
                    position,
                    version.version_id().map(str::to_string),
                    version.size().unwrap_or(0).max(0) as u64,
                ));
            }
            for marker in page.delete_markers() {
                let Some(key) = marker.key().and_then(|k| self.strip_prefix(k)) else {
                    continue;
                };
                let seen = keys.entry(key.to_string()).or_default();
                seen.hidden |= marker.is_latest() == Some(true);
                seen.markers.extend(marker.version_id().map(str::to_string));
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
            if key_marker.is_none() && version_marker.is_none() {
                break;
            }
        }
        let out = keys
            .into_iter()
            .filter_map(|(key, seen)| seen.committed(key))
            .collect();
        Ok(Some(out))
    }

    async fn list_current(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let full_prefix = self.full_key(prefix);
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full_prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(prefix, e))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| self.strip_prefix(k)) else {
                    continue;
                };
                out.push(ObjectInfo::plain(
                    key.to_string(),
                    object.size().unwrap_or(0).max(0) as u64,
                ));
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    pub async fn delete(&self, key: &str, version: Option<&str>) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .set_version_id(version.map(str::to_string))
            .send()
            .await
            .map_err(|e| self.error(key, e))?;
        Ok(())
    }

    pub async fn retention(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<Retention>, StoreError> {
        match self
            .client
            .get_object_retention()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .set_version_id(version.map(str::to_string))
            .send()
            .await
        {
            Ok(response) => Ok(response.retention().and_then(|r| {
                let mode = match r.mode()?.as_str() {
                    "COMPLIANCE" => LockMode::Compliance,
                    _ => LockMode::Governance,
                };
                let until = jiff::Timestamp::from_second(r.retain_until_date()?.secs()).ok()?;
                Some(Retention { mode, until })
            })),
            Err(err) => {
                let code = err.as_service_error().and_then(|e| e.code()).unwrap_or("");
                // No retention on the object (or no lock on the bucket) is an answer, not an error.
                if code.contains("NoSuchObjectLockConfiguration")
                    || code == "InvalidRequest"
                    || code == "ObjectLockConfigurationNotFoundError"
                {
                    return Ok(None);
                }
                match self.error(key, err) {
                    StoreError::NotFound { .. } => Ok(None),
                    other => Err(other),
                }
            }
        }
    }

    /// Fails unless the bucket has Object Lock enabled.
    pub async fn check_object_lock(&self) -> Result<(), StoreError> {
        let not_enabled = || StoreError::ObjectLockDisabled {
            bucket: self.bucket.clone(),
        };
        match self
            .client
            .get_object_lock_configuration()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(response) => {
                let enabled = response
                    .object_lock_configuration()
                    .and_then(|c| c.object_lock_enabled())
                    == Some(&ObjectLockEnabled::Enabled);
                if enabled { Ok(()) } else { Err(not_enabled()) }
            }
            Err(err) => {
                let code = err.as_service_error().and_then(|e| e.code()).unwrap_or("");
                if code.contains("ObjectLockConfigurationNotFound") {
                    Err(not_enabled())
                } else {
                    Err(self.error("", err))
                }
            }
        }
    }
}

fn content_md5(bytes: &[u8]) -> String {
    BASE64.encode(Md5::digest(bytes))
}

fn lock_mode(mode: LockMode) -> ObjectLockMode {
    match mode {
        LockMode::Governance => ObjectLockMode::Governance,
        LockMode::Compliance => ObjectLockMode::Compliance,
    }
}

fn retain_until(retention: &Retention) -> aws_sdk_s3::primitives::DateTime {
    aws_sdk_s3::primitives::DateTime::from_secs(retention.until.as_second())
}

/// The error and its sources on one line: the SDK's top-level messages ("dispatch failure")
/// say little on their own.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What a listing of object versions showed of one key.
#[derive(Default)]
struct VersionsSeen {
    /// (last modified, listing position, version id, size) of each object version.
    versions: Vec<(i128, usize, Option<String>, u64)>,
    markers: Vec<String>,
    hidden: bool,
}

impl VersionsSeen {
    /// The key as routevault reads it: at its oldest version, the one routevault wrote
    /// (create-only), with the newer versions and delete markers counted. None when only
    /// delete markers remain.
    fn committed(self, key: String) -> Option<ObjectInfo> {
        // S3 lists a key's versions newest first, so on equal timestamps the later position
        // is the older one.
        let committed = self
            .versions
            .iter()
            .min_by_key(|(modified, position, ..)| (*modified, usize::MAX - position))?;
        // "null" is the version id of objects written while versioning was off.
        let version = committed.2.clone().filter(|v| v != "null");
        let mut all_versions: Vec<String> =
            self.versions.iter().filter_map(|v| v.2.clone()).collect();
        all_versions.extend(self.markers.iter().cloned());
        Some(ObjectInfo {
            key,
            size: committed.3,
            version,
            newer_versions: self.versions.len() - 1,
            hidden: self.hidden,
            all_versions,
        })
    }
}

fn env_endpoint(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
