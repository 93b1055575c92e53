//! Restores into a cluster on the bed: a DR restore from S3 recreates cluster A's routing in a
//! fresh cluster B (and a second run changes nothing); a clone rewrites namespaces, hosts,
//! classes and issuers; a tampered artifact applies nothing; a user without permission is
//! refused before anything is applied.

mod support;

use serde_json::Value;
use support::bed::{Bed, BedSpec};
use support::cli::{Run, Workspace, objects_in, scenario, scenarios};

struct Drill {
    bed: Bed,
    ws: Workspace,
    store: String,
    env: Vec<(String, String)>,
}

impl Drill {
    /// Clusters a (every scenario applied) and b (empty), both with the CRDs, and S3.
    fn new() -> Drill {
        let bed = Bed::start(BedSpec {
            clusters: &["a", "b"],
            s3: true,
            crds: true,
            ..Default::default()
        });
        for name in scenarios() {
            bed.apply_dir("a", &scenario(&name));
        }
        let store = format!("s3://{}/drill", bed.var("ROUTEVAULT_TEST_BUCKET"));
        let mut env = bed.s3_env();
        // A restore reads its own variables, never the snapshot job's.
        for name in ["ROUTEVAULT_KUBECONFIG", "ROUTEVAULT_RESTORE_KUBECONFIG"] {
            env.push((name.into(), bed.kubeconfig().display().to_string()));
        }
        Drill {
            bed,
            ws: Workspace::new(),
            store,
            env,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    fn run_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend_from_slice(extra_env);
        self.ws.run_keyed(args, &self.store, &env)
    }

    fn snapshot(&self, cluster: &str, env: &str) -> String {
        self.run(&["snapshot", "--cluster", cluster, "--env", env])
            .ok()
            .last_line()
    }

    fn restore_json(&self, id: &str, env: &str, extra: &[&str]) -> (Run, Value) {
        let mut args = vec!["restore", id, "--env", env, "-o", "json"];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        let report = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
        (run, report)
    }

    fn to_dir(&self, id: &str, env: &str, name: &str) -> std::path::PathBuf {
        let out = self.ws.path(name);
        self.run(&[
            "restore",
            id,
            "--env",
            env,
            "--to-dir",
            out.to_str().unwrap(),
        ])
        .ok();
        out
    }

    fn get(&self, cluster: &str, args: &[&str]) -> Value {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend(["-o", "json"]);
        serde_json::from_str(&self.bed.kubectl_ok(cluster, &full, None)).unwrap()
    }
}

#[test]
fn dr_restore_recreates_routing_and_a_second_run_changes_nothing() {
    let drill = Drill::new();
    let id = drill.snapshot("a", "prod");

    // `--context` is `--cluster` under kubectl's name.
    let (run, report) = drill.restore_json(&id, "prod", &["--context", "b"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let total = report["objects"].as_array().unwrap().len();
    assert!(total > 20, "{report}");
    assert_eq!(report["counts"]["created"], total, "{}", report["counts"]);
    assert!(report["tiers"].as_array().unwrap().len() >= 8);

    // B's routing equals A's: snapshot B and compare both snapshots object by object.
    let id_b = drill
        .run(&["snapshot", "--context", "b", "--env", "dr"])
        .ok()
        .last_line();
    let a = objects_in(&drill.to_dir(&id, "prod", "from-a"));
    let b = objects_in(&drill.to_dir(&id_b, "dr", "from-b"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{} differs after the DR restore", x.object_ref());
    }
    // Services got new cluster IPs from B; the explicit nodePort was kept.
    let svc_a = drill.get("a", &["service", "web-legacy-lb", "-n", "shop"]);
    let svc_b = drill.get("b", &["service", "web-legacy-lb", "-n", "shop"]);
    assert!(
        svc_b["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.")
    );
    assert_eq!(svc_b["spec"]["ports"][0]["nodePort"], 30080);
    assert_eq!(svc_a["spec"]["ports"][0]["nodePort"], 30080);
    let secret = drill.get("b", &["secret", "shop-tls", "-n", "shop"]);
    assert_eq!(
        secret["data"],
        drill.get("a", &["secret", "shop-tls", "-n", "shop"])["data"]
    );

    // Idempotent: the same restore again reports everything unchanged. This time the target
    // comes from the restore's own variable.
    let run = drill.run_with(
        &["restore", &id, "--env", "prod", "-o", "json"],
        &[("ROUTEVAULT_RESTORE_CLUSTER", "b")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let again: Value = serde_json::from_str(&run.stdout).unwrap();
    let changed: Vec<&Value> = again["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["outcome"] != "unchanged")
        .collect();
    assert_eq!(again["counts"]["unchanged"], total, "{changed:?}");

    // Someone edits B: a dry run shows the drift as a change (Secret values masked), and
    // changes nothing; the real run puts the snapshot's values back.
    drill.bed.kubectl_ok(
        "b",
        &[
            "label",
            "ingress",
            "web",
            "-n",
            "shop",
            "--overwrite",
            "app=drifted",
        ],
        None,
    );
    let patch = r#"{"data":{"tls.key":"ZHJpZnRlZA=="}}"#;
    drill.bed.kubectl_ok(
        "b",
        &["patch", "secret", "shop-tls", "-n", "shop", "-p", patch],
        None,
    );
    let (run, dry) = drill.restore_json(&id, "prod", &["--cluster", "b", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let changed: Vec<&Value> = dry["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["outcome"] == "updated")
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    let all_changes = serde_json::to_string(&changed).unwrap();
    assert!(
        all_changes.contains(".metadata.labels.app: \\\"drifted\\\" -> \\\"web\\\""),
        "{all_changes}"
    );
    assert!(
        all_changes.contains(".data.tls.key: <masked> -> <masked>")
            && !all_changes.contains("ZHJpZnRlZA"),
        "{all_changes}"
    );
    assert_eq!(
        drill.get("b", &["ingress", "web", "-n", "shop"])["metadata"]["labels"]["app"],
        "drifted"
    );
    let (run, fixed) = drill.restore_json(&id, "prod", &["--cluster", "b"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fixed["counts"]["updated"], 2, "{}", fixed["counts"]);
    assert_eq!(
        drill.get("b", &["ingress", "web", "-n", "shop"])["metadata"]["labels"]["app"],
        "web"
    );

    // A dry run against A's own routing finds nothing to change, and changes nothing.
    let (run, dry) = drill.restore_json(&id, "prod", &["--cluster", "b", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dry["counts"]["unchanged"], total, "{}", dry["counts"]);
}

#[test]
fn clone_rewrites_namespaces_hosts_classes_and_issuers() {
    let drill = Drill::new();
    let id = drill.snapshot("a", "prod");
    let maps = [
        "--cluster",
        "b",
        "--namespace-map",
        "shop=shop-stg",
        "--namespace-map",
        "edge=edge-stg",
        "--namespace-map",
        "tenant-a=tenant-a-stg",
        "--host-rewrite",
        "example.com=staging.example.net",
        "--ingress-class-map",
        "nginx=nginx-stg",
        "--issuer-map",
        "letsencrypt-prod=letsencrypt-staging",
    ];
    // A dry run first: says what it would create, creates nothing.
    let (run, dry) = drill.restore_json(
        &id,
        "prod",
        &maps
            .iter()
            .copied()
            .chain(["--dry-run"])
            .collect::<Vec<_>>(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dry["counts"]["created"].as_u64().unwrap() > 20);
    assert!(
        !drill
            .bed
            .kubectl_ok("b", &["get", "ns"], None)
            .contains("shop-stg"),
        "a dry run created a namespace"
    );

    let (run, _) = drill.restore_json(&id, "prod", &maps);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let ingress = drill.get("b", &["ingress", "web", "-n", "shop-stg"]);
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "shop.staging.example.net"
    );
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"],
        serde_json::json!(["shop.staging.example.net", "www.shop.staging.example.net"])
    );
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx-stg");
    drill.get("b", &["ingressclass", "nginx-stg"]);
    drill.get("b", &["secret", "shop-tls", "-n", "shop-stg"]);

    let cert = drill.get(
        "b",
        &[
            "certificates.cert-manager.io",
            "portal",
            "-n",
            "tenant-a-stg",
        ],
    );
    assert_eq!(cert["spec"]["issuerRef"]["name"], "letsencrypt-staging");
    assert_eq!(
        cert["spec"]["dnsNames"],
        serde_json::json!(["a.tenants.staging.example.net"])
    );
    let portal = drill.get("b", &["ingress", "portal", "-n", "tenant-a-stg"]);
    assert_eq!(
        portal["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt-staging"
    );
    drill.get(
        "b",
        &["clusterissuers.cert-manager.io", "letsencrypt-staging"],
    );

    let gateway = drill.get(
        "b",
        &[
            "gateways.gateway.networking.k8s.io",
            "public",
            "-n",
            "edge-stg",
        ],
    );
    assert_eq!(
        gateway["spec"]["listeners"][1]["hostname"],
        "*.edge.staging.example.net"
    );
    let route = drill.get(
        "b",
        &[
            "httproutes.gateway.networking.k8s.io",
            "orders",
            "-n",
            "api",
        ],
    );
    assert_eq!(route["spec"]["parentRefs"][0]["namespace"], "edge-stg");
    assert_eq!(
        route["spec"]["hostnames"],
        serde_json::json!(["orders.edge.staging.example.net"])
    );
    let grant = drill.get(
        "b",
        &[
            "referencegrants.gateway.networking.k8s.io",
            "edge-gateway-certs",
            "-n",
            "certs",
        ],
    );
    assert_eq!(grant["spec"]["from"][0]["namespace"], "edge-stg");
    // Unmapped namespaces stay as they were; mapped ones are not created under their old name.
    let namespaces = drill
        .bed
        .kubectl_ok("b", &["get", "ns", "-o", "name"], None);
    assert!(
        namespaces.contains("namespace/api") && !namespaces.contains("namespace/shop\n"),
        "{namespaces}"
    );
}

#[test]
fn tampered_artifact_and_missing_permissions_apply_nothing() {
    let drill = Drill::new();
    let id = drill.snapshot("a", "prod");
    let before = drill
        .bed
        .kubectl_ok("b", &["get", "ns", "-o", "name"], None);

    // Without permission: refused before anything is applied, naming what is missing.
    let (run, _) = drill.restore_json(&id, "prod", &["--cluster", "b-limited"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("may not change") && run.stderr.contains("nothing was applied"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("namespaces"), "{}", run.stderr);
    assert_eq!(
        drill
            .bed
            .kubectl_ok("b", &["get", "ns", "-o", "name"], None),
        before
    );

    // A flipped byte in the stored artifact: exit 3, nothing applied.
    let store = drill.bed.store(&drill.store);
    let key = routevault::store::snapshots::artifact_key("prod", &id);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut bytes = rt
        .block_on(routevault::store::ObjectStore::get_bytes(
            &store,
            &key,
            None,
            1 << 30,
        ))
        .unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    // An attacker who may delete object versions (more than the snapshot writer may) replaces
    // the object: every version goes, so the altered bytes are the only ones left. (A plain
    // write over it is ignored: tests/store_trust.rs.)
    let listed = rt
        .block_on(routevault::store::ObjectStore::list(&store, &key))
        .unwrap();
    for version in &listed[0].all_versions {
        rt.block_on(routevault::store::ObjectStore::delete(
            &store,
            &key,
            Some(version),
        ))
        .unwrap();
    }
    if listed[0].all_versions.is_empty() {
        rt.block_on(routevault::store::ObjectStore::delete(&store, &key, None))
            .unwrap();
    }
    rt.block_on(routevault::store::ObjectStore::put_new_bytes(
        &store, &key, &bytes, None,
    ))
    .unwrap();
    let (run, _) = drill.restore_json(&id, "prod", &["--cluster", "b"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        drill
            .bed
            .kubectl_ok("b", &["get", "ns", "-o", "name"], None),
        before,
        "a tampered artifact changed the cluster"
    );
}

#[test]
fn a_restore_killed_midway_converges_when_run_again() {
    let bed = Bed::start(BedSpec {
        clusters: &["b"],
        ..Default::default()
    });
    let ws = Workspace::new();
    let source = ws.path("env");
    let status = std::process::Command::new("python3")
        .arg(support::cli::repo().join("tests/bench/generate.py"))
        .args([source.to_str().unwrap(), "20", "25"])
        .status()
        .unwrap();
    assert!(status.success());
    let id = ws.snapshot(&source, "big");
    let total = 20 * (1 + 3 * 25);
    let (store, trust, unseal, kubeconfig) =
        (ws.store(), ws.sign_pub(), ws.seal_key(), bed.kubeconfig());
    let args = [
        "restore",
        &id,
        "--env",
        "big",
        "--store",
        store.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
        "--unseal-key",
        unseal.to_str().unwrap(),
        "--cluster",
        "b",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--concurrency",
        "2",
        "-o",
        "json",
    ];
    let mut child = std::process::Command::new(support::cli::bin())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it is well under way: Namespaces done, Secrets being applied.
    let mut killed = false;
    for _ in 0..600 {
        let secrets = bed
            .kubectl_ok("b", &["get", "secrets", "-A", "--no-headers"], None)
            .lines()
            .count();
        if secrets >= 50 {
            child.kill().unwrap();
            killed = true;
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore finished before it could be killed; make the environment bigger"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(killed, "the restore never got under way");
    child.wait().unwrap();
    let partial = bed
        .kubectl_ok("b", &["get", "ingresses", "-A", "--no-headers"], None)
        .lines()
        .count();
    assert!(
        partial < 500,
        "the first run got too far ({partial} Ingresses) to show convergence"
    );

    let run = ws.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let counts = &report["counts"];
    let created = counts["created"].as_u64().unwrap_or(0);
    let unchanged =
        counts["unchanged"].as_u64().unwrap_or(0) + counts["updated"].as_u64().unwrap_or(0);
    assert_eq!(created + unchanged, total as u64, "{counts}");
    assert!(
        unchanged >= 50,
        "the re-run should find the first run's objects: {counts}"
    );
    assert_eq!(
        bed.kubectl_ok("b", &["get", "ingresses", "-A", "--no-headers"], None)
            .lines()
            .count(),
        500
    );
    assert_eq!(
        bed.kubectl_ok("b", &["get", "secrets", "-A", "--no-headers"], None)
            .lines()
            .count(),
        500
    );
}
