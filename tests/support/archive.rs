//! Builds artifacts byte by byte, including hostile ones the real writer would never make, and
//! signs them with a trusted test key, so that only the reader's own checks can stop them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use routevault::artifact::format::{FORMAT_NAME, FORMAT_VERSION, ToolInfo};
use routevault::artifact::{Entry, Manifest, SourceInfo};
use routevault::select::{SecretsMode, Selection};
use sha2::{Digest, Sha256};

pub enum Member {
    /// A regular file with this raw path (written into the header as is, unchecked).
    File {
        path: Vec<u8>,
        data: Vec<u8>,
    },
    Symlink {
        path: Vec<u8>,
        target: Vec<u8>,
    },
}

pub fn manifest(env: &str, id: &str, entries: Vec<Entry>) -> Manifest {
    Manifest {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        id: id.into(),
        env: env.into(),
        created: "2026-11-26T00:00:00Z".into(),
        tool: ToolInfo {
            name: "routevault".into(),
            version: "test".into(),
        },
        source: SourceInfo {
            kind: "dir".into(),
            ..Default::default()
        },
        build_id: None,
        labels: BTreeMap::new(),
        selection: Selection::default(),
        secrets: SecretsMode::Skip,
        sealing: None,
        previous: None,
        warnings: vec![],
        skipped: BTreeMap::new(),
        entries,
    }
}

/// A manifest entry describing `data` at `path` as a Namespace called `name`.
pub fn entry(path: &str, name: &str, data: &[u8]) -> Entry {
    Entry {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.into(),
        path: path.into(),
        size: data.len() as u64,
        sha256: hex::encode(Sha256::digest(data)),
        sealed: false,
        value_digests: Default::default(),
    }
}

pub fn namespace_yaml(name: &str) -> Vec<u8> {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n").into_bytes()
}

fn header(path: &[u8], size: u64, kind: tar::EntryType, link: &[u8]) -> [u8; 512] {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(kind);
    {
        let bytes = header.as_mut_bytes();
        bytes[..100].fill(0);
        bytes[..path.len()].copy_from_slice(path);
        bytes[157..257].fill(0);
        bytes[157..157 + link.len()].copy_from_slice(link);
    }
    header.set_cksum();
    *header.as_bytes()
}

/// A tar stream (manifest first, then `members`), zstd-compressed.
pub fn build(manifest: &Manifest, members: &[Member]) -> Vec<u8> {
    let manifest = serde_json::to_vec(manifest).unwrap();
    build_with_first(b"manifest.json", &manifest, manifest.len() as u64, members)
}

/// A tar stream whose first member is `path` holding `data` under a header that declares
/// `declared` bytes, then `members`, zstd-compressed. A first member that declares more than
/// it holds ends the stream right after its data (a truncated archive).
pub fn build_with_first(path: &[u8], data: &[u8], declared: u64, members: &[Member]) -> Vec<u8> {
    let mut tar = Vec::new();
    let file = |tar: &mut Vec<u8>, path: &[u8], data: &[u8]| {
        tar.extend_from_slice(&header(
            path,
            data.len() as u64,
            tar::EntryType::Regular,
            b"",
        ));
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    };
    if declared > data.len() as u64 {
        tar.extend_from_slice(&header(path, declared, tar::EntryType::Regular, b""));
        tar.extend_from_slice(data);
        return compress(&tar);
    }
    file(&mut tar, path, data);
    for member in members {
        match member {
            Member::File { path, data } => file(&mut tar, path, data),
            Member::Symlink { path, target } => {
                tar.extend_from_slice(&header(path, 0, tar::EntryType::Symlink, target))
            }
        }
    }
    tar.extend_from_slice(&[0u8; 1024]);
    compress(&tar)
}

fn compress(tar: &[u8]) -> Vec<u8> {
    let mut encoder = zstd::Encoder::new(Vec::new(), 3).unwrap();
    encoder.write_all(tar).unwrap();
    encoder.finish().unwrap()
}

/// Stores `artifact` as snapshot `env/id` in a local store folder, signed by `sign_key`.
pub fn store_signed(store: &Path, env: &str, id: &str, artifact: &[u8], sign_key: &Path) {
    let key = routevault::sign::load_signing_key(sign_key).unwrap();
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    let signature = routevault::sign::sign_artifact(
        &key,
        env,
        id,
        &digest,
        artifact.len() as u64,
        "2026-11-26T00:00:00Z",
    );
    std::fs::create_dir_all(store.join(env)).unwrap();
    std::fs::write(store.join(env).join(format!("{id}.tar.zst")), artifact).unwrap();
    std::fs::write(
        store.join(env).join(format!("{id}.tar.zst.sig")),
        signature.to_bytes(),
    )
    .unwrap();
}

/// One object member and its entry, for any identity (the identity is written as given,
/// unchecked, so hostile ones can be made): `(member, entry)`.
pub fn object(
    index: usize,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    body: &str,
) -> (Member, Entry) {
    let path = format!("objects/{index:06}.yaml");
    let metadata = match namespace {
        Some(ns) => format!("  name: {name:?}\n  namespace: {ns:?}\n"),
        None => format!("  name: {name:?}\n"),
    };
    let data = format!("apiVersion: {api_version:?}\nkind: {kind:?}\nmetadata:\n{metadata}{body}")
        .into_bytes();
    let entry = Entry {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(Into::into),
        name: name.into(),
        path: path.clone(),
        size: data.len() as u64,
        sha256: hex::encode(Sha256::digest(&data)),
        sealed: false,
        value_digests: Default::default(),
    };
    (
        Member::File {
            path: path.into_bytes(),
            data,
        },
        entry,
    )
}
