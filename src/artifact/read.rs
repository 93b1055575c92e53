//! Opens artifacts. Nothing is read from an artifact before its signature verifies (unless
//! the caller explicitly skips verification); then every member is checked: regular files
//! only, safe relative paths, declared in the manifest exactly once, matching size and
//! SHA-256, and the whole stream is capped in unpacked size against zstd bombs.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::rc::Rc;

use sha2::{Digest, Sha256};

use super::OpenedManifest;
use super::format::{self, Entry};
use super::write::digest_file;
use crate::error::VerifyError;
use crate::object::Object;
use crate::sign::{KeyId, SignatureFile, TrustSet};

/// Size limits for reading artifacts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The compressed artifact.
    pub max_artifact_bytes: u64,
    /// Everything the artifact unpacks to, headers included.
    pub max_unpacked_bytes: u64,
}

/// The default of `--max-artifact-bytes`.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 4 << 30;
/// The default of `--max-unpacked-bytes`: above the biggest routing estates measured (302,000
/// objects with 100,000 distinct TLS Secrets unpack to about 700 MB; 228,000 objects already
/// passed the former 256 MiB, so a big estate's own snapshots were refused by default), far
/// below what would exhaust a machine: members are streamed, so this bounds the time a zstd
/// bomb can cost, not memory. The memory a restore holds is bounded separately
/// (`restore::DEFAULT_MAX_OBJECT_MEMORY`).
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// One object member: the API server stores objects of at most 1.5 MiB (etcd's request
/// limit), so a bigger member is not a Kubernetes object. Read one at a time, this is what
/// `verify` holds in memory.
pub const MAX_OBJECT_MEMBER_BYTES: u64 = 2 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES,
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
        }
    }
}

/// An artifact whose signature verified (or whose verification was explicitly skipped) and
/// whose manifest parsed and checked out.
pub struct VerifiedArtifact {
    file: File,
    pub manifest: OpenedManifest,
    /// The key that signed it; None when verification was skipped.
    pub signer: Option<KeyId>,
    pub sha256: [u8; 32],
    pub size: u64,
    what: String,
    limits: Limits,
}

/// How to check the signature.
pub enum Verification<'a> {
    Signed {
        signature: &'a SignatureFile,
        trust: &'a TrustSet,
        /// When the store received the signature, for keys retired with `not-after`.
        stored_at: Option<jiff::Timestamp>,
    },
    /// `--insecure-skip-verify`: the caller has warned the user.
    Skip,
}

impl VerifiedArtifact {
    /// Verifies `file` against its signature, then reads and checks the manifest. `env` and
    /// `id` are what the caller asked for; `what` names the snapshot in errors.
    pub fn open(
        mut file: File,
        verification: Verification<'_>,
        env: &str,
        id: &str,
        limits: Limits,
        what: &str,
    ) -> Result<Self, VerifyError> {
        let malformed = |reason: String| VerifyError::Malformed {
            what: what.into(),
            reason,
        };
        let size = file.metadata().map_err(|e| malformed(e.to_string()))?.len();
        if size > limits.max_artifact_bytes {
            return Err(VerifyError::TooLarge {
                what: what.into(),
                limit: limits.max_artifact_bytes,
            });
        }
        let (sha256, hashed) = digest_file(&mut file).map_err(|e| malformed(e.to_string()))?;
        let signer = match verification {
            Verification::Signed {
                signature,
                trust,
                stored_at,
            } => Some(signature.verify(trust, env, id, &sha256, hashed, stored_at, what)?),
            Verification::Skip => None,
        };

        let manifest = {
            let (mut archive, capped) = open_stream(&file, limits, what)?;
            let mut members = Members::new(&mut archive, capped, limits, what)?;
            // Parsed straight from the tar stream, each entry into the compact form as it
            // comes: the manifest lists every object, and neither its text nor its parsed
            // entries are held whole.
            let (_, manifest) = members
                .next_member_with(Cap::Manifest, |path, _, member| {
                    if path != format::MANIFEST_PATH {
                        return Err(MemberRead::Refused(format!(
                            "first member is {path:?}, not {}",
                            format::MANIFEST_PATH
                        )));
                    }
                    serde_json::from_reader::<_, OpenedManifest>(io::BufReader::new(member))
                        .map_err(MemberRead::Parse)
                })?
                .ok_or_else(|| malformed("empty archive".into()))?;
            manifest
        };
        check_manifest(&manifest, env, id, what)?;
        Ok(Self {
            file,
            manifest,
            signer,
            sha256,
            size,
            what: what.into(),
            limits,
        })
    }

