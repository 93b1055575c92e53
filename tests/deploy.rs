//! The production kit on a real API server: every kustomization under docs/deploy/ builds and
//! is accepted by server-side dry-run apply (and passes the "restricted" Pod Security
//! Standard without a warning); and the scheduled snapshot runs end to end the way its pod
//! would: the CronJob's own args, environment, ConfigMap and Secrets, a service-account token
//! from the TokenRequest API, KUBERNETES_SERVICE_HOST/PORT, and only the deploy role's rights.
//!
//! What the kubelet would do is done here by hand (no container runtime on the bed): mounting
//! Secret volumes with their modes, resolving envFrom and fieldRefs. The binary, the API
//! server, RBAC, the token and S3 are all real.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;
use support::bed::{Bed, BedSpec};
use support::cli::{Run, Workspace, bin, expected, objects_in, repo, scenario};

const CONTEXT: &str = "prod";

/// Every folder under docs/deploy/ that holds a kustomization.yaml.
fn kustomizations() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![repo().join("docs/deploy")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
                found.push(dir.clone());
            }
        }
    }
    found.sort();
    found
}

/// Every file a kustomization names (resources, envs, patch paths), resolved.
fn files_named_by(dir: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut named = Vec::new();
    let list = |key: &str| -> Vec<String> {
        doc.get(key)
            .and_then(|v| v.as_sequence())
            .map(|s| {
                s.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for resource in list("resources") {
        named.push(dir.join(resource));
    }
    for generator in doc
        .get("configMapGenerator")
        .and_then(|v| v.as_sequence())
        .into_iter()
        .flatten()
    {
        for file in generator
            .get("envs")
            .and_then(|v| v.as_sequence())
            .into_iter()
            .flatten()
        {
            named.push(dir.join(file.as_str().unwrap()));
        }
    }
    named
        .into_iter()
        .map(|p| fs::canonicalize(&p).unwrap_or(p))
        .collect()
}

fn kustomize(bed: &Bed, dir: &Path) -> String {
    let out = Command::new(bed.bin.join("kubectl"))
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Kustomize takes bases only by relative path: climb from `from` to / and down to `to`.
fn relative_to(from: &Path, to: &Path) -> String {
    let from = fs::canonicalize(from).unwrap();
    let to = fs::canonicalize(to).unwrap();
    let up = "../".repeat(from.components().count() - 1);
    format!("{up}{}", to.strip_prefix("/").unwrap().display())
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| serde_yaml::from_value::<Value>(serde_yaml::Value::deserialize(doc).unwrap()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn every_deploy_manifest_builds_and_a_real_api_server_accepts_it() {
    let bed = Bed::start(BedSpec {
        clusters: &[CONTEXT],
        ..Default::default()
    });
    let dirs = kustomizations();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.strip_prefix(repo()).unwrap().display().to_string())
        .collect();
    for needed in ["docs/deploy/snapshot", "docs/deploy/restore"] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} is missing: {names:?}"
        );
    }

    // No manifest in docs/deploy/ is left out of every kustomization (it would go untested).
    let mut named: Vec<PathBuf> = dirs.iter().flat_map(|d| files_named_by(d)).collect();
    named.sort();
    let mut stack = vec![repo().join("docs/deploy")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = fs::canonicalize(entry.unwrap().path()).unwrap();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "env")
                && path.file_name().is_some_and(|n| n != "kustomization.yaml")
            {
                assert!(
                    named.contains(&path),
                    "{} is not part of any kustomization under docs/deploy/",
                    path.display()
                );
            }
        }
    }

    // Namespaced objects dry-run only into a namespace that exists; the Namespace manifest is
    // then applied for real first, and everything (itself included) dry-run after it.
    let snapshot = kustomize(&bed, &repo().join("docs/deploy/snapshot"));
    let namespace: Vec<Value> = documents(&snapshot)
        .into_iter()
        .filter(|d| d["kind"] == "Namespace")
        .collect();
    assert_eq!(namespace.len(), 1, "the snapshot kit creates its namespace");
    assert_eq!(
        namespace[0]["metadata"]["labels"]["pod-security.kubernetes.io/warn"], "restricted",
        "the namespace warns on anything less than the restricted standard"
    );
    bed.kubectl_ok(
        CONTEXT,
        &["apply", "--server-side", "-f", "-"],
        Some(&serde_json::to_string(&namespace[0]).unwrap()),
    );

    for (dir, name) in dirs.iter().zip(&names) {
        let rendered = kustomize(&bed, dir);
        let kinds: Vec<String> = documents(&rendered)
            .iter()
            .map(|d| d["kind"].as_str().unwrap_or("?").to_string())
            .collect();
        assert!(!kinds.is_empty(), "{name} renders no objects");
        let out = bed.kubectl(
            CONTEXT,
            &["apply", "--server-side", "--dry-run=server", "-f", "-"],
            Some(&rendered),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the API server refused {name}: {stderr}"
        );
        // Pod Security admission warns (namespace label warn=restricted) on any pod template
        // that would not run under the restricted standard.
        assert!(
            !stderr.contains("Warning"),
            "{name} draws warnings from the API server: {stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout
                .lines()
                .filter(|l| l.contains("(server dry run)"))
                .count(),
            kinds.len(),
            "every object of {name} was dry-run applied: {stdout}"
        );
    }

    // Dry run changed nothing: the CronJob does not exist.
    let cronjob = bed.kubectl(
        CONTEXT,
        &["get", "cronjob", "-n", "routevault", "routevault-snapshot"],
        None,
    );
    assert!(!cronjob.status.success(), "a dry run created the CronJob");
}

