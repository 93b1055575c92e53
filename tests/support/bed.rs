//! The test bed from Rust: starts real servers through `tests/bed/up` (one implementation for
//! scripts, drills and tests) in a private temp folder, and always stops them through
//! `tests/bed/down` when the `Bed` is dropped — also when the test panics. Every bed has its
//! own folder and free ports, so tests run in parallel without colliding.
//!
//! A test that needs the bed and cannot find its binaries fails with the install command; it
//! is never skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::cli::repo;

pub struct Bed {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
    pub bin: PathBuf,
}

/// What to start.
#[derive(Default)]
pub struct BedSpec<'a> {
    pub clusters: &'a [&'a str],
    pub s3: bool,
    pub crds: bool,
    /// Per cluster kube-controller-manager, cert-manager and Traefik (implies `crds`).
    pub controllers: bool,
    /// More kube-apiserver flags, for every cluster.
    pub apiserver_args: &'a [&'a str],
}

pub fn bin_dir() -> PathBuf {
    let out = Command::new(repo().join("tests/bed/install"))
        .arg("--print")
        .output()
        .expect("running tests/bed/install --print");
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    for needed in ["etcd", "kube-apiserver", "kubectl", "weed"] {
        assert!(
            bin.join(needed).exists(),
            "test bed binary {needed} not found in {}; build the bed first with: tests/bed/install",
            bin.display()
        );
    }
    bin
}

impl Bed {
    pub fn start(spec: BedSpec<'_>) -> Bed {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("routevault-bed-")
            .tempdir()
            .unwrap();
        let mut command = Command::new(repo().join("tests/bed/up"));
        command.arg("--dir").arg(dir.path()).arg("--bin").arg(&bin);
        for cluster in spec.clusters {
            command.args(["--cluster", cluster]);
        }
        if spec.s3 {
            command.arg("--s3");
        }
        if spec.crds {
            command.arg("--crds");
        }
        if spec.controllers {
            command.arg("--controllers");
        }
        for arg in spec.apiserver_args {
            command.arg(format!("--apiserver-arg={arg}"));
        }
        let out = command.output().expect("running tests/bed/up");
        // From here on, Drop stops whatever did start.
        let mut bed = Bed {
            dir,
            env: HashMap::new(),
            bin,
        };
        assert!(
            out.status.success(),
            "tests/bed/up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env_text = std::fs::read_to_string(bed.dir.path().join("env")).unwrap();
        for line in env_text.lines() {
            if let Some((key, value)) = line.strip_prefix("export ").and_then(|l| l.split_once('='))
            {
                bed.env
                    .insert(key.to_string(), value.trim_matches('\'').to_string());
            }
        }
        bed
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn var(&self, key: &str) -> String {
        self.env
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("bed env has no {key}"))
    }

    /// The API server URL of a cluster.
    pub fn server(&self, cluster: &str) -> String {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.dir.path().join("bed.json")).unwrap())
                .unwrap();
        state["clusters"][cluster]["server"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("pki/ca.crt")
    }