    /// Reads every object member in order, checks its bytes against the manifest, decodes it,
    /// checks that it is the object its entry names and that it passes the catalog rules
    /// (`validate`), and hands it to `visit`. Fails on the first bad member; `visit` has then
    /// seen only members that checked out.
    pub fn for_each_object(
        &self,
        mut visit: impl FnMut(&Entry, Object) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.for_each_object_where(None, |_, entry, object| visit(entry, object))
    }

    /// As [`Self::for_each_object`], with each member's index in the manifest. With `wanted`,
    /// only the members it accepts are decoded and visited: for a consumer that read the whole
    /// artifact without it first (a restore reads one tier at a time). Every member's bytes
    /// are still checked against the manifest, but the check that needs every object
    /// (ConfigMaps referenced) is left to that first read.
    // long: one pass over the members with each check in order; splitting it would scatter
    // the rules a member must pass
    pub fn for_each_object_where(
        &self,
        wanted: Option<&dyn Fn(usize) -> bool>,
        mut visit: impl FnMut(usize, &Entry, Object) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let what = self.what.as_str();
        let entries = &self.manifest.entries;
        let mut seen = vec![false; entries.len()];
        let mut unreferenced = UnreferencedConfigMaps::default();
        let (mut archive, capped) = open_stream(&self.file, self.limits, what)?;
        let mut members = Members::new(&mut archive, capped, self.limits, what)?;
        members.skip_manifest()?;
        while let Some((path, bytes)) = members.next_member(Cap::Object)? {
            let hostile = |reason: &str| VerifyError::HostileEntry {
                what: what.into(),
                path: path.clone(),
                reason: reason.into(),
            };
            let Some(index) = entries.position_of(&path) else {
                return Err(hostile("not declared in the manifest").into());
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(hostile("duplicate member").into());
            }
            if !entries.matches(index, bytes.len() as u64, &Sha256::digest(&bytes).into()) {
                return Err(VerifyError::DigestMismatch {
                    what: what.into(),
                    path,
                }
                .into());
            }
            if wanted.is_some_and(|wanted| !wanted(index)) {
                continue;
            }
            let entry = entries.get(index).expect("a position of the manifest");
            let object = decode(&entry, &bytes, what)?;
            if let Some(problem) = super::validate::object_problem(&object) {
                return Err(VerifyError::NotRouting {
                    what: what.into(),
                    path: path.clone(),
                    reason: format!("{}: {problem}", entry.describe()),
                }
                .into());
            }
            if wanted.is_none() {
                unreferenced.note(&object, &path);
            }
            visit(index, &entry, object)?;
        }
        if let Some((config_map, path)) = unreferenced.remaining() {
            return Err(VerifyError::NotRouting {
                what: what.into(),
                path,
                reason: format!(
                    "{config_map} is not referenced by any routing object of the artifact \
                     (routevault carries ConfigMaps only as the CA bundles routing names)"
                ),
            }
            .into());
        }
        if let Some(missing) = seen
            .iter()
            .position(|seen| !seen)
            .and_then(|i| entries.get(i))
        {
            return Err(VerifyError::Malformed {
                what: what.into(),
                reason: format!(
                    "entry {} ({}) is declared but missing (truncated artifact?)",
                    missing.path,
                    missing.describe()
                ),
            }
            .into());
        }
        Ok(())
    }

    /// Names the artifact in messages (`env/id`).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Checks every member without keeping anything: what `verify` runs.
    pub fn check_all(&self) -> anyhow::Result<usize> {
        let mut count = 0;
        self.for_each_object(|_, _| {
            count += 1;
            Ok(())
        })?;
        Ok(count)
    }
}

