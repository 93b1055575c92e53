//! A throwaway workspace (temp folder with keys and a local store) and a runner for the real
//! `routevault` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test: the one cargo built, or `ROUTEVAULT_TEST_BIN` (for example the
/// static release build from scripts/build-static, to run the end-to-end suites against it).
pub fn bin() -> std::path::PathBuf {
    std::env::var_os("ROUTEVAULT_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_routevault")))
}

/// The repository root (where scenarios/ lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario(name: &str) -> PathBuf {
    repo().join("scenarios").join(name)
}

/// Every scenario folder.
pub fn scenarios() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.len() >= 3,
        "expected at least three scenarios, found {names:?}"
    );
    names
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.code, expected,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn last_line(&self) -> String {
        self.stdout.lines().last().unwrap_or("").trim().to_string()
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A temp folder with a key pair (`test.*`), a store folder and the paths to them.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let ws = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        ws.run(&[
            "keygen",
            "--out",
            ws.keys().to_str().unwrap(),
            "--name",
            "test",
        ])
        .ok();
        ws
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn keys(&self) -> PathBuf {
        self.path("keys")
    }
    pub fn store(&self) -> PathBuf {
        self.path("store")
    }
    pub fn sign_key(&self) -> PathBuf {
        self.keys().join("test.sign.key")
    }
    pub fn sign_pub(&self) -> PathBuf {
        self.keys().join("test.sign.pub")
    }
    pub fn seal_pub(&self) -> PathBuf {
        self.keys().join("test.seal.pub")
    }
    pub fn seal_key(&self) -> PathBuf {
        self.keys().join("test.seal.key")
    }

    /// Runs the binary with a clean ROUTEVAULT_* environment, in the workspace folder.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(bin());
        command.args(args).current_dir(self.dir.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("ROUTEVAULT_") {
                command.env_remove(key);
            }
        }
        for (key, value) in env {
            command.env(key, value);
        }
        Run::from(command.output().expect("running routevault"))
    }

    /// Runs a store command against `store` with the workspace's keys for it: `snapshot` signs
    /// and seals, `restore` trusts and unseals, the others trust.
    pub fn run_keyed(&self, args: &[&str], store: &str, env: &[(&str, &str)]) -> Run {
        let (key, seal, trust, unseal) = (
            self.sign_key(),
            self.seal_pub(),
            self.sign_pub(),
            self.seal_key(),
        );
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--store", store]);
        match args[0] {
            "snapshot" => full.extend([
                "--sign-key",
                key.to_str().unwrap(),
                "--seal-to",
                seal.to_str().unwrap(),
            ]),
            "restore" => full.extend([
                "--trust",
                trust.to_str().unwrap(),
                "--unseal-key",
                unseal.to_str().unwrap(),
            ]),
            _ => full.extend(["--trust", trust.to_str().unwrap()]),
        }
        self.run_env(&full, env)
    }

    /// Snapshots a folder, sealed to the workspace key; returns the id.
    pub fn snapshot(&self, from: &Path, env: &str) -> String {
        self.snapshot_with(from, env, &[])
    }

    /// `snapshot` with more options (`--build-id`, `--label`, ...).
    pub fn snapshot_with(&self, from: &Path, env: &str, extra: &[&str]) -> String {
        let (store, sign_key, seal_pub) = (self.store(), self.sign_key(), self.seal_pub());
        let mut args = vec![
            "snapshot",
            "--from-dir",
            from.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--sign-key",
            sign_key.to_str().unwrap(),
            "--seal-to",
            seal_pub.to_str().unwrap(),
            "--env",
            env,
        ];
        args.extend_from_slice(extra);
        self.run(&args).ok().last_line()
    }

    /// `restore ID --to-dir OUT` with the workspace's trust and unseal key.
    pub fn restore(&self, env: &str, id: &str, out: &Path, extra: &[&str]) -> Run {
        let (store, trust) = (self.store(), self.sign_pub());
        let mut args = vec![
            "restore",
            id,
            "--store",
            store.to_str().unwrap(),
            "--env",
            env,
            "--trust",
            trust.to_str().unwrap(),
            "--to-dir",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    pub fn verify(&self, env: &str, id: &str) -> Run {
        let (store, trust) = (self.store(), self.sign_pub());
        self.run(&[
            "verify",
            id,
            "--store",
            store.to_str().unwrap(),
            "--env",
            env,
            "--trust",
            trust.to_str().unwrap(),
        ])
    }

    pub fn artifact(&self, env: &str, id: &str) -> PathBuf {
        self.store().join(env).join(format!("{id}.tar.zst"))
    }
    pub fn signature(&self, env: &str, id: &str) -> PathBuf {
        self.store().join(env).join(format!("{id}.tar.zst.sig"))
    }
}

/// Overwrites a (read-only) stored file, as an attacker with write access to the store would.
pub fn tamper_write(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

/// The objects a restored folder holds, sorted by identity.
pub fn objects_in(dir: &Path) -> Vec<routevault::object::Object> {
    let mut objects = routevault::source::dir::read(dir).unwrap().objects;
    objects.sort_by_key(|o| o.object_ref());
    objects
}

/// What a scenario folder should restore to: its routing objects, selected and normalised.
pub fn expected(scenario_dir: &Path) -> Vec<routevault::object::Object> {
    let read = routevault::source::dir::read(scenario_dir).unwrap();
    let selected = routevault::select::select(
        read.objects,
        &Default::default(),
        routevault::select::SecretsMode::Sealed,
    );
    let mut objects: Vec<_> = selected
        .objects
        .into_iter()
        .map(routevault::normalize::normalize)
        .collect();
    objects.sort_by_key(|o| o.object_ref());
    objects
}