/// The scheduled snapshot's pod, reconstructed from the applied CronJob.
struct PodRun {
    root: tempfile::TempDir,
    env: BTreeMap<String, String>,
    args: Vec<String>,
}

impl PodRun {
    fn service_account_dir(&self) -> PathBuf {
        self.root.path().join("serviceaccount")
    }

    /// Runs the binary as the pod would, with nothing from the test's own environment but
    /// PATH; `overrides` replace or add variables, `args` replace the container's args.
    fn run(&self, bed: &Bed, args: Option<&[&str]>, overrides: &[(&str, &str)]) -> Run {
        let url = bed.server(CONTEXT);
        let authority = url.trim_start_matches("https://");
        let (host, port) = authority.rsplit_once(':').unwrap();
        let mut command = Command::new(bin());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root.path().join("home"))
            .env("KUBERNETES_SERVICE_HOST", host)
            .env("KUBERNETES_SERVICE_PORT", port)
            // The one difference from a pod: the token is not at /var/run/secrets/...
            .env("ROUTEVAULT_SERVICE_ACCOUNT_DIR", self.service_account_dir())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(&self.env)
            .current_dir(self.root.path());
        for (key, value) in overrides {
            command.env(key, value);
        }
        match args {
            Some(args) => command.args(args),
            None => command.args(&self.args),
        };
        let out = command.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn get_json(bed: &Bed, args: &[&str]) -> Value {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend(["-o", "json"]);
    serde_json::from_str(&bed.kubectl_ok(CONTEXT, &full, None)).unwrap()
}

fn decode(value: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap()
}

/// Does what the kubelet does for the CronJob's pod template: mounts its volumes (Secret items
/// with defaultMode, group-readable through fsGroup; emptyDirs), resolves env and envFrom from
/// the cluster, and writes the service-account token from the TokenRequest API.
fn pod_from_cronjob(bed: &Bed, name: &str, service_account: &str) -> PodRun {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("home")).unwrap();
    let cronjob = get_json(bed, &["cronjob", "-n", "routevault", name]);
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert!(
        container.get("command").is_none(),
        "the image's entrypoint is routevault"
    );
    let fs_group = pod["securityContext"]["fsGroup"].as_i64();
    assert_eq!(
        pod["serviceAccountName"], service_account,
        "the CronJob runs as its own ServiceAccount"
    );

    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for mount in container["volumeMounts"].as_array().unwrap() {
        let name = mount["name"].as_str().unwrap();
        let local = root.path().join("volumes").join(name);
        fs::create_dir_all(&local).unwrap();
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap();
        if let Some(secret) = volume.get("secret") {
            let data = get_json(
                bed,
                &[
                    "secret",
                    "-n",
                    "routevault",
                    secret["secretName"].as_str().unwrap(),
                ],
            );
            let mut mode = secret["defaultMode"].as_u64().unwrap_or(0o644) as u32;
            if fs_group.is_some() {
                mode |= (mode & 0o400) >> 3;
            }
            for item in secret["items"].as_array().unwrap() {
                let path = local.join(item["path"].as_str().unwrap());
                let bytes = decode(
                    data["data"][item["key"].as_str().unwrap()]
                        .as_str()
                        .unwrap(),
                );
                fs::write(&path, bytes).unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            }
        } else if let Some(config_map) = volume.get("configMap") {
            let data = get_json(
                bed,
                &[
                    "configmap",
                    "-n",
                    "routevault",
                    config_map["name"].as_str().unwrap(),
                ],
            );
            for (key, value) in data["data"].as_object().unwrap() {
                fs::write(local.join(key), value.as_str().unwrap()).unwrap();
            }
        } else {
            assert!(
                volume.get("emptyDir").is_some(),
                "volume {name} is not a Secret, ConfigMap or emptyDir; teach this test about it"
            );
        }
        mounts.push((mount["mountPath"].as_str().unwrap().to_string(), local));
    }
    let localize = |value: &str| -> String {
        for (mount_path, local) in &mounts {
            if let Some(rest) = value.strip_prefix(mount_path.as_str()) {
                return format!("{}{rest}", local.display());
            }
        }
        value.to_string()
    };

    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_array().unwrap() {
        if let Some(reference) = source.get("configMapRef") {
            let map = get_json(
                bed,
                &[
                    "configmap",
                    "-n",
                    "routevault",
                    reference["name"].as_str().unwrap(),
                ],
            );
            for (key, value) in map["data"].as_object().unwrap() {
                env.insert(key.clone(), value.as_str().unwrap().to_string());
            }
        } else if let Some(reference) = source.get("secretRef") {
            let name = reference["name"].as_str().unwrap();
            let found = bed.kubectl(
                CONTEXT,
                &["get", "secret", "-n", "routevault", name, "-o", "json"],
                None,
            );
            if !found.status.success() {
                assert_eq!(
                    reference["optional"], true,
                    "required Secret {name} missing"
                );
                continue;
            }
            let secret: Value = serde_json::from_slice(&found.stdout).unwrap();
            for (key, value) in secret["data"].as_object().unwrap() {
                let text = String::from_utf8(decode(value.as_str().unwrap())).unwrap();
                env.insert(key.clone(), text);
            }
        }
    }
    for var in container["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_string();
        let value = if let Some(value) = var.get("value") {
            localize(value.as_str().unwrap())
        } else if var["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" {
            "routevault-snapshot-29000000-abcde".to_string()
        } else {
            panic!("env {name} has a source this test does not model: {var}");
        };
        env.insert(name, value);
    }

    let sa_dir = root.path().join("serviceaccount");
    fs::create_dir_all(&sa_dir).unwrap();
    let token = bed.kubectl_ok(
        CONTEXT,
        &[
            "create",
            "token",
            service_account,
            "-n",
            "routevault",
            "--duration",
            "15m",
        ],
        None,
    );
    fs::write(sa_dir.join("token"), token.trim()).unwrap();
    fs::copy(bed.ca_file(), sa_dir.join("ca.crt")).unwrap();
    fs::write(sa_dir.join("namespace"), "routevault").unwrap();

    let args = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    PodRun { root, env, args }
}

/// An overlay of a shipped kit, as an operator would write one: only the settings of its
/// generated ConfigMap `config` change (S3 on the bed).
fn overlay(bed: &Bed, kit: &str, config: &str, store: &str, extra: &[String]) -> tempfile::TempDir {
    let overlay = tempfile::tempdir().unwrap();
    let mut literals = vec![
        format!("ROUTEVAULT_STORE={store}"),
        "ROUTEVAULT_ENV=prod".to_string(),
        format!(
            "ROUTEVAULT_S3_ENDPOINT={}",
            bed.var("ROUTEVAULT_S3_ENDPOINT")
        ),
        "ROUTEVAULT_S3_PATH_STYLE=true".to_string(),
        format!("ROUTEVAULT_S3_REGION={}", bed.var("AWS_REGION")),
    ];
    literals.extend_from_slice(extra);
    let literals: String = literals.iter().map(|l| format!("      - {l}\n")).collect();
    fs::write(
        overlay.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {base}\n\
             configMapGenerator:\n  - name: {config}\n    namespace: routevault\n    behavior: merge\n    literals:\n{literals}",
            base = relative_to(overlay.path(), &repo().join(kit)),
        ),
    )
    .unwrap();
    overlay
}