/// Decodes one member into an object and checks that it is what the manifest says it is.
pub fn decode(entry: &Entry, bytes: &[u8], what: &str) -> Result<Object, VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed {
        what: what.into(),
        reason,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| malformed(format!("{} is not UTF-8", entry.path)))?;
    let mut documents = crate::yaml::parse_documents(text)
        .map_err(|e| malformed(format!("{}: {e}", entry.path)))?;
    if documents.len() != 1 {
        return Err(malformed(format!(
            "{} holds {} documents, not one",
            entry.path,
            documents.len()
        )));
    }
    let object = Object(documents.remove(0).1);
    let matches = object.api_version() == entry.api_version
        && object.kind() == entry.kind
        && object.name() == entry.name
        && object.namespace() == entry.namespace.as_deref();
    if !matches {
        return Err(malformed(format!(
            "{} is not the object its manifest entry names ({})",
            entry.path,
            entry.describe()
        )));
    }
    Ok(object)
}

fn check_manifest(
    manifest: &OpenedManifest,
    env: &str,
    id: &str,
    what: &str,
) -> Result<(), VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed {
        what: what.into(),
        reason,
    };
    if manifest.format != format::FORMAT_NAME {
        return Err(malformed(format!("unknown format {:?}", manifest.format)));
    }
    if !format::READABLE_VERSIONS.contains(&manifest.format_version) {
        return Err(malformed(format!(
            "format version {} is not supported by this routevault (reads {:?}); upgrade routevault",
            manifest.format_version,
            format::READABLE_VERSIONS
        )));
    }
    if manifest.format_version < 2 && manifest.entries.any_value_digests() {
        return Err(malformed(
            "a version 1 manifest carries value digests, a version 2 field".into(),
        ));
    }
    if manifest.format_version < 3 && manifest.source.addressed_ingress_classes.is_some() {
        return Err(malformed(format!(
            "a version {} manifest carries source.addressed_ingress_classes, a version 3 field",
            manifest.format_version
        )));
    }
    if manifest.env != env || manifest.id != id {
        return Err(malformed(format!(
            "manifest names {}/{}, not {env}/{id} (renamed artifact)",
            manifest.env, manifest.id
        )));
    }
    for (position, entry) in manifest.entries.iter().enumerate() {
        if let Some(reason) = format::unsafe_path_reason(entry.path.as_bytes()) {
            return Err(VerifyError::HostileEntry {
                what: what.into(),
                path: entry.path.clone(),
                reason: reason.into(),
            });
        }
        // Every path leads back to its own entry unless an earlier entry declared it too.
        if !entry.path.starts_with(format::OBJECTS_DIR)
            || manifest.entries.position_of(&entry.path) != Some(position)
        {
            return Err(VerifyError::HostileEntry {
                what: what.into(),
                path: entry.path.clone(),
                reason: "declared twice or outside objects/".into(),
            });
        }
        // Their form (64 lowercase hex digits) was checked as they were parsed.
        if !entry.value_digests.is_empty() && !entry.sealed {
            return Err(VerifyError::HostileEntry {
                what: what.into(),
                path: entry.path.clone(),
                reason: "value digests on an entry that is not sealed".into(),
            });
        }
        if let Some(problem) =
            super::validate::entry_problem(&entry, manifest.selection.include_system)
        {
            return Err(VerifyError::NotRouting {
                what: what.into(),
                path: entry.path.clone(),
                reason: problem,
            });
        }
    }
    Ok(())
}

type Stream = CappedReader<zstd::Decoder<'static, io::BufReader<File>>>;

/// A tar reader over the capped, decompressed artifact, and the flag that says whether the
/// cap was hit.
fn open_stream(
    file: &File,
    limits: Limits,
    what: &str,
) -> Result<(tar::Archive<Stream>, Rc<Cell<bool>>), VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed {
        what: what.into(),
        reason,
    };
    let mut file = file.try_clone().map_err(|e| malformed(e.to_string()))?;
    file.seek(io::SeekFrom::Start(0))
        .map_err(|e| malformed(e.to_string()))?;
    let decoder = zstd::Decoder::new(file).map_err(|e| malformed(format!("not zstd: {e}")))?;
    let capped = Rc::new(Cell::new(false));
    let reader = CappedReader {
        inner: decoder,
        remaining: limits.max_unpacked_bytes,
        hit: capped.clone(),
    };
    Ok((tar::Archive::new(reader), capped))
}

/// Which limit a member is read under.
#[derive(Clone, Copy)]
enum Cap {
    /// The manifest: up to the whole unpacked limit (it lists every object).
    Manifest,
    /// An object: at most [`MAX_OBJECT_MEMBER_BYTES`].
    Object,
}

