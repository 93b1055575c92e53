//! Immutable routing on the bed: `diff` against a live cluster reports exactly the drift made
//! with kubectl (exit 1, also in JSON) and nothing after a restore (exit 0); `restore --prune`
//! makes the cluster's routing exactly the snapshot while what is out of scope or applied by
//! another manager survives; a rollback to the previous build with `--prune` leaves exactly
//! that build; `diff A B` lists what a build changed, a Secret's change included, without an
//! unseal key.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::bed::{Bed, BedSpec};
use support::cli::{Run, Workspace, scenario};

struct Routing {
    bed: Bed,
    ws: Workspace,
}

impl Routing {
    fn new() -> Self {
        Self {
            bed: Bed::start(BedSpec {
                clusters: &["a"],
                s3: false,
                crds: true,
                ..Default::default()
            }),
            ws: Workspace::new(),
        }
    }

    /// Runs routevault with the workspace's store, trust and the bed's kubeconfig.
    fn run(&self, args: &[&str]) -> Run {
        let (store, trust, kubeconfig) =
            (self.ws.store(), self.ws.sign_pub(), self.bed.kubeconfig());
        let mut full = args.to_vec();
        full.extend([
            "--store",
            store.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
        ]);
        full.extend(["--env", "shop"]);
        let kubeconfig = kubeconfig.display().to_string();
        self.ws.run_env(
            &full,
            &[
                ("ROUTEVAULT_RESTORE_KUBECONFIG", kubeconfig.as_str()),
                ("ROUTEVAULT_DIFF_KUBECONFIG", kubeconfig.as_str()),
            ],
        )
    }

    fn restore(&self, id: &str, extra: &[&str]) -> Value {
        let unseal = self.ws.seal_key();
        let mut args = vec![
            "restore",
            id,
            "--cluster",
            "a",
            "--unseal-key",
            unseal.to_str().unwrap(),
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        let run = self.run(&args).ok();
        serde_json::from_str(&run.stdout).unwrap()
    }

    /// `diff ID --cluster a -o json`: its exit code and report.
    fn drift(&self, id: &str) -> (i32, Value) {
        let run = self.run(&["diff", id, "--cluster", "a", "-o", "json"]);
        let report = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|_| panic!("no JSON report:\n{}\n{}", run.stdout, run.stderr));
        (run.code, report)
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.bed.kubectl_ok("a", args, stdin)
    }

    fn exists(&self, args: &[&str]) -> bool {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        self.bed.kubectl("a", &full, None).status.success()
    }
}

/// (state, object) of every difference in a report, sorted.
fn differences(report: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["state"].as_str().unwrap().to_string(),
                d["object"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

fn pruned(report: &Value) -> Vec<String> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["outcome"] == "pruned")
        .map(|o| o["object"].as_str().unwrap().to_string())
        .collect()
}

fn ingress(name: &str, namespace: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: {namespace}\n\
         spec:\n  ingressClassName: nginx\n  rules:\n  - host: {host}\n    http:\n      paths:\n      \
         - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: web\n            \
         port: {{number: 80}}\n"
    )
}

/// A copy of the storefront scenario edited into a second build: a new host on Ingress web, a
/// new Ingress, the canary Service gone (and its Ingress), a renewed TLS key.
fn second_build(ws: &Workspace) -> PathBuf {
    let dir = ws.path("build-2");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(scenario("storefront")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if name == "30-ingress.yaml" {
            text = text.replace("- host: www.shop.example.com", "- host: m.shop.example.com");
            let canary = text.find("---\n# 10% of traffic").unwrap();
            text.truncate(canary);
            text.push_str("---\n");
            text.push_str(&ingress("web-api", "shop", "api.shop.example.com"));
        }
        if name == "20-app.yaml" {
            let start = text.find("  name: web-canary").unwrap();
            let doc_start = text[..start].rfind("---").unwrap();
            let doc_end = start + text[start..].find("---").unwrap();
            text.replace_range(doc_start..doc_end, "");
        }
        if name == "40-secrets.yaml" {
            let key_line = text
                .lines()
                .find(|l| l.trim_start().starts_with("tls.key:"))
                .unwrap();
            text = text.replace(key_line, "  tls.key: UkVORVdFRC1LRVk=");
        }
        std::fs::write(dir.join(&name), text).unwrap();
    }
    dir
}

fn snapshot(ws: &Workspace, dir: &Path, build: &str) -> String {
    ws.snapshot_with(dir, "shop", &["--build-id", build])
}

