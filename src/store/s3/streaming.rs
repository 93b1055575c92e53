//! Uploading an artifact while it is written. S3 assembles a multipart upload by part number,
//! not by arrival order, so the artifact's compressed body goes up in parts as zstd writes it
//! (while the snapshot is still reading the cluster), and part 1 goes up last: the manifest's
//! frame, which exists only once every object is in, followed by the body's first
//! [`MIN_PART_SIZE`] bytes (every part but the last must be at least that big). The rest of
//! the body and the end-of-archive frame follow as the last parts.
//!
//! Nothing of it is visible until the upload is completed, create-only (`If-None-Match: *`)
//! like every write; an upload that fails or is abandoned is aborted (best effort: the
//! bucket's lifecycle rule for incomplete uploads removes what an unreachable store kept).
//! The artifact's digest, which the signature covers, is taken over the finished file; the
//! parts sent early are the same bytes (`ArtifactWriter::follow_body`).

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use aws_sdk_s3::types::CompletedPart;
use tokio::task::JoinHandle;

use super::{MIN_PART_SIZE, PartRange, S3Store, parts_of};
use crate::growing::Follower;
use crate::store::{Retention, StoreError};

/// An upload under way; [`finish`](Self::finish) it with the finished file, or
/// [`abort`](Self::abort) it.
pub struct StreamingUpload {
    store: S3Store,
    key: String,
    retention: Option<Retention>,
    /// Set once the multipart upload exists, so that `abort` can end it even while the body
    /// is still being sent.
    upload_id: Arc<OnceLock<String>>,
    body: JoinHandle<Result<Streamed, StoreError>>,
}

/// What went up while the body was written.
struct Streamed {
    /// Parts 2, 3, … in order.
    parts: Vec<CompletedPart>,
    /// The body before this offset is sent: its first `MIN_PART_SIZE` bytes go with part 1.
    sent_to: u64,
}

impl S3Store {
    /// Starts uploading `key` from a body still being written: full parts go up as `body`
    /// reaches them. The multipart upload is created only once the first one is ready, so an
    /// artifact smaller than that goes up as one PUT when finished.
    pub fn upload_while_written(
        &self,
        key: &str,
        retention: Option<&Retention>,
        body: Follower,
    ) -> StreamingUpload {
        let upload_id = Arc::new(OnceLock::new());
        let task = send_body(
            self.clone(),
            key.to_string(),
            retention.cloned(),
            body,
            upload_id.clone(),
        );
        StreamingUpload {
            store: self.clone(),
            key: key.to_string(),
            retention: retention.cloned(),
            upload_id,
            body: tokio::spawn(task),
        }
    }
}

/// Sends the body's full parts as the writer reaches them, until it ends.
async fn send_body(
    store: S3Store,
    key: String,
    retention: Option<Retention>,
    mut body: Follower,
    upload_id: Arc<OnceLock<String>>,
) -> Result<Streamed, StoreError> {
    let mut streamed = Streamed {
        parts: Vec::new(),
        sent_to: MIN_PART_SIZE,
    };
    let file = body.file().map_err(|source| StoreError::Io {
        location: store.location(&key),
        source,
    })?;
    let file = Arc::new(file);
    loop {
        let end = streamed.sent_to + store.part_size;
        // A part sent here is never the last one: the end-of-archive frame always follows
        // the body. Once the body is complete, what is left goes up with part 1, several
        // parts at once.
        if body.is_complete() || !body.wait_for(end).await {
            return Ok(streamed);
        }
        let id = match upload_id.get() {
            Some(id) => id.clone(),
            None => {
                let id = store.create_multipart(&key, retention.as_ref()).await?;
                upload_id.get_or_init(|| id).clone()
            }
        };
        let number = streamed.parts.len() as i32 + 2;
        let (bytes, md5) = store
            .read_part(&key, &file, streamed.sent_to, store.part_size)
            .await?;
        let part = store.upload_part(&key, &id, number, bytes, md5).await?;
        tracing::debug!(
            part = number,
            "artifact part uploaded while the snapshot is written"
        );
        streamed.parts.push(part);
        streamed.sent_to = end;
    }
}

impl StreamingUpload {
    /// Sends what is left of the finished artifact at `path`, whose body (the bytes the
    /// follower saw) starts at `body_offset`, and completes the upload. If no part went up
    /// while it was written, the file goes up as a finished file does.
    pub async fn finish(mut self, path: &Path, body_offset: u64) -> Result<(), StoreError> {
        let streamed = match self.body_result().await {
            Ok(streamed) => streamed,
            Err(e) => {
                self.abort_created().await;
                return Err(e);
            }
        };
        let Some(upload_id) = self.upload_id.get().cloned() else {
            return self
                .store
                .put_new_file(&self.key, path, self.retention.as_ref())
                .await;
        };
        let result = self
            .send_rest(&upload_id, streamed, path, body_offset)
            .await;
        if result.is_err() {
            self.store.abort_multipart(&self.key, &upload_id).await;
        }
        result
    }