/// Walks tar members, rejecting anything that is not a regular file with a safe path.
struct Members<'a> {
    entries: tar::Entries<'a, Stream>,
    capped: Rc<Cell<bool>>,
    what: &'a str,
    limits: Limits,
}

impl<'a> Members<'a> {
    fn new(
        archive: &'a mut tar::Archive<Stream>,
        capped: Rc<Cell<bool>>,
        limits: Limits,
        what: &'a str,
    ) -> Result<Self, VerifyError> {
        let entries = archive.entries().map_err(|e| VerifyError::Malformed {
            what: what.into(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            entries,
            capped,
            what,
            limits,
        })
    }

    fn read_error(&self, e: io::Error) -> VerifyError {
        if self.capped.get() {
            VerifyError::TooLarge {
                what: self.what.into(),
                limit: self.limits.max_unpacked_bytes,
            }
        } else {
            VerifyError::Malformed {
                what: self.what.into(),
                reason: format!("corrupt archive: {e}"),
            }
        }
    }

    /// The next member's path and contents, or None at the end of the archive. Its declared
    /// size is checked against `cap` before anything is read.
    fn next_member(&mut self, cap: Cap) -> Result<Option<(String, Vec<u8>)>, VerifyError> {
        self.next_member_with(cap, |_, declared, member| {
            // The declared size is capped already; at most 1 MiB is reserved up front either
            // way, so a lying header costs nothing.
            let mut bytes = Vec::with_capacity(declared.min(1 << 20) as usize);
            member.read_to_end(&mut bytes).map_err(MemberRead::Io)?;
            Ok(bytes)
        })
    }

    /// Passes over the manifest (checked when the artifact was opened) without holding it.
    fn skip_manifest(&mut self) -> Result<(), VerifyError> {
        self.next_member_with(Cap::Manifest, |_, _, manifest| {
            io::copy(manifest, &mut io::sink()).map_err(MemberRead::Io)
        })?;
        Ok(())
    }

    /// The next member's path and what `read` made of its contents, or None at the end of the
    /// archive. Its path, type and declared size (against `cap`) are checked before `read`
    /// sees anything, and `read` gets no more than the declared size; a member shorter than
    /// it declares is refused.
    fn next_member_with<T>(
        &mut self,
        cap: Cap,
        read: impl FnOnce(&str, u64, &mut dyn Read) -> Result<T, MemberRead>,
    ) -> Result<Option<(String, T)>, VerifyError> {
        let mut member = match self.entries.next() {
            None => return Ok(None),
            Some(Err(e)) => return Err(self.read_error(e)),
            Some(Ok(member)) => member,
        };
        let raw_path = member.path_bytes().into_owned();
        let path = String::from_utf8_lossy(&raw_path).into_owned();
        let hostile = |reason: &str| VerifyError::HostileEntry {
            what: self.what.into(),
            path: path.clone(),
            reason: reason.into(),
        };
        if let Some(reason) = format::unsafe_path_reason(&raw_path) {
            return Err(hostile(reason));
        }
        let kind = member.header().entry_type();
        if kind != tar::EntryType::Regular {
            return Err(hostile(&format!(
                "not a regular file ({kind:?}): links, devices and folders are refused"
            )));
        }
        if member.link_name_bytes().is_some() {
            return Err(hostile("carries a link target"));
        }
        let size = member
            .header()
            .size()
            .map_err(|e| hostile(&e.to_string()))?;
        match cap {
            Cap::Manifest if size > self.limits.max_unpacked_bytes => {
                return Err(VerifyError::TooLarge {
                    what: self.what.into(),
                    limit: self.limits.max_unpacked_bytes,
                });
            }
            Cap::Object if size > MAX_OBJECT_MEMBER_BYTES.min(self.limits.max_unpacked_bytes) => {
                return Err(VerifyError::ObjectTooLarge {
                    what: self.what.into(),
                    path,
                    size,
                    limit: MAX_OBJECT_MEMBER_BYTES,
                });
            }
            _ => {}
        }
        let mut counted = Counted {
            inner: (&mut member).take(size),
            read: 0,
        };
        let result = match read(&path, size, &mut counted) {
            // A parse that fails on a member shorter than declared fails for its shortness:
            // read what is left of it to tell the two apart.
            Err(MemberRead::Parse(e)) if !e.is_io() => {
                match io::copy(&mut counted, &mut io::sink()) {
                    Ok(_) => Err(MemberRead::Parse(e)),
                    Err(io_error) => Err(MemberRead::Io(io_error)),
                }
            }
            other => other,
        };
        match result {
            Ok(_) | Err(MemberRead::Parse(_)) if counted.read < size && !self.capped.get() => {
                Err(self.truncated(&path))
            }
            Ok(value) => Ok(Some((path, value))),
            Err(failure) => Err(self.member_error(&path, failure)),
        }
    }

    fn truncated(&self, path: &str) -> VerifyError {
        VerifyError::Malformed {
            what: self.what.into(),
            reason: format!("member {path} is truncated"),
        }
    }

    fn member_error(&self, path: &str, failure: MemberRead) -> VerifyError {
        match failure {
            MemberRead::Io(e) => self.read_error(e),
            MemberRead::Parse(_) if self.capped.get() => {
                self.read_error(io::Error::other("capped"))
            }
            MemberRead::Parse(e) if e.is_io() => self.read_error(e.into()),
            MemberRead::Parse(e) => VerifyError::Malformed {
                what: self.what.into(),
                reason: format!("{path} does not parse: {e}"),
            },
            MemberRead::Refused(reason) => VerifyError::Malformed {
                what: self.what.into(),
                reason,
            },
        }
    }
}

/// Why reading one member's contents failed.
enum MemberRead {
    Io(io::Error),
    Parse(serde_json::Error),
    /// The member is not what belongs here (the reason says what).
    Refused(String),
}

/// Counts the bytes read through it, so a member shorter than its header says is caught.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Fails reads once more than `remaining` bytes have come through, and says so in `hit`.
struct CappedReader<R> {
    inner: R,
    remaining: u64,
    hit: Rc<Cell<bool>>,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // Allow a clean end of stream at exactly the cap; anything more is over.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.hit.set(true);
                    Err(io::Error::other("unpacked size limit reached"))
                }
            };
        }
        let allowed = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..allowed])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// ConfigMaps are routing data only as what routing references (CA bundles): one that no
