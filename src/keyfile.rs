//! Reading private key files: a key that other users of the machine can read is refused before
//! its bytes are used, the way ssh refuses a world-readable identity.
//!
//! Group-readable keys are accepted on purpose: a Kubernetes Secret volume with `fsGroup` makes
//! its files 0440 owned by root and the pod's group, which is how a non-root CronJob reads its key.

use std::fs;
use std::path::Path;

/// Reads a private key file after checking that "other" users have no access to it.
/// The error text names the file, its mode and the fix; it never contains key bytes.
pub fn read_private(path: &Path) -> Result<String, String> {
    let metadata = fs::metadata(path).map_err(|e| e.to_string())?;
    check_mode(path, mode_of(&metadata))?;
    fs::read_to_string(path).map_err(|e| e.to_string())
}

/// The permission check on its own, pure so it can be tested for every mode.
pub fn check_mode(path: &Path, mode: u32) -> Result<(), String> {
    if mode & 0o007 != 0 {
        return Err(format!(
            "it is readable by other users (mode {:04o}); a private key must not be: run `chmod 600 {}` \
             (and consider the key exposed if others could read it)",
            mode & 0o7777,
            path.display()
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn mode_of(metadata: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode()
}

#[cfg(not(unix))]
fn mode_of(_metadata: &fs::Metadata) -> u32 {
    0o600
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_group_access_is_accepted_other_access_is_refused() {
        let path = Path::new("/keys/routevault.sign.key");
        for mode in 0o000..=0o777u32 {
            let result = check_mode(path, mode);
            assert_eq!(result.is_ok(), mode & 0o007 == 0, "mode {mode:o}");
        }
        let message = check_mode(path, 0o100644).unwrap_err();
        assert!(message.contains("0644"), "{message}");
        assert!(
            message.contains("chmod 600 /keys/routevault.sign.key"),
            "{message}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn read_private_checks_the_file_on_disk() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("rv-keyfile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.key");
        fs::write(&path, "secret-bytes").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let refused = read_private(&path).unwrap_err();
        assert!(!refused.contains("secret-bytes"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o440)).unwrap();
        assert_eq!(read_private(&path).unwrap(), "secret-bytes");
        fs::remove_dir_all(&dir).unwrap();
    }
}
