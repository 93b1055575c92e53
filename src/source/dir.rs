//! Reads a folder of manifests: `*.yaml`, `*.yml` and `*.json`, recursively, in path order;
//! multi-document files and `kind: List` are expanded. Hidden files and folders (`.git`) are
//! skipped. Every error names the file and the document number. A snapshot reads the folder
//! through [`capture`], which holds one file at a time and never holds Secrets.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::catalog::CORE;
use crate::convert::Converted;
use crate::normalize::{allocation_warning, normalize};
use crate::object::{Object, SharedNames, is_valid_name, is_valid_namespace};
use crate::select::{self, Captured, SecretsMode, Selection, Sorted};
use crate::spool::{Slot, Spool, SpoolReader};
use crate::yaml;

#[derive(Debug, Error)]
pub enum DirError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}; fix or remove the file")]
    Parse {
        path: PathBuf,
        source: yaml::YamlError,
    },
    #[error("{path} document {document}: {reason}")]
    Invalid {
        path: PathBuf,
        document: usize,
        reason: String,
    },
    #[error("{object} is defined twice: in {first} and in {second}; keep one")]
    Duplicate {
        object: String,
        first: String,
        second: String,
    },
    #[error("{path} is not a folder of manifests")]
    NotAFolder { path: PathBuf },
}

/// What a folder held.
#[derive(Debug, Default)]
pub struct DirObjects {
    pub objects: Vec<Object>,
    pub files: usize,
    pub documents: usize,
    /// Objects converted from removed API versions, by file and document.
    pub warnings: Vec<String>,
}

/// The namespace given to namespaced objects that name none, as `kubectl apply` would with
/// a default context.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Reads every object of the folder, whole (tests and small folders; a snapshot streams
/// with [`capture`]).
pub fn read(root: &Path) -> Result<DirObjects, DirError> {
    let mut out = DirObjects::default();
    let walked = walk(root, |_, object| {
        out.objects.push(object);
        Ok(())
    })?;
    out.files = walked.files;
    out.documents = walked.documents;
    out.warnings = walked.warnings;
    Ok(out)
}

/// What walking a folder found besides its objects.
#[derive(Debug, Default)]
struct Walked {
    files: usize,
    documents: usize,
    warnings: Vec<String>,
}

/// Where an object was found: the file's index in path order and its document number.
#[derive(Debug, Clone, Copy)]
struct Found {
    file: usize,
    document: usize,
}

/// Hands every object of the folder to `visit` in path order, one file at a time, refusing
/// routing objects defined twice. Holds one file's objects and each routing object's identity
/// with where it was found, never the folder.
fn walk(
    root: &Path,
    mut visit: impl FnMut(Found, Object) -> Result<(), DirError>,
) -> Result<Walked, DirError> {
    let files = manifest_files(root)?;
    let mut walked = Walked::default();
    let mut seen: HashMap<[u8; 16], Found> = HashMap::new();
    for (file, path) in files.iter().enumerate() {
        walked.files += 1;
        let parsed = parse_file(path, &read_text(path)?)?;
        walked.documents += parsed.documents;
        walked.warnings.extend(parsed.warnings);
        for (document, object) in parsed.objects {
            let here = Found { file, document };
            if object.catalog_kind().is_some()
                && let Some(first) = seen.insert(identity_digest(&object), here)
            {
                let at =
                    |f: Found| format!("{} (document {})", files[f.file].display(), f.document);
                return Err(DirError::Duplicate {
                    object: object.object_ref().to_string(),
                    first: at(first),
                    second: at(here),
                });
            }
            visit(here, object)?;
        }
    }
    Ok(walked)
}