/// object of the artifact references is refused, so a signed artifact cannot plant arbitrary
/// configuration. Every consumer reads the whole artifact before writing or applying anything
/// (a restore outlines it first, then reads it again tier by tier), so the refusal at the end
/// of that read comes before anything is done.
#[derive(Default)]
struct UnreferencedConfigMaps {
    config_maps: std::collections::BTreeMap<(String, String), String>,
    referenced: std::collections::BTreeSet<(String, String)>,
    /// References from another namespace count only if a ReferenceGrant of the artifact
    /// allows them, as for a snapshot.
    cross_namespace: Vec<crate::select::CrossReference>,
    grants: Vec<Object>,
}

impl UnreferencedConfigMaps {
    fn note(&mut self, object: &Object, path: &str) {
        if object.group().is_empty() && object.kind() == "ConfigMap" {
            let key = (
                object.namespace().unwrap_or("").to_string(),
                object.name().to_string(),
            );
            self.config_maps.insert(key, path.to_string());
        }
        if object.group() == crate::catalog::GATEWAY && object.kind() == "ReferenceGrant" {
            self.grants.push(object.clone());
        }
        let refs = crate::select::References::of(std::slice::from_ref(object));
        self.referenced.extend(refs.config_maps.into_keys());
        self.cross_namespace.extend(
            refs.cross_namespace
                .into_iter()
                .filter(|r| r.to_kind == "ConfigMap"),
        );
    }

    /// The first ConfigMap nobody referenced, and its member path.
    fn remaining(&self) -> Option<(String, String)> {
        let granted: std::collections::BTreeSet<(String, String)> = self
            .cross_namespace
            .iter()
            .filter(|r| crate::select::granted(&self.grants, r))
            .map(|r| (r.namespace.clone(), r.name.clone()))
            .collect();
        self.config_maps
            .iter()
            .find(|(key, _)| !self.referenced.contains(*key) && !granted.contains(*key))
            .map(|((ns, name), path)| (format!("ConfigMap {ns}/{name}"), path.clone()))
    }
}