#[test]
fn the_scheduled_snapshot_runs_in_cluster_with_only_the_deploy_role() {
    let bed = Bed::start(BedSpec {
        clusters: &[CONTEXT],
        s3: true,
        crds: true,
        ..Default::default()
    });
    bed.apply_dir(CONTEXT, &scenario("storefront"));
    let ws = Workspace::new();
    let bucket = bed.var("ROUTEVAULT_TEST_BUCKET");
    let store = format!("s3://{bucket}/in-cluster");
    let recipient = fs::read_to_string(ws.seal_pub()).unwrap();

    let overlay = overlay(
        &bed,
        "docs/deploy/snapshot",
        "routevault-config",
        &store,
        &[format!("ROUTEVAULT_SEAL_TO={}", recipient.trim())],
    );
    let rendered = kustomize(&bed, overlay.path());
    bed.kubectl_ok(
        CONTEXT,
        &["apply", "--server-side", "-f", "-"],
        Some(&rendered),
    );
    // The Secrets an operator creates by hand (README): the signing key and S3 credentials.
    bed.kubectl_ok(
        CONTEXT,
        &[
            "create",
            "secret",
            "generic",
            "routevault-signing-key",
            "-n",
            "routevault",
            &format!("--from-file=sign.key={}", ws.sign_key().display()),
        ],
        None,
    );
    bed.kubectl_ok(
        CONTEXT,
        &[
            "create",
            "secret",
            "generic",
            "routevault-s3",
            "-n",
            "routevault",
            &format!(
                "--from-literal=AWS_ACCESS_KEY_ID={}",
                bed.var("AWS_ACCESS_KEY_ID")
            ),
            &format!(
                "--from-literal=AWS_SECRET_ACCESS_KEY={}",
                bed.var("AWS_SECRET_ACCESS_KEY")
            ),
        ],
        None,
    );
    bed.wait_until_allowed(
        CONTEXT,
        "system:serviceaccount:routevault:routevault",
        "list",
        "ingresses",
    );

    let pod = pod_from_cronjob(&bed, "routevault-snapshot", "routevault");
    let key_mode = fs::metadata(pod.root.path().join("volumes/signing-key/sign.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(key_mode, 0o440, "the key is mounted as a pod would see it");

    let run = pod.run(&bed, None, &[]).ok();
    let summary: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("-o json from the config is JSON ({e}): {}", run.stdout));
    let id = summary["id"].as_str().unwrap().to_string();
    assert!(summary["objects"].as_u64().unwrap_or(0) > 0, "{summary}");
    for line in run.stderr.lines() {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(
            parsed.is_ok(),
            "--log-format json from the config: every log line is JSON, not {line:?}"
        );
    }
    assert!(
        !run.stderr.contains("PRIVATE KEY") && !run.stdout.contains("PRIVATE KEY"),
        "key material in the output"
    );

    // An operator elsewhere (admin, plain S3 credentials) verifies it and restores it to files.
    let s3_env = bed.s3_env();
    let env: Vec<(&str, &str)> = s3_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let verified = ws
        .run_env(
            &[
                "verify",
                "latest",
                "--store",
                &store,
                "--env",
                "prod",
                "--trust",
                ws.sign_pub().to_str().unwrap(),
                "-o",
                "json",
            ],
            &env,
        )
        .ok();
    let report: Value = serde_json::from_str(&verified.stdout).unwrap();
    assert_eq!(report["id"], id.as_str(), "{report}");
    assert!(
        report["retention"]
            .to_string()
            .to_lowercase()
            .contains("governance"),
        "the config's 30-day governance retention is on the snapshot: {report}"
    );
    let out = ws.path("restored");
    ws.run_env(
        &[
            "restore",
            &id,
            "--store",
            &store,
            "--env",
            "prod",
            "--trust",
            ws.sign_pub().to_str().unwrap(),
            "--unseal-key",
            ws.seal_key().to_str().unwrap(),
            "--to-dir",
            out.to_str().unwrap(),
        ],
        &env,
    )
    .ok();
    let got: Vec<String> = objects_in(&out)
        .iter()
        .map(|o| o.object_ref().to_string())
        .collect();
    let want: Vec<String> = expected(&scenario("storefront"))
        .iter()
        .map(|o| o.object_ref().to_string())
        .collect();
    assert_eq!(
        got, want,
        "the in-cluster snapshot holds the storefront routing"
    );

    // Least privilege: the same identity may not restore (write) into the cluster; the refusal
    // names what is missing and nothing is applied.
    let refused = pod.run(
        &bed,
        Some(&[
            "restore",
            "latest",
            "--in-cluster",
            "--trust",
            ws.sign_pub().to_str().unwrap(),
            "--unseal-key",
            ws.seal_key().to_str().unwrap(),
        ]),
        &[("ROUTEVAULT_LOG_FORMAT", "text")],
    );
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(
        refused.stderr.contains("may not") && refused.stderr.contains("restore/clusterrole.yaml"),
        "{}",
        refused.stderr
    );

    // A pod without a mounted token gets told what to change.
    let no_token = tempfile::tempdir().unwrap();
    let missing = pod.run(
        &bed,
        None,
        &[
            (
                "ROUTEVAULT_SERVICE_ACCOUNT_DIR",
                no_token.path().to_str().unwrap(),
            ),
            ("ROUTEVAULT_LOG_FORMAT", "text"),
        ],
    );
    assert_eq!(missing.code, 1, "{}", missing.all());
    assert!(
        missing.stderr.contains("automountServiceAccountToken") && missing.stderr.contains("token"),
        "{}",
        missing.stderr
    );
    drift_monitoring_fails_its_job_on_drift_only(&bed, &ws, &store);
}

/// The drift kit, applied next to the snapshot kit: its CronJob's pod, as its own read-only
/// ServiceAccount, finds the cluster in sync with the snapshot just taken (exit 0), then exits
/// 1 with a JSON report naming an Ingress whose host was edited by hand.
fn drift_monitoring_fails_its_job_on_drift_only(bed: &Bed, ws: &Workspace, store: &str) {
    let overlay = overlay(
        bed,
        "docs/deploy/drift",
        "routevault-drift-config",
        store,
        &[],
    );
    let rendered = kustomize(bed, overlay.path());
    bed.kubectl_ok(
        CONTEXT,
        &["apply", "--server-side", "-f", "-"],
        Some(&rendered),
    );
    let trust = format!("--from-file=prod.sign.pub={}", ws.sign_pub().display());
    bed.kubectl_ok(
        CONTEXT,
        &[
            "create",
            "configmap",
            "routevault-trust",
            "-n",
            "routevault",
            &trust,
        ],
        None,
    );
    bed.wait_until_allowed(
        CONTEXT,
        "system:serviceaccount:routevault:routevault-drift",
        "list",
        "ingresses",
    );
    let pod = pod_from_cronjob(bed, "routevault-drift", "routevault-drift");
    let run = pod.run(bed, None, &[]);
    assert_eq!(
        run.code,
        0,
        "in sync right after the snapshot: {}",
        run.all()
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["in_sync"], true);
    assert_eq!(
        report["values_not_compared"], 0,
        "the signing key compares Secret values"
    );

    bed.kubectl_ok(
        CONTEXT,
        &[
            "patch",
            "ingress",
            "web",
            "-n",
            "shop",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/rules/0/host","value":"edited.example.com"}]"#,
        ],
        None,
    );
    let run = pod.run(bed, None, &[]);
    assert_eq!(run.code, 1, "drift fails the Job: {}", run.all());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["differences"][0]["object"],
        "networking.k8s.io/Ingress shop/web"
    );
    assert_eq!(
        report["differences"][0]["changes"][0]["new"],
        "edited.example.com"
    );
    // Read-only: the drift identity may not write routing.
    let can_patch = bed.kubectl(
        CONTEXT,
        &[
            "auth",
            "can-i",
            "patch",
            "ingresses",
            "-n",
            "shop",
            "--as",
            "system:serviceaccount:routevault:routevault-drift",
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&can_patch.stdout).trim(), "no");
}
