//! Restore to a folder: one YAML file per object, laid out so that `kubectl apply -R -f DIR`
//! applies them in restore order: `NN-<plural>/<namespace>/<name>.yaml`, or
//! `NN-<plural>/<name>.yaml` for cluster-scoped kinds, where NN is the restore tier.
//!
//! Nothing is visible until everything is written: files go to a staging folder beside the
//! target, which is renamed into place at the end. The target must not exist or be empty:
//! routevault never overwrites. Secret files are mode 0600.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use thiserror::Error;

use crate::object::{Object, is_valid_name, is_valid_namespace};

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("{object} has a name or namespace that cannot be a file name")]
    BadName { object: String },
    #[error("{object} is not a routing kind; nothing is written for it")]
    NotRouting { object: String },
    #[error("{} exists and is not empty; restore writes only into a new or empty folder", .0.display())]
    NotEmpty(PathBuf),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} would be written twice: two objects map to one file name", .0.display())]
    Duplicate(PathBuf),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RenderError {
    let path = path.to_path_buf();
    move |source| RenderError::Io { what, path, source }
}

/// The file an object is written to, relative to the output folder.
pub fn relative_path(object: &Object) -> Result<PathBuf, RenderError> {
    let name = object.name();
    if !is_valid_name(name) || !object.namespace().is_none_or(is_valid_namespace) {
        return Err(RenderError::BadName {
            object: object.object_ref().to_string(),
        });
    }
    // Folder names come from the catalog only, never from the object's own kind text.
    let Some(info) = object.catalog_kind() else {
        return Err(RenderError::NotRouting {
            object: object.object_ref().to_string(),
        });
    };
    let folder = format!("{:02}-{}", info.tier, info.plural);
    let mut path = PathBuf::from(folder);
    if let Some(ns) = object.namespace() {
        path.push(ns);
    }
    path.push(format!("{name}.yaml"));
    Ok(path)
}

/// Refuses a target that exists and is not an empty folder: restore never overwrites.
/// Changes nothing, so `--dry-run` checks the target too.
pub fn check_target(target: &Path) -> Result<(), RenderError> {
    if target.exists() {
        let empty = target.is_dir()
            && fs::read_dir(target)
                .map_err(io("reading", target))?
                .next()
                .is_none();
        if !empty {
            return Err(RenderError::NotEmpty(target.to_path_buf()));
        }
    }
    Ok(())
}

pub struct DirRenderer {
    target: PathBuf,
    staging: TempDir,
    _registered: crate::cleanup::Registered,
}

impl DirRenderer {
    /// Prepares to write into `target`, which must not exist or must be an empty folder.
    pub fn new(target: &Path) -> Result<Self, RenderError> {
        check_target(target)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(io("creating", &parent))?;
        // tempfile makes the folder 0700: plaintext Secret files inside are the owner's alone
        // until the commit, and the folder is removed when the renderer is dropped (any error).
        let (staging, registered) = crate::cleanup::create_registered(
            || {
                tempfile::Builder::new()
                    .prefix(".routevault-restore-")
                    .tempdir_in(&parent)
            },
            |staging| staging.path(),
        )
        .map_err(io("creating a staging folder in", &parent))?;
        Ok(Self {
            target: target.into(),
            staging,
            _registered: registered,
        })
    }

    pub fn write(&mut self, object: &Object) -> Result<(), RenderError> {
        let relative = relative_path(object)?;
        // No new file may appear in the staging folder once a signal has removed it.
        let _writing = crate::cleanup::writing();
        let path = self.staging.path().join(&relative);
        let folder = path.parent().expect("has a folder");
        fs::create_dir_all(folder).map_err(io("creating", folder))?;
        let secret = object.kind() == "Secret" && object.group().is_empty();
        let text = crate::yaml::to_string(&object.0);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if secret { 0o600 } else { 0o644 })
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => RenderError::Duplicate(relative.clone()),
                _ => io("writing", &relative)(e),
            })?;
        file.write_all(text.as_bytes())
            .map_err(io("writing", &relative))?;
        Ok(())
    }

    /// Moves the finished folder into place.
    pub fn commit(self) -> Result<PathBuf, RenderError> {
        if self.target.exists() {
            fs::remove_dir(&self.target).map_err(io("replacing the empty folder", &self.target))?;
        }
        // Permissions first, while the staging folder still removes itself on failure.
        fs::set_permissions(self.staging.path(), fs::Permissions::from_mode(0o755))
            .map_err(io("setting the permissions of", self.staging.path()))?;
        if let Err(e) = fs::rename(self.staging.path(), &self.target) {
            // `self.staging` drops here and removes the files (unsealed Secrets included).
            return Err(io("moving the restored files into", &self.target)(e));
        }
        // Renamed away: nothing is left at the staging path for the guard to remove.
        let _ = self.staging.keep();
        Ok(self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_follow_tiers() {
        let ns =
            Object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}));
        let ing = Object(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"}}),
        );
        assert_eq!(
            relative_path(&ns).unwrap(),
            PathBuf::from("00-namespaces/shop.yaml")
        );
        assert_eq!(
            relative_path(&ing).unwrap(),
            PathBuf::from("10-ingresses/shop/web.yaml")
        );
        let evil = Object(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "..", "namespace": "shop"}}),
        );
        assert!(relative_path(&evil).is_err());
        let traversal = Object(
            json!({"apiVersion": "v1", "kind": "x/../../../../outside", "metadata": {"name": "a", "namespace": "shop"}}),
        );
        assert!(relative_path(&traversal).is_err());
    }

    #[test]
    fn nothing_is_visible_until_commit_and_non_empty_targets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut r = DirRenderer::new(&target).unwrap();
        r.write(&Object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t", "namespace": "s"}}))).unwrap();
        assert!(!target.exists());
        r.commit().unwrap();
        let secret = target.join("03-secrets/s/t.yaml");
        assert_eq!(
            fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(DirRenderer::new(&target).is_err());

        let dropped = dir.path().join("dropped");
        let mut r = DirRenderer::new(&dropped).unwrap();
        r.write(&Object(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "s"}}),
        ))
        .unwrap();
        drop(r);
        assert!(!dropped.exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "staging folder left behind"
        );
    }
}