    /// Abandons the upload: nothing of it becomes visible.
    pub async fn abort(mut self) {
        self.body.abort();
        let _ = (&mut self.body).await;
        self.abort_created().await;
    }

    async fn body_result(&mut self) -> Result<Streamed, StoreError> {
        (&mut self.body).await.map_err(|e| StoreError::Remote {
            location: self.store.location(&self.key),
            reason: format!("the upload of the artifact's body stopped: {e}"),
        })?
    }

    async fn abort_created(&self) {
        if let Some(upload_id) = self.upload_id.get() {
            self.store.abort_multipart(&self.key, upload_id).await;
        }
    }

    /// Part 1 (manifest frame and the body's start), the body from where the early parts
    /// stopped, and the end-of-archive frame; then the completion.
    async fn send_rest(
        &self,
        upload_id: &str,
        streamed: Streamed,
        path: &Path,
        body_offset: u64,
    ) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            location: self.store.location(&self.key),
            source,
        };
        let file = Arc::new(File::open(path).map_err(io)?);
        let size = file.metadata().map_err(io)?.len();
        let ranges = final_parts(
            body_offset,
            streamed.sent_to,
            streamed.parts.len(),
            size,
            self.store.part_size,
        );
        let mut parts = streamed.parts;
        let sent = self
            .store
            .send_parts(&self.key, upload_id, &file, ranges)
            .await?;
        parts.extend(sent);
        parts.sort_by_key(|part| part.part_number());
        self.store
            .complete_multipart(&self.key, upload_id, parts)
            .await
    }
}

/// The parts still to send once the artifact is finished: part 1 (the file up to the body's
/// first `MIN_PART_SIZE` bytes), then from where the `early` parts stopped (`sent_to`, an
/// offset in the body) to the end of the file in parts of `part_size`.
fn final_parts(
    body_offset: u64,
    sent_to: u64,
    early: usize,
    size: u64,
    part_size: u64,
) -> Vec<PartRange> {
    let mut ranges = vec![PartRange {
        number: 1,
        offset: 0,
        length: body_offset + MIN_PART_SIZE,
    }];
    ranges.extend(parts_of(
        early as i32 + 2,
        body_offset + sent_to,
        size,
        part_size,
    ));
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_final_parts_cover_the_file_once_and_only_the_last_is_small() {
        // Manifest frame 3 MiB; body 5 MiB (part 1) + two early 8 MiB parts + 10 MiB more;
        // end-of-archive frame 20 bytes.
        let body_offset = 3 * MIB;
        let sent_to = MIN_PART_SIZE + 2 * 8 * MIB;
        let size = body_offset + sent_to + 10 * MIB + 20;
        let ranges = final_parts(body_offset, sent_to, 2, size, 8 * MIB);
        assert_eq!(
            ranges,
            vec![
                PartRange {
                    number: 1,
                    offset: 0,
                    length: 3 * MIB + MIN_PART_SIZE
                },
                PartRange {
                    number: 4,
                    offset: body_offset + sent_to,
                    length: 8 * MIB
                },
                PartRange {
                    number: 5,
                    offset: body_offset + sent_to + 8 * MIB,
                    length: 2 * MIB + 20
                },
            ]
        );
        // Together with the early parts [body_offset + 5 MiB, body_offset + sent_to): every
        // byte once, in part-number order.
        let mut covered = vec![(0, body_offset + MIN_PART_SIZE)];
        covered.push((body_offset + MIN_PART_SIZE, body_offset + sent_to));
        covered.extend(ranges[1..].iter().map(|r| (r.offset, r.offset + r.length)));
        for pair in covered.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "gap or overlap in {covered:?}");
        }
        assert_eq!(covered.last().unwrap().1, size);
        for range in &ranges[..ranges.len() - 1] {
            assert!(range.length >= MIN_PART_SIZE, "{range:?} is too small");
        }
    }

    #[test]
    fn with_no_early_parts_the_rest_starts_after_part_one() {
        let ranges = final_parts(MIB, MIN_PART_SIZE, 0, MIB + MIN_PART_SIZE + 7, 16 * MIB);
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[1].number, 2);
        assert_eq!(ranges[1].offset, MIB + MIN_PART_SIZE);
        assert_eq!(ranges[1].length, 7);
    }
}