    /// Runs kubectl against a context; `stdin` is fed when given.
    pub fn kubectl(&self, context: &str, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut command = Command::new(self.bin.join("kubectl"));
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(["--context", context])
            .args(args);
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("running kubectl");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    /// kubectl that must succeed; returns stdout.
    #[track_caller]
    pub fn kubectl_ok(&self, context: &str, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(context, args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until `user` may `verb` `resource` (RBAC reaches the authorizer through an
    /// informer, so a new binding takes a moment); panics after 10 s.
    #[track_caller]
    pub fn wait_until_allowed(&self, context: &str, user: &str, verb: &str, resource: &str) {
        for _ in 0..100 {
            let out = self.kubectl(
                context,
                &[
                    "auth",
                    "can-i",
                    verb,
                    resource,
                    "--all-namespaces",
                    "--as",
                    user,
                ],
                None,
            );
            if String::from_utf8_lossy(&out.stdout).trim() == "yes" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{user} may still not {verb} {resource}: the binding never took effect");
    }

    /// Applies a scenario folder to a cluster with server-side apply.
    pub fn apply_dir(&self, context: &str, dir: &Path) {
        self.kubectl_ok(
            context,
            &["apply", "--server-side", "-R", "-f", dir.to_str().unwrap()],
            None,
        );
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let result = Command::new(repo().join("tests/bed/down"))
            .arg("--dir")
            .arg(self.dir.path())
            .output();
        if let Ok(out) = result
            && !out.status.success()
        {
            eprintln!(
                "tests/bed/down failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Fault injection on the bed's S3 server: the real process is killed and started again on
/// the same data and port (no mock involved).
impl Bed {
    fn state(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir.path().join("bed.json")).unwrap()).unwrap()
    }

    fn s3_process(&self) -> serde_json::Value {
        self.state()["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "s3")
            .expect("the bed has no S3 server")
            .clone()
    }

    /// SIGKILLs the S3 server (and its process group).
    pub fn kill_s3(&self) {
        let pid = self.s3_process()["pid"].as_i64().unwrap() as libc::pid_t;
        assert!(pid > 1, "implausible S3 server pid {pid}");
        // The server leads its own process group (`up` starts it in a new session).
        // SAFETY: kill(2) with a negative pid signals exactly that process group.
        let result = unsafe { libc::kill(-pid, libc::SIGKILL) };
        assert_eq!(
            result, 0,
            "could not kill the S3 server's process group {pid}"
        );
        // Wait until the port is closed, so the next request cannot reach a dying server.
        let endpoint = self.var("ROUTEVAULT_S3_ENDPOINT");
        let address = endpoint.trim_start_matches("http://").to_string();
        for _ in 0..100 {
            if std::net::TcpStream::connect(&address).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the S3 server still answers after SIGKILL");
    }

    /// Starts the S3 server again with the same command line (same data, same ports), records
    /// its pid for `down`, and waits until it answers S3 requests.
    pub fn restart_s3(&self) {
        use std::os::unix::process::CommandExt;
        let process = self.s3_process();
        let argv: Vec<String> = process["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.path().join("logs/s3.log"))
            .unwrap();
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(self.dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("restarting the S3 server");
        let mut state = self.state();
        for p in state["processes"].as_array_mut().unwrap() {
            if p["name"] == "s3" {
                p["pid"] = serde_json::json!(child.id());
            }
        }
        std::fs::write(
            self.dir.path().join("bed.json"),
            serde_json::to_vec_pretty(&state).unwrap(),
        )
        .unwrap();
        std::mem::forget(child); // `down` stops it by pid, like every other bed process
        let endpoint = self.var("ROUTEVAULT_S3_ENDPOINT");
        let bucket = self.var("ROUTEVAULT_TEST_BUCKET");
        for _ in 0..300 {
            let out = Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    &format!("{endpoint}/{bucket}"),
                ])
                .output();
            if let Ok(out) = out {
                let code = String::from_utf8_lossy(&out.stdout).to_string();
                // Any S3 answer (403 for an unsigned request) means the gateway and its filer are up.
                if code == "403" || code == "200" {
                    std::thread::sleep(std::time::Duration::from_millis(500));
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the S3 server did not come back after a restart");
    }
}

/// S3 access to the bed's server, as the tests need it.
impl Bed {
    /// The environment a CronJob would have: credentials from AWS_*, the endpoint from
    /// ROUTEVAULT_S3_ENDPOINT, path-style addressing.
    pub fn s3_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
            "ROUTEVAULT_S3_ENDPOINT",
        ]
        .iter()
        .map(|k| (k.to_string(), self.var(k)))
        .collect();
        env.push(("ROUTEVAULT_S3_PATH_STYLE".into(), "true".into()));
        env.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
        env
    }

    /// routevault's own store for `url`, with the bed's credentials.
    pub fn store(&self, url: &str) -> routevault::store::Store {
        let options = routevault::store::S3Options {
            endpoint: Some(self.var("ROUTEVAULT_S3_ENDPOINT")),
            path_style: true,
            region: Some(self.var("AWS_REGION")),
            part_size: routevault::store::s3::DEFAULT_PART_SIZE,
            credentials: Some((
                self.var("AWS_ACCESS_KEY_ID"),
                self.var("AWS_SECRET_ACCESS_KEY"),
            )),
        };
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(routevault::store::open(url, &options))
            .unwrap()
    }

    /// A plain AWS SDK client, for checking what the server itself holds.
    pub fn s3_client(&self, secret_key: &str) -> aws_sdk_s3::Client {
        let credentials = aws_sdk_s3::config::Credentials::new(
            self.var("AWS_ACCESS_KEY_ID"),
            secret_key,
            None,
            None,
            "bed",
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(self.var("AWS_REGION")))
            .endpoint_url(self.var("ROUTEVAULT_S3_ENDPOINT"))
            .force_path_style(true)
            .credentials_provider(credentials)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}
