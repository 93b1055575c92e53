//! Writes artifacts. Objects stream in one at a time and memory holds none of them, nor their
//! manifest entries: each entry is written as a line of JSON to an unlinked file as its object
//! arrives, and `finish` streams those lines into the manifest's `entries` array.
//!
//! Members are written as ustar headers by hand (not with `tar::Builder`) because the archive is
//! assembled from separately compressed parts: the object members are compressed into a body
//! file as they arrive, and `finish` writes the final artifact as three concatenated zstd frames
//! — the manifest member, the body, and the end-of-archive blocks — so the manifest comes first
//! without holding objects in memory. A zstd decoder reads concatenated frames as one stream.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::format::{self, Entry, Manifest};
use crate::growing::{Appender, Follower};
use crate::object::Object;

/// A tar block.
const BLOCK: usize = 512;

pub struct ArtifactWriter {
    /// Unlinked from the start (O_TMPFILE where the filesystem has it): never visible on disk.
    /// Its compressed bytes can be followed as they are written (`follow_body`).
    body: zstd::Encoder<'static, BufWriter<Appender>>,
    /// The entries so far, one JSON object per line, each line starting with the separator
    /// that goes before it in the array; unlinked like the body.
    entries: BufWriter<File>,
    entries_bytes: u64,
    count: usize,
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
    /// Where the body (the bytes a [`ArtifactWriter::follow_body`] follower saw) begins in
    /// the file: after the manifest's frame. The body ends before the end-of-archive frame.
    pub body_offset: u64,
}

/// The input each zstd worker compresses at a time (see `ArtifactWriter::new`).
const ZSTD_JOB_SIZE: u32 = 1 << 20;

impl ArtifactWriter {
    /// Starts an artifact whose temporary files live in `work_dir` (same filesystem as where
    /// it will be stored is best, but not required). `level` is the zstd level.
    pub fn new(work_dir: &Path, level: i32) -> io::Result<Self> {
        let body_file = tempfile::tempfile_in(work_dir)?;
        let mut body = zstd::Encoder::new(BufWriter::new(Appender::new(body_file)), level)?;
        compress_on_every_core(&mut body)?;
        Ok(Self {
            body,
            entries: BufWriter::new(tempfile::tempfile_in(work_dir)?),
            entries_bytes: 0,
            count: 0,
            level,
            work_dir: work_dir.into(),
        })
    }

    /// Follows the compressed body as it is written, for an upload that sends it in parts
    /// before the artifact is finished. Once `finish` has run, the body is in the finished
    /// file from `body_offset` on, byte for byte.
    pub fn follow_body(&mut self) -> io::Result<Follower> {
        self.body.get_mut().get_mut().follow()
    }

    /// Adds one object as YAML. `sealed` records whether its Secret data is sealed, and
    /// `value_digests` the sealed values' keyed digests.
    pub fn add_object(
        &mut self,
        object: &Object,
        sealed: bool,
        value_digests: std::collections::BTreeMap<String, String>,
    ) -> io::Result<()> {
        let text = crate::yaml::to_string(&object.0);
        self.count += 1;
        let path = format::object_path(self.count);
        write_member(&mut self.body, &path, text.as_bytes())?;
        let entry = Entry {
            api_version: object.api_version().to_string(),
            kind: object.kind().to_string(),
            namespace: object.namespace().map(str::to_string),
            name: object.name().to_string(),
            path,
            size: text.len() as u64,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            sealed,
            value_digests,
        };
        let mut line = Vec::with_capacity(256);
        line.extend_from_slice(if self.count == 1 {
            b"\n    "
        } else {
            b",\n    "
        });
        serde_json::to_writer(&mut line, &entry).map_err(io::Error::other)?;
        self.entries.write_all(&line)?;
        self.entries_bytes += line.len() as u64;
        Ok(())
    }