#[test]
fn drift_is_reported_exactly_and_prune_makes_the_cluster_the_snapshot() {
    let t = Routing::new();
    let build1 = snapshot(&t.ws, &scenario("storefront"), "1");
    t.restore(&build1, &[]);
    let (code, report) = t.drift(&build1);
    assert_eq!(
        code, 0,
        "a cluster restored from a snapshot has no drift: {report:#}"
    );
    assert_eq!(report["in_sync"], true);

    // Out of band: a host edited, a Service deleted, an extra Ingress created by kubectl, and
    // one left over from an earlier routevault restore (its field manager).
    t.kubectl(
        &[
            "patch",
            "ingress",
            "web",
            "-n",
            "shop",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/rules/0/host","value":"evil.example.com"}]"#,
        ],
        None,
    );
    t.kubectl(&["delete", "service", "web-canary", "-n", "shop"], None);
    t.kubectl(
        &["apply", "--server-side", "-f", "-"],
        Some(&ingress("by-hand", "shop", "hand.example.com")),
    );
    t.kubectl(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "routevault",
            "-f",
            "-",
        ],
        Some(&ingress("leftover", "shop", "old.example.com")),
    );
    // Out of scope: another namespace, a non-routing kind in the snapshot's namespace.
    t.kubectl(&["create", "namespace", "elsewhere"], None);
    t.kubectl(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "routevault",
            "-f",
            "-",
        ],
        Some(&ingress("other", "elsewhere", "other.example.com")),
    );
    t.kubectl(
        &[
            "create",
            "configmap",
            "app-settings",
            "-n",
            "shop",
            "--from-literal=a=b",
        ],
        None,
    );

    let (code, report) = t.drift(&build1);
    assert_eq!(code, 1, "drift exits 1: {report:#}");
    assert_eq!(
        differences(&report),
        vec![
            (
                "changed".into(),
                "networking.k8s.io/Ingress shop/web".into()
            ),
            (
                "extra".into(),
                "networking.k8s.io/Ingress shop/by-hand".into()
            ),
            (
                "extra".into(),
                "networking.k8s.io/Ingress shop/leftover".into()
            ),
            ("missing".into(), "Service shop/web-canary".into()),
        ]
    );
    let web = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["state"] == "changed")
        .unwrap();
    assert_eq!(web["changes"][0]["path"], "spec.rules[0].host");
    assert_eq!(web["changes"][0]["old"], "shop.example.com");
    assert_eq!(web["changes"][0]["new"], "evil.example.com");
    // The text report says the same, and so does the exit code.
    let text = t.run(&["diff", &build1, "--cluster", "a"]).code(1);
    assert!(
        text.stdout
            .contains(r#"spec.rules[0].host: "shop.example.com" → "evil.example.com""#),
        "{}",
        text.stdout
    );

    // A dry run lists the deletion and deletes nothing.
    let dry = t.restore(&build1, &["--prune", "--dry-run"]);
    assert_eq!(
        pruned(&dry),
        vec!["networking.k8s.io/Ingress shop/leftover"],
        "{dry:#}"
    );
    assert!(t.exists(&["ingress", "leftover", "-n", "shop"]));
    assert!(!t.exists(&["service", "web-canary", "-n", "shop"]));

    let done = t.restore(&build1, &["--prune"]);
    assert_eq!(
        pruned(&done),
        vec!["networking.k8s.io/Ingress shop/leftover"],
        "{done:#}"
    );
    let kept = done["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "networking.k8s.io/Ingress shop/by-hand")
        .unwrap();
    assert_eq!(kept["outcome"], "skipped");
    assert!(
        kept["message"].as_str().unwrap().contains("kubectl"),
        "{kept}"
    );
    assert!(!t.exists(&["ingress", "leftover", "-n", "shop"]));
    assert!(t.exists(&["ingress", "by-hand", "-n", "shop"]));
    assert!(t.exists(&["ingress", "other", "-n", "elsewhere"]));
    assert!(t.exists(&["configmap", "app-settings", "-n", "shop"]));
    let (code, report) = t.drift(&build1);
    assert_eq!(code, 1);
    assert_eq!(
        differences(&report),
        vec![(
            "extra".into(),
            "networking.k8s.io/Ingress shop/by-hand".into()
        )]
    );

    t.restore(&build1, &["--prune", "--prune-all"]);
    assert!(!t.exists(&["ingress", "by-hand", "-n", "shop"]));
    assert!(t.exists(&["ingress", "other", "-n", "elsewhere"]));
    assert!(t.exists(&["namespace", "elsewhere"]));
    let (code, report) = t.drift(&build1);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn a_rollback_with_prune_leaves_exactly_the_previous_build_and_builds_diff_without_a_key() {
    let t = Routing::new();
    let build1 = snapshot(&t.ws, &scenario("storefront"), "1");
    let build2 = snapshot(&t.ws, &second_build(&t.ws), "2");

    // What build 2 changed, read from the two sealed snapshots with no unseal key.
    let run = t.run(&["diff", &build1, &build2, "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["against"]["build_id"], "2");
    assert_eq!(report["snapshot"]["build_id"], "1");
    assert_eq!(
        differences(&report),
        vec![
            (
                "added".into(),
                "networking.k8s.io/Ingress shop/web-api".into()
            ),
            ("changed".into(), "Secret shop/shop-tls".into()),
            (
                "changed".into(),
                "networking.k8s.io/Ingress shop/web".into()
            ),
            ("removed".into(), "Service shop/web-canary".into()),
            (
                "removed".into(),
                "networking.k8s.io/Ingress shop/web-canary".into()
            ),
        ]
    );
    let secret = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["object"] == "Secret shop/shop-tls")
        .unwrap();
    assert_eq!(secret["changes"].as_array().unwrap().len(), 1, "{secret}");
    assert_eq!(secret["changes"][0]["path"], r#"data["tls.key"]"#);
    assert_eq!(secret["changes"][0]["hidden"], true);
    assert!(!run.stdout.contains("UkVORVdFRC1LRVk="));
    assert_eq!(report["values_not_compared"], 0);
    t.run(&["diff", &build1, &build1]).code(0);

    // Deploy build 1, then build 2 (replace), then roll back to build 1.
    t.restore(&build1, &["--prune"]);
    let deployed = t.restore(&build2, &["--prune"]);
    // Routes go before the Services they point at.
    assert_eq!(
        pruned(&deployed),
        vec![
            "networking.k8s.io/Ingress shop/web-canary",
            "Service shop/web-canary"
        ],
        "{deployed:#}"
    );
    assert_eq!(t.drift(&build2).0, 0);
    let rolled_back = t.restore(&build1, &["--prune"]);
    assert_eq!(
        pruned(&rolled_back),
        vec!["networking.k8s.io/Ingress shop/web-api"]
    );
    let (code, report) = t.drift(&build1);
    assert_eq!(
        code, 0,
        "after the rollback the cluster is exactly build 1: {report:#}"
    );
    let key = t.kubectl(
        &[
            "get",
            "secret",
            "shop-tls",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.tls\\.key}",
        ],
        None,
    );
    assert_ne!(
        key, "UkVORVdFRC1LRVk=",
        "the rollback restored build 1's key"
    );

    // Against the cluster, a sealed value's change is seen with the signer's key alone.
    t.kubectl(
        &[
            "patch",
            "secret",
            "shop-tls",
            "-n",
            "shop",
            "--type=merge",
            "-p",
            r#"{"data":{"tls.key":"U1dBUFBFRA=="}}"#,
        ],
        None,
    );
    let sign_key = t.ws.sign_key();
    let run = t.run(&[
        "diff",
        &build1,
        "--cluster",
        "a",
        "--sign-key",
        sign_key.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        differences(&report),
        vec![("changed".into(), "Secret shop/shop-tls".into())]
    );
    assert!(!run.stdout.contains("U1dBUFBFRA=="));
    // Without a key it cannot tell, and says so instead of claiming sync or drift.
    let (code, report) = t.drift(&build1);
    assert_eq!(code, 0);
    assert_eq!(report["values_not_compared"], 2, "{report:#}");
    assert!(report["warnings"].to_string().contains("--sign-key"));
}

#[test]
fn diff_errors_are_not_drift() {
    let t = Routing::new();
    let build1 = snapshot(&t.ws, &scenario("storefront"), "1");
    // Nothing to compare with is an error of diff's own (no cluster in the environment either).
    let (store, trust) = (t.ws.store(), t.ws.sign_pub());
    let run =
        t.ws.run(&[
            "diff",
            &build1,
            "--env",
            "shop",
            "--store",
            store.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
        ])
        .code(4);
    assert!(run.stderr.contains("--cluster CONTEXT"), "{}", run.stderr);
    // An unknown context is an error (4), a missing snapshot too; neither is "drift" (1).
    t.run(&["diff", &build1, "--cluster", "nowhere"]).code(4);
    t.run(&["diff", "20990101T000000.000Z-000000", "--cluster", "a"])
        .code(4);
    // A tampered artifact fails verification (3).
    let artifact = t.ws.artifact("shop", &build1);
    let mut bytes = std::fs::read(&artifact).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    support::cli::tamper_write(&artifact, &bytes);
    t.run(&["diff", &build1, "--cluster", "a"]).code(3);
}

#[test]
fn prune_is_refused_up_front_without_delete_permission() {
    let t = Routing::new();
    let build1 = snapshot(&t.ws, &scenario("storefront"), "1");
    // The shipped restore role without its delete verb, for the bed's `limited` user.
    let role =
        std::fs::read_to_string(support::cli::repo().join("docs/deploy/restore/clusterrole.yaml"))
            .unwrap()
            .replace(", delete]", "]")
            .replace("name: routevault-restore", "name: restore-without-delete");
    assert!(!role.contains("delete]"));
    t.kubectl(&["apply", "-f", "-"], Some(&role));
    t.kubectl(
        &[
            "create",
            "clusterrolebinding",
            "limited-restore",
            "--clusterrole",
            "restore-without-delete",
            "--user",
            "limited",
        ],
        None,
    );
    t.bed
        .wait_until_allowed("a", "limited", "patch", "ingresses");
    let unseal = t.ws.seal_key();
    let restore = |extra: &[&str]| {
        let mut args = vec![
            "restore",
            &build1,
            "--cluster",
            "a-limited",
            "--unseal-key",
            unseal.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        t.run(&args)
    };
    let refused = restore(&["--prune"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains("delete") && refused.stderr.contains("nothing was applied"),
        "{}",
        refused.stderr
    );
    assert!(!t.exists(&["namespace", "shop"]), "nothing was applied");
    // The same role restores without --prune.
    restore(&[]).ok();
    assert!(t.exists(&["ingress", "web", "-n", "shop"]));
}

#[test]
fn a_clone_is_checked_against_its_source_snapshot_through_the_same_rewrites() {
    let t = Routing::new();
    let build1 = snapshot(&t.ws, &scenario("storefront"), "1");
    let clone = [
        "--namespace-map",
        "shop=shop-staging",
        "--host-rewrite",
        "shop.example.com=shop.staging.example.com",
    ];
    t.restore(&build1, &clone);
    let mut args = vec!["diff", &build1, "--cluster", "a", "-o", "json"];
    args.extend_from_slice(&clone);
    let run = t.run(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["scope"]["namespaces"],
        serde_json::json!(["shop-staging"])
    );

    // Without the rewrites the clone is not the snapshot: all of it is missing.
    let (code, report) = t.drift(&build1);
    assert_eq!(code, 1);
    assert!(
        differences(&report)
            .iter()
            .all(|(state, _)| state == "missing"),
        "{report:#}"
    );

    // Drift in the clone is drift against the rewritten snapshot.
    t.kubectl(
        &[
            "patch",
            "ingress",
            "web",
            "-n",
            "shop-staging",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/rules/1/host","value":"www.elsewhere.example.com"}]"#,
        ],
        None,
    );
    let run = t.run(&args);
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        differences(&report),
        vec![(
            "changed".into(),
            "networking.k8s.io/Ingress shop-staging/web".into()
        )]
    );
    assert_eq!(
        report["differences"][0]["changes"][0]["old"],
        "www.shop.staging.example.com"
    );
}

#[test]
fn namespaces_are_pruned_only_when_asked_and_only_in_a_whole_cluster_scope() {
    let t = Routing::new();
    t.bed.apply_dir("a", &scenario("storefront"));
    let (store, key, seal) = (t.ws.store(), t.ws.sign_key(), t.ws.seal_pub());
    let kubeconfig = t.bed.kubeconfig();
    let whole =
        t.ws.run(&[
            "snapshot",
            "--cluster",
            "a",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--sign-key",
            key.to_str().unwrap(),
            "--seal-to",
            seal.to_str().unwrap(),
            "--env",
            "shop",
        ])
        .ok()
        .last_line();
    // A namespace of routing that the snapshot does not know, both applied by routevault (a
    // Namespace with only a name would record no field manager at all, and be kept).
    let temp = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: temp\n  labels: {{team: temp}}\n---\n{}",
        ingress("web", "temp", "temp.example.com")
    );
    t.kubectl(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "routevault",
            "-f",
            "-",
        ],
        Some(&temp),
    );
    let (code, report) = t.drift(&whole);
    assert_eq!(code, 1);
    assert_eq!(
        differences(&report),
        vec![
            ("extra".into(), "Namespace temp".into()),
            ("extra".into(), "networking.k8s.io/Ingress temp/web".into()),
        ]
    );

    let dry = t.restore(&whole, &["--prune", "--dry-run"]);
    assert_eq!(pruned(&dry), vec!["networking.k8s.io/Ingress temp/web"]);
    let dry = t.restore(&whole, &["--prune", "--prune-namespaces", "--dry-run"]);
    assert_eq!(
        pruned(&dry),
        vec!["networking.k8s.io/Ingress temp/web", "Namespace temp"],
        "{dry:#}"
    );
    assert!(t.exists(&["ingress", "web", "-n", "temp"]));

    t.restore(&whole, &["--prune", "--prune-namespaces"]);
    assert!(!t.exists(&["ingress", "web", "-n", "temp"]));
    // Without a namespace controller on the bed, a deleted Namespace stays Terminating.
    let phase = t.bed.kubectl(
        "a",
        &["get", "namespace", "temp", "-o", "jsonpath={.status.phase}"],
        None,
    );
    let phase = String::from_utf8_lossy(&phase.stdout);
    assert!(phase.is_empty() || phase == "Terminating", "{phase}");
    assert!(t.exists(&["namespace", "shop"]));
}
