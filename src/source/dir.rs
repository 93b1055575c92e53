//! Reads a folder of manifests: `*.yaml`, `*.yml` and `*.json`, recursively, in path order;
//! multi-document files and `kind: List` are expanded. Hidden files and folders (`.git`) are
//! skipped. Every error names the file and the document number.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use crate::convert::Converted;
use crate::object::{Object, ObjectRef, is_valid_name, is_valid_namespace};
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

pub fn read(root: &Path) -> Result<DirObjects, DirError> {
    if !root.is_dir() {
        return Err(DirError::NotAFolder { path: root.into() });
    }
    let mut files = Vec::new();
    collect_files(root, &mut files)?;
    files.sort();
    let mut out = DirObjects::default();
    let mut seen: HashMap<ObjectRef, String> = HashMap::new();
    for path in files {
        out.files += 1;
        let text = fs::read_to_string(&path).map_err(|source| DirError::Read {
            path: path.clone(),
            source,
        })?;
        let parsed = parse_file(&path, &text)?;
        out.documents += parsed.documents;
        out.warnings.extend(parsed.warnings);
        for (number, object) in parsed.objects {
            let here = format!("{} (document {number})", path.display());
            if object.catalog_kind().is_some()
                && let Some(first) = seen.insert(object.object_ref(), here.clone())
            {
                return Err(DirError::Duplicate {
                    object: object.object_ref().to_string(),
                    first,
                    second: here,
                });
            }
            out.objects.push(object);
        }
    }
    Ok(out)
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
}