    /// Writes the final artifact: `manifest` (its entries replaced by the ones written) first,
    /// then the objects.
    pub fn finish(self, mut manifest: Manifest) -> io::Result<FinishedArtifact> {
        manifest.entries = Vec::new();
        let (head, tail) = manifest_around_entries(&manifest)?;
        let mut entries = self.entries.into_inner().map_err(|e| e.into_error())?;
        entries.seek(io::SeekFrom::Start(0))?;
        let manifest_size = (head.len() + tail.len()) as u64 + self.entries_bytes;

        // Dropping the appender (`into_file`) tells a follower the body is complete.
        let mut body = self
            .body
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?
            .into_file();
        body.flush()?;
        let body_file = &mut body;
        body_file.seek(io::SeekFrom::Start(0))?;

        let (out, registered) = crate::cleanup::create_registered(
            || NamedTempFile::new_in(&self.work_dir),
            |out| out.path(),
        )?;
        let mut hashing = HashingWriter {
            inner: BufWriter::new(out),
            hasher: Sha256::new(),
            size: 0,
        };

        let mut first = zstd::Encoder::new(&mut hashing, self.level)?;
        // The manifest is compressed after every object is in, while nothing else runs: 28 MB
        // of it at 100k objects, on every core.
        compress_on_every_core(&mut first)?;
        write_header(&mut first, format::MANIFEST_PATH, manifest_size)?;
        first.write_all(&head)?;
        let copied = io::copy(
            &mut io::BufReader::new(entries).take(self.entries_bytes),
            &mut first,
        )?;
        if copied != self.entries_bytes {
            return Err(io::Error::other(
                "the manifest's entries file is shorter than written",
            ));
        }
        first.write_all(&tail)?;
        write_padding(&mut first, manifest_size)?;
        first.finish()?;
        let body_offset = hashing.size;

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
            body_offset,
        })
    }
}

/// Compresses on a worker per core. Each worker's job is 4x the window by default (8 MiB at
/// level 3), and the buffers of all jobs made up about 50 MB of a snapshot's peak memory; 1 MiB
/// jobs keep both cores busy and cost a fraction of a percent of compression.
fn compress_on_every_core<W: Write>(encoder: &mut zstd::Encoder<'_, W>) -> io::Result<()> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    if threads > 1 {
        encoder.multithread(threads)?;
        encoder.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB_SIZE))?;
    }
    Ok(())
}

/// The pretty-printed manifest without its entries, split where they go: `entries` is its
/// last field, so the text ends with `"entries": []` and the closing brace.
fn manifest_around_entries(manifest: &Manifest) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut text = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    const EMPTY: &[u8] = b"\"entries\": []\n}";
    if !text.ends_with(EMPTY) {
        return Err(io::Error::other(
            "the manifest does not end with its entries",
        ));
    }
    // Keep the opening bracket; the entries and `tail` follow it.
    text.truncate(text.len() - "]\n}".len());
    Ok((text, b"\n  ]\n}".to_vec()))
}

/// Writes one regular-file tar member (header, data, padding).
pub fn write_member(out: &mut impl Write, path: &str, data: &[u8]) -> io::Result<()> {
    write_header(out, path, data.len() as u64)?;
    out.write_all(data)?;
    write_padding(out, data.len() as u64)
}

/// The header of a regular-file tar member of `size` bytes.
fn write_header(out: &mut impl Write, path: &str, size: u64) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    out.write_all(header.as_bytes())
}

