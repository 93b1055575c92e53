//! Snapshots of live clusters on the bed's real kube-apiservers: every scenario applied with
//! server-side apply snapshots to exactly the objects of its folder; the manifest records the
//! cluster's identity and which kinds it serves; pagination; and least privilege.

mod support;

use std::fs;

use serde_json::Value;
use support::bed::{Bed, BedSpec};
use support::cli::{Run, Workspace, expected, objects_in, scenario, scenarios};

fn snapshot_cluster(ws: &Workspace, bed: &Bed, context: &str, env: &str, extra: &[&str]) -> Run {
    let (kubeconfig, store, key, seal) =
        (bed.kubeconfig(), ws.store(), ws.sign_key(), ws.seal_pub());
    let mut args = vec![
        "snapshot",
        "--cluster",
        context,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--env",
        env,
        "--sign-key",
        key.to_str().unwrap(),
        "--seal-to",
        seal.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ws.run(&args)
}

fn inspect(ws: &Workspace, env: &str, id: &str) -> Value {
    let (store, trust) = (ws.store(), ws.sign_pub());
    let run = ws
        .run(&[
            "inspect",
            id,
            "--env",
            env,
            "--store",
            store.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "-o",
            "json",
        ])
        .ok();
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn every_scenario_applied_to_a_cluster_snapshots_to_its_folder() {
    let names = scenarios();
    let clusters: Vec<String> = (0..names.len()).map(|i| format!("c{i}")).collect();
    let cluster_refs: Vec<&str> = clusters.iter().map(String::as_str).collect();
    let bed = Bed::start(BedSpec {
        clusters: &cluster_refs,
        crds: true,
        ..Default::default()
    });
    let ws = Workspace::new();
    for (name, cluster) in names.iter().zip(&clusters) {
        bed.apply_dir(cluster, &scenario(name));
        let id = snapshot_cluster(&ws, &bed, cluster, name, &[])
            .ok()
            .last_line();
        let out = ws.path(&format!("restored-{name}"));
        ws.restore(
            name,
            &id,
            &out,
            &["--unseal-key", ws.seal_key().to_str().unwrap()],
        )
        .ok();
        // Every file written reads back in kubectl (YAML 1.1) as what was written: the API
        // server takes the whole folder (an unquoted `on` would be a boolean annotation).
        bed.kubectl_ok(
            cluster,
            &[
                "apply",
                "--server-side",
                "--dry-run=server",
                "-R",
                "-f",
                out.to_str().unwrap(),
            ],
            None,
        );
        let got = objects_in(&out);
        let want = expected(&scenario(name));
        let got_refs: Vec<String> = got.iter().map(|o| o.object_ref().to_string()).collect();
        let want_refs: Vec<String> = want.iter().map(|o| o.object_ref().to_string()).collect();
        assert_eq!(got_refs, want_refs, "{name}: captured set");
        for (g, w) in got.iter().zip(&want) {
            // The cluster may serve a kind at a preferred version other than the folder's
            // (ReferenceGrant: v1 here, v1beta1 in the folder); the object is the same.
            let (g_group, g_version) = routevault::catalog::split_api_version(g.api_version());
            let (w_group, w_version) = routevault::catalog::split_api_version(w.api_version());
            assert_eq!(g_group, w_group);
            let info = g.catalog_kind().unwrap();
            assert!(
                g_version == w_version || g_version == info.versions[0],
                "{name}: captured at {g_version}"
            );
            let mut g = g.0.clone();
            g["apiVersion"] = w.0["apiVersion"].clone();
            // A value inside a CRD's atomic list that equals its schema default (a Gateway
            // API `kind: Secret` written out) cannot be told from one the server filled in:
            // the snapshot leaves both out, and the target's server fills both back in.
            let mut w = w.clone();
            if info.optional {
                let crd = bed.kubectl_ok(
                    cluster,
                    &[
                        "get",
                        "crd",
                        &format!("{}.{}", info.plural, info.group),
                        "-o",
                        "json",
                    ],
                    None,
                );
                let crd: serde_json::Value = serde_json::from_str(&crd).unwrap();
                let schema = crd["spec"]["versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["name"] == w_version)
                    .map(|v| v["schema"]["openAPIV3Schema"].clone())
                    .unwrap();
                routevault::defaults::strip_atomic_defaults(&mut w.0, &schema);
            }
            assert_eq!(
                g,
                w.0,
                "{name}: {} differs between the cluster and the folder",
                w.object_ref()
            );
        }
        // Secret data read from the cluster survives sealing and unsealing byte for byte.
        for secret in got.iter().filter(|o| o.kind() == "Secret") {
            let live = bed.kubectl_ok(
                cluster,
                &[
                    "get",
                    "secret",
                    secret.name(),
                    "-n",
                    secret.namespace().unwrap(),
                    "-o",
                    "json",
                ],
                None,
            );
            let live: Value = serde_json::from_str(&live).unwrap();
            assert_eq!(
                secret.0["data"],
                live["data"],
                "{name}: {}",
                secret.object_ref()
            );
        }
    }
}

#[test]
fn manifest_records_identity_served_kinds_and_pagination_changes_nothing() {
    let bed = Bed::start(BedSpec {
        clusters: &["plain"],
        ..Default::default()
    });
    let ws = Workspace::new();
    bed.apply_dir("plain", &scenario("storefront"));
    let run = snapshot_cluster(&ws, &bed, "plain", "prod", &["-o", "json"]).ok();
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    let id = summary["id"].as_str().unwrap().to_string();
    assert_eq!(summary["counts"]["Ingress"], 2);
    assert_eq!(
        summary["counts"]["Service"], 3,
        "default/kubernetes must stay out: {summary}"
    );

    let manifest = inspect(&ws, "prod", &id)["manifest"].clone();
    let source = &manifest["source"];
    assert_eq!(source["kind"], "cluster");
    assert_eq!(source["server"], bed.server("plain").as_str());
    assert_eq!(source["server_version"], "v1.34.4");
    let uid = bed.kubectl_ok(
        "plain",
        &[
            "get",
            "namespace",
            "kube-system",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
        None,
    );
    assert_eq!(source["cluster_id"], uid.as_str());
    let served: Vec<&str> = source["kinds_served"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let absent: Vec<&str> = source["kinds_absent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        served.contains(&"networking.k8s.io/v1/Ingress") && served.contains(&"v1/Secret"),
        "{served:?}"
    );
    assert!(
        absent.contains(&"cert-manager.io/Certificate")
            && absent.contains(&"gateway.networking.k8s.io/HTTPRoute"),
        "{absent:?}"
    );

    // Many small pages give the same snapshot as one big page.
    let paged = snapshot_cluster(
        &ws,
        &bed,
        "plain",
        "prod",
        &["--page-size", "1", "-o", "json"],
    )
    .ok();
    let paged: Value = serde_json::from_str(&paged.stdout).unwrap();
    assert_eq!(paged["counts"], summary["counts"]);
    let paged_manifest = inspect(&ws, "prod", paged["id"].as_str().unwrap())["manifest"].clone();
    let digests = |m: &Value| {
        m["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["sha256"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // Sealed Secrets differ by nonce; everything else is byte-identical.
    let unsealed = |m: &Value| {
        m["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["sealed"] == false)
            .map(|e| e["sha256"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(digests(&manifest).len(), digests(&paged_manifest).len());
    assert_eq!(unsealed(&manifest), unsealed(&paged_manifest));
}

#[test]
fn least_privilege_role_is_enough_and_its_absence_is_named() {
    let bed = Bed::start(BedSpec {
        clusters: &["rbac"],
        crds: true,
        ..Default::default()
    });
    let ws = Workspace::new();
    bed.apply_dir("rbac", &scenario("tenants"));

    let refused = snapshot_cluster(&ws, &bed, "rbac-limited", "prod", &[]).code(1);
    assert!(
        refused.stderr.contains("forbidden") && refused.stderr.contains("limited"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("namespaces"),
        "the missing permission is named: {}",
        refused.stderr
    );
    assert!(!ws.store().exists(), "a refused snapshot stored something");

    let role =
        fs::read_to_string(support::cli::repo().join("docs/deploy/snapshot/clusterrole.yaml"))
            .unwrap();
    bed.kubectl_ok("rbac", &["apply", "--server-side", "-f", "-"], Some(&role));
    let binding = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: routevault-snapshot-testers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: routevault-snapshot}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: routevault-testers}]
"#;
    bed.kubectl_ok(
        "rbac",
        &["apply", "--server-side", "-f", "-"],
        Some(binding),
    );
    // RBAC changes reach the authorizer through an informer: wait until they are in force.
    for _ in 0..100 {
        if bed
            .kubectl("rbac-limited", &["get", "ingresses", "-A"], None)
            .status
            .success()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let limited = snapshot_cluster(&ws, &bed, "rbac-limited", "prod", &["-o", "json"]).ok();
    let admin = snapshot_cluster(&ws, &bed, "rbac", "prod", &["-o", "json"]).ok();
    let counts = |r: &Run| serde_json::from_str::<Value>(&r.stdout).unwrap()["counts"].clone();
    assert_eq!(counts(&limited), counts(&admin));
    assert!(counts(&limited)["Certificate"].as_u64().unwrap() >= 2);
}

/// Asks the bed's etcd of `cluster` (its JSON gateway) to compact away every revision before
/// the current one: what the API server's own compactor does every 5 minutes, and what
/// expires a continue token.
/// How many namespaced Service LISTs cluster `a`'s API server has answered
/// (`apiserver_request_total`, every response code).
fn service_lists(bed: &Bed) -> u64 {
    bed.kubectl_ok("a", &["get", "--raw", "/metrics"], None)
        .lines()
        .filter(|line| {
            line.starts_with("apiserver_request_total{")
                && line.contains("resource=\"services\"")
                && line.contains("scope=\"namespace\"")
                && line.contains("verb=\"LIST\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn compact_etcd(bed: &Bed, cluster: &str) {
    let state: Value =
        serde_json::from_slice(&fs::read(bed.dir.path().join("bed.json")).unwrap()).unwrap();
    let etcd = state["clusters"][cluster]["etcd"]
        .as_str()
        .unwrap()
        .to_string();
    let post = |path: &str, body: &str| -> Value {
        let out = std::process::Command::new("curl")
            .args(["-sf", "-X", "POST", &format!("{etcd}{path}"), "-d", body])
            .output()
            .expect("running curl");
        assert!(
            out.status.success(),
            "etcd {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let revision = post("/v3/kv/range", r#"{"key": "AA=="}"#)["header"]["revision"]
        .as_str()
        .expect("etcd names its revision")
        .to_string();
    post(
        "/v3/kv/compaction",
        &format!(r#"{{"revision": "{revision}", "physical": true}}"#),
    );
}

/// A paginated LIST whose continue token expires midway (etcd compacted past the list's
/// revision, on the real API server: 410 Gone) starts again from the beginning and delivers
/// every object exactly once.
#[test]
fn an_expired_continue_token_restarts_the_list_without_duplicates() {
    // Kubernetes 1.34 serves the next pages from a snapshot of its watch cache while it holds
    // one (at least 75 s), so a compaction alone expires nothing; this API server reads pages
    // from etcd, as one does whose cache no longer holds the list's revision.
    let bed = Bed::start(BedSpec {
        clusters: &["a"],
        apiserver_args: &["--feature-gates=ListFromCacheSnapshot=false"],
        ..Default::default()
    });
    let mut services = "apiVersion: v1\nkind: Namespace\nmetadata: {name: paged}\n".to_string();
    for i in 0..12 {
        services += &format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: web-{i:02}, namespace: paged}}\n\
             spec: {{ports: [{{port: 80}}]}}\n"
        );
    }
    bed.kubectl_ok("a", &["apply", "-f", "-"], Some(&services));
    let kubeconfig = bed.kubeconfig();
    let no_service_account = std::path::Path::new("/nonexistent");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (names, restarts) = runtime.block_on(async {
        let connection = routevault::k8s::connect_to(&routevault::k8s::Target {
            kubeconfig: Some(&kubeconfig),
            context: Some("a"),
            in_cluster: false,
            service_account_dir: no_service_account,
        })
        .await
        .unwrap();
        let served = routevault::k8s::discovery::discover(&connection.client)
            .await
            .unwrap()
            .served;
        let kind = served
            .iter()
            .find(|k| k.info.group.is_empty() && k.info.kind == "Service")
            .unwrap();
        let mut pager =
            routevault::k8s::list::Pager::new(&connection.client, kind, Some("paged"), 5, None);
        let mut names = Vec::new();
        let lists_before = service_lists(&bed);
        let first = pager.next_page().await.unwrap().unwrap();
        assert_eq!(first.len(), 5);
        // The server's estimate of what is left, which a capture reserves room by.
        assert_eq!(pager.remaining(), Some(7), "remainingItemCount not read");
        names.extend(first);
        // Page 2 is asked for before it is: the API server answers it while page 1 is
        // handed on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while service_lists(&bed) < lists_before + 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "page 2 was not asked for ahead ({} Service LISTs served after page 1)",
                service_lists(&bed) - lists_before
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // The cluster moves on and etcd compacts: page 2 was served before, but the token it
        // carries (for page 3) names a lost revision.
        bed.kubectl_ok("a", &["create", "configmap", "later", "-n", "paged"], None);
        compact_etcd(&bed, "a");
        while let Some(page) = pager.next_page().await.unwrap() {
            names.extend(page);
        }
        assert_eq!(
            pager.remaining(),
            None,
            "nothing is left after the last page"
        );
        let names: Vec<String> = names
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        (names, pager.restarts())
    });
    assert_eq!(restarts, 1, "the list never met an expired token");
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "delivered twice: {names:?}");
    let expected: Vec<String> = (0..12).map(|i| format!("web-{i:02}")).collect();
    assert_eq!(sorted, expected);
}