/// What the duplicate check keeps of each routing object of a folder: a digest of its
/// identity (128 bits of SHA-256, a collision beyond reach), not four owned strings — at
/// 300,000 objects the identities were the largest thing a folder's capture held.
fn identity_digest(object: &Object) -> [u8; 16] {
    let mut hasher = Sha256::new();
    // Each part with its length, and whether there is a namespace, so no two identities
    // spell the same bytes.
    hasher.update([u8::from(object.namespace().is_some())]);
    for part in [
        object.group(),
        object.kind(),
        object.namespace().unwrap_or_default(),
        object.name(),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// The folder's manifest files, in path order.
fn manifest_files(root: &Path) -> Result<Vec<PathBuf>, DirError> {
    if !root.is_dir() {
        return Err(DirError::NotAFolder { path: root.into() });
    }
    let mut files = Vec::new();
    collect_files(root, &mut files)?;
    files.sort();
    Ok(files)
}

fn read_text(path: &Path) -> Result<String, DirError> {
    fs::read_to_string(path).map_err(|source| DirError::Read {
        path: path.into(),
        source,
    })
}

/// What a snapshot of a folder found besides the objects.
#[derive(Debug, Default)]
pub struct DirCapture {
    pub warnings: Vec<String>,
    pub skipped: BTreeMap<String, usize>,
}

/// How much Secret data (estimated as `restore::memory_cost` does) a folder's capture holds
/// while selection decides; Secrets beyond it are read again from their files instead. Most
/// folders (a build's manifests) fit and are read once; a huge one costs a second parse of
/// the files holding Secrets, not memory.
pub const SECRETS_HELD_BYTES: u64 = 32 << 20;

/// What the held Secrets and selection's own bookkeeping (an estimate per object met) may
/// take together: as a folder grows, its held Secrets are let go, newest first, so that a
/// folder of a few thousand objects is still read once and one of 300,000 holds none.
const CAPTURE_HELD_BYTES: u64 = 48 << 20;

/// Selection's bookkeeping per object met, as measured at 302,000 objects (identity, spool
/// slot, references, duplicate check; docs/performance.md).
const BOOKKEEPING_PER_OBJECT: u64 = 280;

/// A Secret met on the first pass: where it is, and the object while it is held. One per
/// Secret of the folder, so the held object is boxed: the list stays small where most are
/// in files.
struct FoundSecret {
    key: SecretKey,
    file: usize,
    held: Option<Box<Object>>,
}

/// A Secret's namespace (shared by every Secret of the namespace) and name.
type SecretKey = (Arc<str>, Box<str>);

/// The Secrets met on a folder's first pass, and which of them are held.
struct SecretsMet {
    found: Vec<FoundSecret>,
    namespaces: SharedNames,
    /// The held ones (index into `found`, cost), oldest first, to let go newest first.
    held: Vec<(usize, u64)>,
    held_bytes: u64,
    /// At most this much held, however small the folder.
    cap: u64,
    objects_met: u64,
}

impl SecretsMet {
    fn new(cap: u64) -> Self {
        Self {
            found: Vec::new(),
            namespaces: SharedNames::default(),
            held: Vec::new(),
            held_bytes: 0,
            cap,
            objects_met: 0,
        }
    }

    /// What may be held now, after the bookkeeping of the objects met so far.
    fn limit(&self) -> u64 {
        let bookkeeping = self.objects_met.saturating_mul(BOOKKEEPING_PER_OBJECT);
        self.cap.min(CAPTURE_HELD_BYTES.saturating_sub(bookkeeping))
    }

    /// Counts an object met, and lets held Secrets go while they are over the limit.
    fn count_object(&mut self) {
        self.objects_met += 1;
        while self.held_bytes > self.limit()
            && let Some((index, cost)) = self.held.pop()
        {
            self.found[index].held = None;
            self.held_bytes -= cost;
        }
    }

    /// Notes a Secret found in `file`, holding it if it fits.
    fn meet(&mut self, file: usize, secret: Object) {
        let key = (
            self.namespaces.get(secret.namespace().unwrap_or_default()),
            secret.name().into(),
        );
        let cost = crate::restore::memory_cost(&secret.0);
        let held = (self.held_bytes.saturating_add(cost) <= self.limit()).then(|| {
            self.held.push((self.found.len(), cost));
            self.held_bytes += cost;
            Box::new(secret)
        });
        self.found.push(FoundSecret { key, file, held });
    }
}

/// Reads the folder as a snapshot captures it: selected (`select`'s rules) and normalised,
/// handed to `sink` in restore order, Secrets in their tier. Memory does not grow with the
/// folder: routing objects wait in a spool file as the cluster capture's do, and Secrets are
/// held only up to [`SECRETS_HELD_BYTES`], less as the folder grows ([`CAPTURE_HELD_BYTES`])
/// — past it, the first pass notes where each one is, and once selection has decided which
/// ones routing references, only the files holding those are read again. Secrets are never
/// written to the spool.
pub fn capture(
    root: &Path,
    selection: &Selection,
    secrets: SecretsMode,
    sink: &mut dyn FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<DirCapture> {
    capture_holding(root, selection, secrets, SECRETS_HELD_BYTES, sink)
}

/// [`capture`] holding at most `secrets_held` bytes of Secrets (less in a big folder).
pub fn capture_holding(
    root: &Path,
    selection: &Selection,
    secrets: SecretsMode,
    secrets_held: u64,
    sink: &mut dyn FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<DirCapture> {
    let mut sorted: Sorted<Slot> = Sorted::default();
    let mut spool = Spool::new().context("creating a temporary file for the capture")?;
    let mut met = SecretsMet::new(secrets_held);
    let walked = walk(root, |found, object| {
        met.count_object();
        if object.group() == CORE && object.kind() == "Secret" {
            met.meet(found.file, object);
            return Ok(());
        }
        sorted.add(object, selection, |object| {
            spool.put(&object).map_err(|source| DirError::Read {
                path: "the capture's temporary file".into(),
                source,
            })
        })
    })?;
    let spool = spool
        .finish()
        .context("writing the capture's temporary file")?;
    // Borrowed from the Secrets met: a second owned copy of every key cost more than the list.
    let found_secrets = met.found;
    let existing: HashSet<(&str, &str)> = found_secrets
        .iter()
        .map(|f| (&*f.key.0, &*f.key.1))
        .collect();
    let exists = |namespace: &str, name: &str| existing.contains(&(namespace, name));
    let mut plan = select::plan_sorted(sorted, selection, secrets, Some(&exists));
    drop(existing);
    let mut warnings = Vec::new();
    let mut emit = |object: Object, warnings: &mut Vec<String>| {
        warnings.extend(allocation_warning(&object));
        sink(normalize(object))
    };
    // In restore order, so the tiers before Secrets are a prefix: no second list.
    let mut objects = std::mem::take(&mut plan.objects).into_iter().peekable();
    while let Some(captured) = objects.next_if(|c| c.tier() < select::SECRET_TIER) {
        emit(read_back(&spool, captured)?, &mut warnings)?;
    }
    let captured_secrets = secrets_of(root, &mut plan, found_secrets, &mut |secret| {
        emit(secret, &mut warnings)
    })?;
    for captured in objects {
        emit(read_back(&spool, captured)?, &mut warnings)?;
    }
    plan.finish(captured_secrets.unreferenced);
    // As a reader meets them: conversions while reading, selection, then the objects'.
    let mut all = walked.warnings;
    all.extend(plan.warnings);
    all.extend(warnings);
    Ok(DirCapture {
        warnings: all,
        skipped: plan.skipped,
    })
}

fn read_back(spool: &SpoolReader, captured: Captured<Slot>) -> anyhow::Result<Object> {
    match captured {
        Captured::Object(object) => Ok(object),
        Captured::Held(identity, slot) => spool
            .get(slot)
            .with_context(|| format!("reading {identity} back from the capture's temporary file")),
    }
}

#[derive(Default)]
struct CapturedSecrets {
    unreferenced: usize,
}

/// The Secrets the plan wants: those held, then those read again from the files that hold
/// them, one file at a time.
fn secrets_of(
    root: &Path,
    plan: &mut select::Plan<Slot>,
    found: Vec<FoundSecret>,
    sink: &mut dyn FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<CapturedSecrets> {
    let mut out = CapturedSecrets::default();
    let mut wanted: BTreeMap<usize, BTreeSet<SecretKey>> = BTreeMap::new();
    for FoundSecret { key, file, held } in found {
        if !plan.wants_secret(&key.0, &key.1) {
            out.unreferenced += 1;
            continue;
        }
        match held {
            Some(secret) => {
                if plan.accepts_secret(&secret) {
                    sink(*secret)?;
                }
            }
            None => {
                wanted.entry(file).or_default().insert(key);
            }
        }
    }
    if wanted.is_empty() {
        return Ok(out);
    }
    let files = manifest_files(root)?;
    for (file, mut keys) in wanted {
        let path = files.get(file).ok_or_else(|| changed(root))?;
        for (_, secret) in parse_file(path, &read_text(path)?)?.objects {
            let key: SecretKey = (
                secret.namespace().unwrap_or_default().into(),
                secret.name().into(),
            );
            if !(secret.group() == CORE && secret.kind() == "Secret" && keys.remove(&key)) {
                continue;
            }
            if plan.accepts_secret(&secret) {
                sink(secret)?;
            }
        }
        if !keys.is_empty() {
            return Err(changed(root));
        }
    }
    Ok(out)
}

fn changed(root: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{} changed while it was read (a file or a Secret in it is gone); nothing was stored: \
         snapshot it again once it is still",
        root.display()
    )
}

/// The objects of one manifest file, each with the number of the document it came from.
pub struct ParsedFile {
    pub documents: usize,
    pub objects: Vec<(usize, Object)>,
    pub warnings: Vec<String>,
}

/// Parses one file's text (JSON when `path` ends in .json, else multi-document YAML, `kind:
/// List` expanded) and checks each object. Pure: the fuzz target `manifest_file` drives it.
pub fn parse_file(path: &Path, text: &str) -> Result<ParsedFile, DirError> {
    let documents = if path.extension().is_some_and(|e| e == "json") {
        let value: Value = serde_json::from_str(text).map_err(|e| DirError::Parse {
            path: path.into(),
            source: yaml::YamlError::Parse {
                document: 1,
                message: e.to_string(),
            },
        })?;
        vec![(1, value)]
    } else {
        yaml::parse_documents(text).map_err(|source| DirError::Parse {
            path: path.into(),
            source,
        })?
    };
    let mut parsed = ParsedFile {
        documents: documents.len(),
        objects: Vec::new(),
        warnings: Vec::new(),
    };
    for (number, value) in documents {
        for object in expand(value, path, number)? {
            let mut object = check(object, path, number)?;
            match crate::convert::convert(&mut object) {
                Ok(Converted::Current) => {}
                Ok(Converted::Converted(warning)) => parsed
                    .warnings
                    .push(format!("{} document {number}: {warning}", path.display())),
                Err(reason) => {
                    return Err(DirError::Invalid {
                        path: path.into(),
                        document: number,
                        reason,
                    });
                }
            }
            parsed.objects.push((number, object));
        }
    }
    Ok(parsed)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DirError> {
    let entries = fs::read_dir(dir).map_err(|source| DirError::Read {
        path: dir.into(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| DirError::Read {
            path: dir.into(),
            source,
        })?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
    Ok(())
}

/// A document is one object, or a `kind: List` of them.
fn expand(value: Value, path: &Path, document: usize) -> Result<Vec<Object>, DirError> {
    let invalid = |reason: &str| DirError::Invalid {
        path: path.into(),
        document,
        reason: reason.into(),
    };
    if !value.is_object() {
        return Err(invalid(
            "is not a Kubernetes object (a mapping with apiVersion and kind)",
        ));
    }
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "List" || (kind.ends_with("List") && value.get("items").is_some()) {
        let items = value
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("a List without items"))?;
        return Ok(items.iter().cloned().map(Object).collect());
    }
    Ok(vec![Object(value)])
}

fn check(object: Object, path: &Path, document: usize) -> Result<Object, DirError> {
    let invalid = |reason: String| DirError::Invalid {
        path: path.into(),
        document,
        reason,
    };
    if object.api_version().is_empty() || object.kind().is_empty() {
        return Err(invalid(
            "is not a Kubernetes object: it has no apiVersion or kind; move it out of the folder"
                .into(),
        ));
    }
    let Some(info) = object.catalog_kind() else {
        return Ok(object); // not routing: counted as skipped later, not checked further
    };
    let name = object.name().to_string();
    if !is_valid_name(&name) {
        return Err(invalid(format!(
            "{} has an invalid or missing metadata.name {name:?}",
            object.kind()
        )));
    }
    let mut object = object;
    if info.namespaced {
        match object.namespace() {
            None => object.set_namespace(DEFAULT_NAMESPACE),
            Some(ns) if !is_valid_namespace(ns) => {
                return Err(invalid(format!(
                    "{} {name} has an invalid metadata.namespace {ns:?}",
                    object.kind()
                )));
            }
            Some(_) => {}
        }
    } else if object.namespace().is_some() {
        object.metadata_mut().remove("namespace");
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_nested_multi_document_lists_and_json() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        );
        write(
            dir.path(),
            "sub/b.yml",
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}\n",
        );
        write(
            dir.path(),
            "sub/c.json",
            r#"{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx", "namespace": "x"}}"#,
        );
        write(dir.path(), ".git/config.yaml", "not: [valid");
        write(dir.path(), "README.md", "# not a manifest");
        let out = read(dir.path()).unwrap();
        assert_eq!(out.files, 3);
        let refs: Vec<_> = out
            .objects
            .iter()
            .map(|o| o.object_ref().to_string())
            .collect();
        assert_eq!(
            refs,
            vec![
                "Service default/web",
                "apps/Deployment web",
                "Namespace shop",
                "networking.k8s.io/IngressClass nginx"
            ]
        );
    }

    #[test]
    fn errors_name_the_file_and_document() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "bad.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nkind: [broken\n",
        );
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("bad.yaml") && err.contains("document 2"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x.yaml", "a: 1\n---\nb: 2\n");
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("x.yaml document 1") && err.contains("no apiVersion"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "n.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: ../evil}\n",
        );
        assert!(
            read(dir.path())
                .unwrap_err()
                .to_string()
                .contains("invalid or missing metadata.name")
        );
    }

    #[test]
    fn duplicates_name_both_places() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: s}\n",
        );
        write(
            dir.path(),
            "b.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: s}\n",
        );
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("a.yaml") && err.contains("b.yaml") && err.contains("Service s/web"),
            "{err}"
        );
    }

    #[test]
    fn identity_digests_tell_every_identity_apart() {
        let object = |api: &str, kind: &str, namespace: Option<&str>, name: &str| {
            let mut value = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
            if let Some(ns) = namespace {
                value["metadata"]["namespace"] = json!(ns);
            }
            Object(value)
        };
        let identities = [
            object("v1", "Service", Some("shop"), "web"),
            object("v1", "Service", Some("sho"), "pweb"),
            object("v1", "Service", Some("shop"), "web2"),
            object("v1", "Secret", Some("shop"), "web"),
            object("networking.k8s.io/v1", "Service", Some("shop"), "web"),
            object("v1", "Namespace", None, "shop"),
            object("v1", "Namespace", Some(""), "shop"),
            object("v1", "Namespace", None, "sho"),
        ];
        let digests: Vec<[u8; 16]> = identities.iter().map(identity_digest).collect();
        // The empty namespace is no namespace (as `Object::namespace` reads it): the same.
        assert_eq!(digests[5], digests[6]);
        let distinct: HashSet<[u8; 16]> = digests.iter().copied().collect();
        assert_eq!(distinct.len(), digests.len() - 1, "{digests:?}");
        // Another version of the same kind is the same object.
        assert_eq!(
            identity_digest(&object(
                "networking.k8s.io/v1beta1",
                "Service",
                Some("shop"),
                "web"
            )),
            digests[4]
        );
    }

    #[test]
    fn held_secrets_are_let_go_newest_first_as_the_folder_grows() {
        let secret = |name: &str| {
            Object(
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "namespace": "shop"}, "data": {"k": "dmFsdWU="}}),
            )
        };
        let cost = crate::restore::memory_cost(&secret("a").0);
        let held = |met: &SecretsMet| -> Vec<bool> {
            met.found.iter().map(|f| f.held.is_some()).collect()
        };
        // A cap of two and a half: the third does not fit.
        let mut met = SecretsMet::new(2 * cost + cost / 2);
        for (file, name) in ["a", "b", "c"].into_iter().enumerate() {
            met.count_object();
            met.meet(file, secret(name));
        }
        assert_eq!(held(&met), [true, true, false]);
        assert_eq!(met.found[2].file, 2);
        // Bookkeeping that leaves room for one and a half: the newest held one goes.
        met.objects_met = (CAPTURE_HELD_BYTES - cost - cost / 2) / BOOKKEEPING_PER_OBJECT;
        met.count_object();
        assert_eq!(held(&met), [true, false, false]);
        assert_eq!(met.held_bytes, cost);
        // A folder big enough holds none, and holds no Secret met after.
        met.objects_met = CAPTURE_HELD_BYTES / BOOKKEEPING_PER_OBJECT;
        met.count_object();
        met.meet(3, secret("d"));
        assert_eq!(held(&met), [false; 4]);
        assert_eq!((met.held_bytes, met.held.len()), (0, 0));
        assert_eq!(&*met.found[3].key.0, "shop");
    }

    fn captured(dir: &Path, secrets: SecretsMode, held: u64) -> (Vec<Object>, DirCapture) {
        let mut objects = Vec::new();
        let capture = capture_holding(dir, &Selection::default(), secrets, held, &mut |o| {
            objects.push(o);
            Ok(())
        })
        .unwrap();
        (objects, capture)
    }

    /// The streamed capture chooses, normalises, warns and counts exactly as selecting the
    /// whole folder at once does, on every scenario of the repository — with every Secret
    /// held, with none held (each read again from its file), and with some of each.
    #[test]
    fn capture_matches_selecting_the_whole_folder_on_every_scenario() {
        let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut compared = 0;
        for entry in fs::read_dir(&scenarios).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let modes = [
                (SecretsMode::Sealed, SECRETS_HELD_BYTES),
                (SecretsMode::Sealed, 0),
                (SecretsMode::Sealed, 6000),
                (SecretsMode::Skip, 0),
            ];
            for (secrets, held) in modes {
                let whole = read(&dir).unwrap();
                let selected = select::select(whole.objects, &Selection::default(), secrets);
                let mut expected: Vec<Object> =
                    selected.objects.iter().cloned().map(normalize).collect();
                expected.sort_by_key(Object::object_ref);
                let (mut streamed, capture) = captured(&dir, secrets, held);
                // Restore order: tiers never go backwards.
                let tiers: Vec<usize> = streamed
                    .iter()
                    .map(|o| select::tier_of(o.group(), o.kind()))
                    .collect();
                assert!(tiers.is_sorted(), "{}: {tiers:?}", dir.display());
                streamed.sort_by_key(Object::object_ref);
                assert_eq!(streamed, expected, "{}", dir.display());
                assert_eq!(capture.skipped, selected.skipped, "{}", dir.display());
                let mut warnings = whole.warnings;
                warnings.extend(selected.warnings);
                warnings.extend(selected.objects.iter().filter_map(allocation_warning));
                assert_eq!(capture.warnings, warnings, "{}", dir.display());
            }
            compared += 1;
        }
        assert!(compared >= 4, "only {compared} scenarios found");
    }

    fn routing_with_secrets(dir: &Path) {
        write(
            dir,
            "ingress.yaml",
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n\
             spec:\n  tls: [{hosts: [a.example], secretName: web-tls}]\n  rules: [{host: a.example}]\n",
        );
        write(
            dir,
            "secrets.yaml",
            "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {name: web-tls, namespace: shop}\n\
             data: {tls.crt: Q0VSVA==, tls.key: S0VZ}\n---\n\
             apiVersion: v1\nkind: Secret\ntype: Opaque\nmetadata: {name: db-password, namespace: shop}\n\
             data: {password: aHVudGVyMg==}\n",
        );
    }

    #[test]
    fn capture_keeps_only_referenced_secrets() {
        let dir = tempfile::tempdir().unwrap();
        routing_with_secrets(dir.path());
        let (objects, capture) = captured(dir.path(), SecretsMode::Sealed, 0);
        let refs: Vec<String> = objects.iter().map(|o| o.object_ref().to_string()).collect();
        assert_eq!(
            refs,
            vec![
                "Namespace shop",
                "Secret shop/web-tls",
                "networking.k8s.io/Ingress shop/web"
            ]
        );
        assert_eq!(
            capture
                .skipped
                .get("Secret not referenced by captured routing (data minimisation)"),
            Some(&1),
            "{:?}",
            capture.skipped
        );
    }

    /// A Secret gone from its file between the two passes (the folder changed while it was read)
    /// fails the capture, naming the folder, rather than storing routing without its Secret.
    #[test]
    fn a_folder_changed_while_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        routing_with_secrets(dir.path());
        let secrets = dir.path().join("secrets.yaml");
        let err = capture_holding(
            dir.path(),
            &Selection::default(),
            SecretsMode::Sealed,
            0,
            &mut |_| {
                fs::write(
                    &secrets,
                    "apiVersion: v1\nkind: Secret\nmetadata: {name: other, namespace: shop}\n",
                )
                .unwrap();
                Ok(())
            },
        )
        .unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("changed while it was read"), "{message}");
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
    }
}