/// The zeros that fill a member of `size` bytes to a whole block.
fn write_padding(out: &mut impl Write, size: u64) -> io::Result<()> {
    let padding = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;

    use super::*;
    use crate::artifact::read::{Verification, VerifiedArtifact};
    use crate::select::{SecretsMode, Selection};

    const ID: &str = "20261127T000000.000Z-abcdef";

    fn manifest() -> Manifest {
        Manifest {
            format: format::FORMAT_NAME.into(),
            format_version: format::FORMAT_VERSION,
            id: ID.into(),
            env: "prod".into(),
            created: "2026-11-27T00:00:00Z".into(),
            tool: format::ToolInfo {
                name: "routevault".into(),
                version: "test".into(),
            },
            source: format::SourceInfo {
                kind: "dir".into(),
                ..Default::default()
            },
            build_id: Some("build-7".into()),
            labels: BTreeMap::from([("team".into(), "edge".into())]),
            selection: Selection::default(),
            secrets: SecretsMode::Plaintext,
            sealing: None,
            previous: None,
            warnings: vec!["a warning".into()],
            skipped: BTreeMap::new(),
            entries: Vec::new(),
        }
    }

    fn service(namespace: &str, name: &str) -> Object {
        Object(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": [{"port": 80}]}
        }))
    }

    /// The manifest member of a finished artifact, as text.
    fn manifest_text(finished: &FinishedArtifact) -> String {
        let file = File::open(finished.file.path()).unwrap();
        let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
        let mut first = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(&*first.path_bytes(), format::MANIFEST_PATH.as_bytes());
        let mut text = String::new();
        first.read_to_string(&mut text).unwrap();
        text
    }

    /// Opens a finished artifact as a reader does, every member checked (the signature is the
    /// store's concern, not the writer's).
    fn open(finished: &FinishedArtifact) -> VerifiedArtifact {
        VerifiedArtifact::open(
            File::open(finished.file.path()).unwrap(),
            Verification::Skip,
            "prod",
            ID,
            crate::artifact::Limits::default(),
            "prod/test",
        )
        .unwrap()
    }

    /// The finished artifact lives in the returned folder.
    fn write(objects: &[Object]) -> (FinishedArtifact, Vec<Entry>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = ArtifactWriter::new(dir.path(), 3).unwrap();
        let mut expected = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            let digests = BTreeMap::from([("k".to_string(), format!("{i:064x}"))]);
            writer.add_object(object, true, digests.clone()).unwrap();
            let text = crate::yaml::to_string(&object.0);
            expected.push(Entry {
                api_version: "v1".into(),
                kind: "Service".into(),
                namespace: object.namespace().map(str::to_string),
                name: object.name().into(),
                path: format::object_path(i + 1),
                size: text.len() as u64,
                sha256: hex::encode(Sha256::digest(text.as_bytes())),
                sealed: true,
                value_digests: digests,
            });
        }
        (writer.finish(manifest()).unwrap(), expected, dir)
    }

    #[test]
    fn streamed_entries_make_the_manifest_serde_would_have_written() {
        for count in [0, 1, 3] {
            let objects: Vec<Object> = (0..count)
                .map(|i| service(&format!("ns-{}", i % 2), &format!("web-{i}")))
                .collect();
            let (finished, expected, _dir) = write(&objects);
            let text = manifest_text(&finished);
            let parsed: Manifest = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{count} entries: {e}\n{text}"));
            let mut want = manifest();
            want.entries = expected;
            assert_eq!(parsed, want, "{count} entries");
            // One entry per line, so that the member reads well and streams.
            let entry_lines = text.lines().filter(|l| l.contains("\"sha256\"")).count();
            assert_eq!(entry_lines, count);

            let opened = open(&finished);
            assert_eq!(
                opened.manifest.entries.iter().collect::<Vec<_>>(),
                want.entries
            );
            assert_eq!(opened.check_all().unwrap(), count);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_followed_body_is_the_finished_file_from_body_offset_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = ArtifactWriter::new(dir.path(), 3).unwrap();
        let mut follower = writer.follow_body().unwrap();
        for i in 0..3_000 {
            let object = service(&format!("ns-{}", i % 40), &format!("web-{i}"));
            writer.add_object(&object, false, BTreeMap::new()).unwrap();
        }
        assert!(
            follower.wait_for(1).await,
            "nothing of the body reached its file before finishing"
        );
        let finished = writer.finish(manifest()).unwrap();
        assert!(!follower.wait_for(u64::MAX).await, "the body never ended");
        let body_file = follower.file().unwrap();
        let body_len = body_file.metadata().unwrap().len();
        assert!(follower.wait_for(body_len).await);
        let body = crate::growing::read_range(&body_file, 0, body_len as usize).unwrap();
        let whole = std::fs::read(finished.file.path()).unwrap();
        let at = finished.body_offset as usize;
        assert!(at > 0, "the manifest's frame comes first");
        assert_eq!(&whole[at..at + body.len()], &body[..]);
        // After the body: only the end-of-archive frame, a few bytes.
        let tail = whole.len() - at - body.len();
        assert!((1..64).contains(&tail), "{tail} bytes after the body");
    }

    #[test]
    fn an_artifact_of_many_objects_opens_with_every_entry_in_place() {
        let objects: Vec<Object> = (0..2_500)
            .map(|i| service(&format!("ns-{}", i % 40), &format!("web-{i}")))
            .collect();
        let (finished, expected, _dir) = write(&objects);
        let opened = open(&finished);
        assert_eq!(opened.manifest.entries.len(), expected.len());
        let mut visited = 0;
        opened
            .for_each_object(|entry, object| {
                assert_eq!(entry, &expected[visited]);
                assert_eq!(object, objects[visited]);
                visited += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(visited, objects.len());
    }
}
