//! The local-folder store: `<root>/<key>`. Create-only by construction: an object is written
//! to a temporary file beside its final name and linked into place with a no-clobber link, so
//! it appears whole or not at all and an existing object is never replaced. Stored files are
//! made read-only.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::{ObjectInfo, StoreError};

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn io(&self, key: &str) -> impl Fn(io::Error) -> StoreError + '_ {
        let location = self.location(key);
        move |source| StoreError::Io {
            location: location.clone(),
            source,
        }
    }

    fn put_new(
        &self,
        key: &str,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<(), StoreError> {
        let target = self.path(key);
        let io = self.io(key);
        if target.exists() {
            return Err(StoreError::AlreadyExists {
                location: self.location(key),
            });
        }
        let parent = target.parent().expect("keys always have a parent folder");
        fs::create_dir_all(parent).map_err(&io)?;
        // Registered so that a stop by signal does not leave the partial upload in the store.
        let (mut temp, _registered) = crate::cleanup::create_registered(
            || NamedTempFile::with_prefix_in(".routevault-upload-", parent),
            |temp| temp.path(),
        )
        .map_err(&io)?;
        write(temp.as_file_mut()).map_err(&io)?;
        temp.as_file().sync_all().map_err(&io)?;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o444))
            .map_err(&io)?;
        match temp.persist_noclobber(&target) {
            Ok(_) => {}
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StoreError::AlreadyExists {
                    location: self.location(key),
                });
            }
            Err(e) => return Err(io(e.error)),
        }
        File::open(parent).and_then(|d| d.sync_all()).map_err(&io)?;
        Ok(())
    }
}

/// The local store's side of `ObjectStore` (dispatched from `Store`). Retention is refused
/// before any put reaches here (`check_retention_supported`).
impl LocalStore {
    pub fn location(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    pub async fn put_new_file(
        &self,
        key: &str,
        source: &Path,
        _retention: Option<&super::Retention>,
    ) -> Result<(), StoreError> {
        let mut input = File::open(source).map_err(self.io(key))?;
        self.put_new(key, |out| io::copy(&mut input, out).map(|_| ()))
    }

    pub async fn put_new_bytes(
        &self,
        key: &str,
        bytes: &[u8],
        _retention: Option<&super::Retention>,
    ) -> Result<(), StoreError> {
        self.put_new(key, |out| out.write_all(bytes))
    }

    pub async fn get_to_file(
        &self,
        key: &str,
        _version: Option<&str>,
        dest: &mut File,
        max: u64,
    ) -> Result<u64, StoreError> {
        let mut input = self.open_checked(key, max)?;
        io::copy(&mut (&mut input).take(max), dest).map_err(self.io(key))
    }

    pub async fn get_bytes(
        &self,
        key: &str,
        _version: Option<&str>,
        max: u64,
    ) -> Result<Vec<u8>, StoreError> {
        Ok(self.get_bytes_stamped(key, None, max).await?.0)
    }

    /// A folder has no versions: `_version` is always None here (its listing gives none).
    pub async fn get_bytes_stamped(
        &self,
        key: &str,
        _version: Option<&str>,
        max: u64,
    ) -> Result<(Vec<u8>, jiff::Timestamp), StoreError> {
        let input = self.open_checked(key, max)?;
        let modified = input
            .metadata()
            .and_then(|m| m.modified())
            .map_err(self.io(key))?;
        let modified = jiff::Timestamp::try_from(modified).map_err(|e| {
            self.io(key)(io::Error::other(format!(
                "modification time out of range: {e}"
            )))
        })?;
        let mut bytes = Vec::new();
        input
            .take(max)
            .read_to_end(&mut bytes)
            .map_err(self.io(key))?;
        Ok((bytes, modified))
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = Vec::new();
        if !self.root.exists() {
            return Ok(out);
        }
        walk(&self.root, &self.root, &mut out).map_err(self.io(""))?;
        out.retain(|o| o.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    pub async fn delete(&self, key: &str, _version: Option<&str>) -> Result<(), StoreError> {
        match fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(self.io(key)(e)),
            _ => Ok(()),
        }
    }
}

impl LocalStore {
    fn open_checked(&self, key: &str, max: u64) -> Result<File, StoreError> {
        let file = match File::open(self.path(key)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    location: self.location(key),
                });
            }
            other => other.map_err(self.io(key))?,
        };
        let meta = file.metadata().map_err(self.io(key))?;
        if !meta.is_file() {
            return Err(StoreError::NotFound {
                location: self.location(key),
            });
        }
        if meta.len() > max {
            return Err(StoreError::TooLarge {
                location: self.location(key),
                limit: max,
            });
        }
        Ok(file)
    }
}

/// Regular files below `dir`, keyed relative to `root`; hidden files (uploads in progress)
/// and links are not objects.
fn walk(root: &Path, dir: &Path, out: &mut Vec<ObjectInfo>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &entry.path(), out)?;
        } else if kind.is_file() {
            let path = entry.path();
            let key = path
                .strip_prefix(root)
                .expect("below root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push(ObjectInfo::plain(key, entry.metadata()?.len()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_new_never_overwrites_and_lists_whole_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("store"));
        store
            .put_new_bytes("prod/a.tar.zst", b"first", None)
            .await
            .unwrap();
        let err = store
            .put_new_bytes("prod/a.tar.zst", b"second", None)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
        assert_eq!(
            store.get_bytes("prod/a.tar.zst", None, 100).await.unwrap(),
            b"first"
        );
        assert!(matches!(
            store.get_bytes("prod/a.tar.zst", None, 2).await,
            Err(StoreError::TooLarge { .. })
        ));
        assert!(matches!(
            store.get_bytes("prod/b", None, 100).await,
            Err(StoreError::NotFound { .. })
        ));
        store.put_new_bytes("dev/x", b"x", None).await.unwrap();
        let keys: Vec<_> = store
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(keys, vec!["dev/x", "prod/a.tar.zst"]);
        assert_eq!(store.list("prod/").await.unwrap().len(), 1);
        store.delete("dev/x", None).await.unwrap();
        store.delete("dev/x", None).await.unwrap();
        assert_eq!(store.list("dev/").await.unwrap().len(), 0);
    }
}
