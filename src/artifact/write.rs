//! Writes artifacts. Objects stream in one at a time; memory holds only the manifest entries.
//!
//! Members are written as ustar headers by hand (not with `tar::Builder`) because the archive is
//! assembled from separately compressed parts: the object members are compressed into a body
//! file as they arrive, and `finish` writes the final artifact as three concatenated zstd frames
//! — the manifest member, the body, and the end-of-archive blocks — so the manifest comes first
//! without holding objects in memory. A zstd decoder reads concatenated frames as one stream.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::format::{self, Entry, Manifest};
use crate::object::Object;

/// A tar block.
const BLOCK: usize = 512;

pub struct ArtifactWriter {
    /// Unlinked from the start (O_TMPFILE where the filesystem has it): never visible on disk.
    body: zstd::Encoder<'static, BufWriter<File>>,
    entries: Vec<Entry>,
    level: i32,
    work_dir: std::path::PathBuf,
}

/// A finished artifact in a temporary file, with its digest. The file is named
/// (the store uploads it by path) and removed when this drops, or on a signal.
pub struct FinishedArtifact {
    pub file: NamedTempFile,
    _registered: crate::cleanup::Registered,
    pub sha256: [u8; 32],
    pub size: u64,
}

/// The input each zstd worker compresses at a time (see `ArtifactWriter::new`).
const ZSTD_JOB_SIZE: u32 = 1 << 20;

impl ArtifactWriter {
    /// Starts an artifact whose temporary files live in `work_dir` (same filesystem as where
    /// it will be stored is best, but not required). `level` is the zstd level.
    pub fn new(work_dir: &Path, level: i32) -> io::Result<Self> {
        let body_file = tempfile::tempfile_in(work_dir)?;
        let mut body = zstd::Encoder::new(BufWriter::new(body_file), level)?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        if threads > 1 {
            body.multithread(threads)?;
            // Each worker's job is 4x the window by default (8 MiB at level 3), and the
            // buffers of all jobs made up about 50 MB of a snapshot's peak memory; 1 MiB jobs
            // keep both cores busy and cost a fraction of a percent of compression.
            body.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB_SIZE))?;
        }
        Ok(Self {
            body,
            entries: Vec::new(),
            level,
            work_dir: work_dir.into(),
        })
    }

    /// Adds one object as YAML. `sealed` records whether its Secret data is sealed, and
    /// `value_digests` the sealed values' keyed digests.
    pub fn add_object(
        &mut self,
        object: &Object,
        sealed: bool,
        value_digests: std::collections::BTreeMap<String, String>,
    ) -> io::Result<&Entry> {
        let text = crate::yaml::to_string(&object.0);
        let path = format::object_path(self.entries.len() + 1);
        write_member(&mut self.body, &path, text.as_bytes())?;
        self.entries.push(Entry {
            api_version: object.api_version().to_string(),
            kind: object.kind().to_string(),
            namespace: object.namespace().map(str::to_string),
            name: object.name().to_string(),
            path,
            size: text.len() as u64,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            sealed,
            value_digests,
        });
        Ok(self.entries.last().expect("just pushed"))
    }

    /// Writes the final artifact: `manifest` (its entries replaced by the ones written) first,
    /// then the objects.
    pub fn finish(self, mut manifest: Manifest) -> io::Result<FinishedArtifact> {
        manifest.entries = self.entries;
        let mut body = self
            .body
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        body.flush()?;
        let body_file = &mut body;
        body_file.seek(io::SeekFrom::Start(0))?;

        let out = NamedTempFile::new_in(&self.work_dir)?;
        let registered = crate::cleanup::register(out.path());
        let mut hashing = HashingWriter {
            inner: BufWriter::new(out),
            hasher: Sha256::new(),
            size: 0,
        };

        let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
        let mut head = zstd::Encoder::new(&mut hashing, self.level)?;
        write_member(&mut head, format::MANIFEST_PATH, &manifest_bytes)?;
        head.finish()?;

        io::copy(body_file, &mut hashing)?;

        let mut tail = zstd::Encoder::new(&mut hashing, self.level)?;
        tail.write_all(&[0u8; 2 * BLOCK])?;
        tail.finish()?;

        let HashingWriter {
            inner,
            hasher,
            size,
        } = hashing;
        let file = inner.into_inner().map_err(|e| e.into_error())?;
        file.as_file().sync_all()?;
        Ok(FinishedArtifact {
            _registered: registered,
            file,
            sha256: hasher.finalize().into(),
            size,
        })
    }
}

/// Writes one regular-file tar member (header, data, padding).
pub fn write_member(out: &mut impl Write, path: &str, data: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    out.write_all(header.as_bytes())?;
    out.write_all(data)?;
    let padding = (BLOCK - data.len() % BLOCK) % BLOCK;
    out.write_all(&[0u8; BLOCK][..padding])
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 and size of a file, read in one pass.
pub fn digest_file(file: &mut File) -> io::Result<([u8; 32], u64)> {
    file.seek(io::SeekFrom::Start(0))?;
    let mut hashing = HashingWriter {
        inner: io::sink(),
        hasher: Sha256::new(),
        size: 0,
    };
    io::copy(file, &mut hashing)?;
    file.seek(io::SeekFrom::Start(0))?;
    Ok((hashing.hasher.finalize().into(), hashing.size))
}
