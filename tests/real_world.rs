//! The real-world scenario (`scenarios/real-world`, 151 objects in the shapes of public
//! projects' manifests) against kube-apiservers with the real cert-manager and Gateway API
//! CRDs: a clone into the same cluster and into another one, with every namespace and host
//! reference checked; an admission-defaulted IngressClass carried into a cluster whose
//! default class differs; a failed object holding back only what needs it; and what a
//! snapshot of the cluster leaves out (controllers' runtime objects). The folder round trip,
//! the DR restore through S3 and the second, unchanged restore run on every scenario in
//! `cluster_snapshot` and `cluster_restore`.

mod support;

use std::fs;

use serde_json::Value;
use support::bed::{Bed, BedSpec};
use support::cli::{Run, Workspace, scenario};

/// The namespaces of the real-world scenario, all mapped by the clones.
const NAMESPACES: &[&str] = &[
    "nginx-demo",
    "docs-examples",
    "certs",
    "infra",
    "team-a",
    "team-b",
    "team-c",
    "apps-only",
    "boutique",
    "podinfo",
    "dns",
    "kuard",
];

struct Setup {
    bed: Bed,
    ws: Workspace,
}

impl Setup {
    fn new(clusters: &[&str]) -> Setup {
        let bed = Bed::start(BedSpec {
            clusters,
            s3: false,
            crds: true,
            ..Default::default()
        });
        Setup {
            bed,
            ws: Workspace::new(),
        }
    }

    fn snapshot(&self, context: &str, env: &str) -> Run {
        let (kubeconfig, store, key, seal) = (
            self.bed.kubeconfig(),
            self.ws.store(),
            self.ws.sign_key(),
            self.ws.seal_pub(),
        );
        self.ws.run(&[
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
        ])
    }

    fn restore(&self, id: &str, env: &str, extra: &[&str]) -> (Run, Value) {
        let (kubeconfig, store, trust, unseal) = (
            self.bed.kubeconfig(),
            self.ws.store(),
            self.ws.sign_pub(),
            self.ws.seal_key(),
        );
        let mut args = vec![
            "restore",
            id,
            "--env",
            env,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "--unseal-key",
            unseal.to_str().unwrap(),
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        let run = self.ws.run(&args);
        let report = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
        (run, report)
    }

    fn get_all(&self, context: &str, kinds: &str, namespace: &str) -> Vec<Value> {
        let out = self.bed.kubectl_ok(
            context,
            &["get", kinds, "-n", namespace, "-o", "json"],
            None,
        );
        let list: Value = serde_json::from_str(&out).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }
}

const ROUTING_KINDS: &str = "services,ingresses.networking.k8s.io,secrets,configmaps,\
    endpointslices.discovery.k8s.io,certificates.cert-manager.io,issuers.cert-manager.io,\
    gateways.gateway.networking.k8s.io,listenersets.gateway.networking.k8s.io,\
    httproutes.gateway.networking.k8s.io,grpcroutes.gateway.networking.k8s.io,\
    tlsroutes.gateway.networking.k8s.io,tcproutes.gateway.networking.k8s.io,\
    udproutes.gateway.networking.k8s.io,referencegrants.gateway.networking.k8s.io,\
    backendtlspolicies.gateway.networking.k8s.io";

/// Every place a cloned object may name a namespace or a host, checked against the maps: no
/// namespace field names a source namespace, no host is left under the source domain.
fn assert_fully_cloned(object: &Value, source_namespaces: &[&str]) {
    let what = format!(
        "{} {}/{}",
        object["kind"], object["metadata"]["namespace"], object["metadata"]["name"]
    );
    let mut problems = Vec::new();
    scan(object, "", source_namespaces, &mut problems);
    assert!(problems.is_empty(), "{what}: {problems:#?}");
}

fn scan(value: &Value, path: &str, sources: &[&str], problems: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{path}/{key}");
                let text = inner.as_str().unwrap_or("");
                let names_source = sources.contains(&text);
                let is_namespace_field = key == "namespace"
                    || key == "kubernetes.io/metadata.name"
                    || path.ends_with("/matchExpressions/*");
                if is_namespace_field && names_source && !here.contains("managedFields") {
                    problems.push(format!("{here} = {text}"));
                }
                if key.starts_with("nginx.ingress.kubernetes.io/")
                    && let Some((ns, _)) = text.split_once('/')
                    && sources.contains(&ns)
                {
                    problems.push(format!("{here} = {text}"));
                }
                // A BackendTLSPolicy's hostname is the backend's own TLS name, which a clone
                // keeps (the backend's certificate does not change with the routing).
                let host_field = matches!(
                    key.as_str(),
                    "host" | "hostname" | "hostnames" | "hosts" | "dnsNames"
                ) && here != "/spec/validation/hostname";
                if host_field {
                    for host in inner.as_array().map_or(vec![inner], |a| a.iter().collect()) {
                        let host = host.as_str().unwrap_or("");
                        if host == "example.com" || host.ends_with(".example.com") {
                            problems.push(format!("{here} = {host}"));
                        }
                    }
                }
                scan(inner, &here, sources, problems);
            }
        }
        Value::Array(items) => {
            for item in items {
                scan(item, &format!("{path}/*"), sources, problems);
            }
            // matchExpressions values: the list of namespaces an `In` names.
            if path.ends_with("/values") {
                for item in items.iter().filter_map(Value::as_str) {
                    if sources.contains(&item) {
                        problems.push(format!("{path} contains {item}"));
                    }
                }
            }
        }
        _ => {}
    }
}

fn clone_args(keep_node_ports: bool) -> Vec<String> {
    let mut args = Vec::new();
    for ns in NAMESPACES {
        args.push("--namespace-map".to_string());
        args.push(format!("{ns}={ns}-stg"));
    }
    args.extend([
        "--host-rewrite".into(),
        "example.com=staging.example.net".into(),
    ]);
    if keep_node_ports {
        args.push("--keep-node-ports".into());
    }
    args
}

#[test]
fn clones_into_the_same_and_another_cluster_rewrite_every_namespace_and_host() {
    let setup = Setup::new(&["a", "b"]);
    setup.bed.apply_dir("a", &scenario("real-world"));
    let run = setup.snapshot("a", "prod").ok();
    let id = run.last_line();
    assert!(
        !run.stderr.contains("cannot read CustomResourceDefinition"),
        "{}",
        run.stderr
    );

    for target in ["a", "b"] {
        let args = clone_args(false);
        let mut full: Vec<&str> = vec!["--cluster", target];
        full.extend(args.iter().map(String::as_str));
        let (run, report) = setup.restore(&id, "prod", &full);
        assert_eq!(
            run.code, 0,
            "clone into {target}:\n{}\n{}",
            run.stdout, run.stderr
        );
        let failed = &report["counts"]["failed"];
        assert!(failed.is_null() || failed == 0, "{}", report["counts"]);
        // The source's own node port (30007) is held by the source on the same cluster: the
        // clone released it, and the report says so.
        let warnings = report["warnings"].to_string();
        assert!(
            warnings.contains("Service docs-examples-stg/my-nodeport: released nodePort 30007"),
            "{warnings}"
        );
        for ns in NAMESPACES {
            for object in setup.get_all(target, ROUTING_KINDS, &format!("{ns}-stg")) {
                assert_fully_cloned(&object, NAMESPACES);
            }
        }
        // Admitted by label, and captured with it: the clone of `apps-only` keeps its label.
        let apps = setup.bed.kubectl_ok(
            target,
            &[
                "get",
                "namespace",
                "apps-only-stg",
                "-o",
                "jsonpath={.metadata.labels}",
            ],
            None,
        );
        assert!(apps.contains("shared-gateway-access"), "{apps}");
        // A ClusterIssuer's Secrets travel with it (cert-manager's namespace is not mapped).
        setup.bed.kubectl_ok(
            target,
            &["get", "secret", "root-secret", "-n", "cert-manager"],
            None,
        );
    }

    // The source on `a` is untouched by the clone beside it.
    let source = setup.bed.kubectl_ok(
        "a",
        &[
            "get",
            "service",
            "my-nodeport",
            "-n",
            "docs-examples",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
        None,
    );
    assert_eq!(source, "30007");
    let issuer = setup.bed.kubectl_ok(
        "a",
        &[
            "get",
            "clusterissuers.cert-manager.io",
            "letsencrypt",
            "-o",
            "json",
        ],
        None,
    );
    assert!(issuer.contains("\"namespace\": \"infra\""), "{issuer}");
    let gateway: Value = serde_json::from_str(&setup.bed.kubectl_ok(
        "a",
        &[
            "get",
            "gateways.gateway.networking.k8s.io",
            "shared-gateway",
            "-n",
            "infra-stg",
            "-o",
            "json",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(
        gateway["spec"]["allowedListeners"]["namespaces"]["selector"]["matchExpressions"][0]["values"],
        serde_json::json!(["team-c-stg"])
    );
    assert_eq!(
        gateway["spec"]["listeners"][1]["tls"]["certificateRefs"][0]["namespace"],
        "certs-stg"
    );
}

#[test]
fn a_failed_object_holds_back_only_what_needs_it() {
    let setup = Setup::new(&["a"]);
    let dir = setup.ws.path("src");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("routing.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: legacy, namespace: shop}\n\
         spec: {type: NodePort, selector: {app: legacy}, ports: [{port: 80, nodePort: 30123}]}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n\
         spec: {selector: {app: web}, ports: [{port: 80}]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: legacy, namespace: shop}\n\
         spec: {defaultBackend: {service: {name: legacy, port: {number: 80}}}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n\
         spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}\n",
    )
    .unwrap();
    setup.bed.apply_dir("a", &dir);
    let id = setup.snapshot("a", "prod").ok().last_line();
    // Cloned beside its source with the node ports kept: the API server refuses the copy of
    // `legacy` (its node port is taken). Its Ingress waits; everything else is restored.
    let (run, report) = setup.restore(
        &id,
        "prod",
        &[
            "--cluster",
            "a",
            "--namespace-map",
            "shop=shop-copy",
            "--keep-node-ports",
        ],
    );
    assert_ne!(run.code, 0, "{}", run.stdout);
    let outcome = |object: &str| {
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["object"] == object)
            .cloned()
            .unwrap_or_else(|| panic!("{object} not in {report}"))
    };
    let legacy = outcome("Service shop-copy/legacy");
    assert_eq!(legacy["outcome"], "failed", "{legacy}");
    assert!(
        legacy["message"].as_str().unwrap().contains("30123"),
        "the API server's reason is passed on: {legacy}"
    );
    let held = outcome("networking.k8s.io/Ingress shop-copy/legacy");
    assert_eq!(held["outcome"], "skipped", "{held}");
    assert_eq!(
        held["message"],
        "not attempted: it needs Service shop-copy/legacy, which failed"
    );
    assert_eq!(
        outcome("networking.k8s.io/Ingress shop-copy/web")["outcome"],
        "created"
    );
    assert_eq!(outcome("Service shop-copy/web")["outcome"], "created");
    // Released by default, the same clone succeeds.
    let (run, _) = setup.restore(
        &id,
        "prod",
        &["--cluster", "a", "--namespace-map", "shop=shop-copy"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn an_admission_defaulted_ingress_class_survives_a_target_with_another_default() {
    let setup = Setup::new(&["a", "b"]);
    let default_class = |name: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: {name}\n  \
             annotations:\n    ingressclass.kubernetes.io/is-default-class: \"true\"\n\
             spec:\n  controller: example.com/{name}\n"
        )
    };
    setup.bed.kubectl_ok(
        "a",
        &["apply", "--server-side", "-f", "-"],
        Some(&default_class("nginx")),
    );
    setup.bed.kubectl_ok(
        "b",
        &["apply", "--server-side", "-f", "-"],
        Some(&default_class("traefik")),
    );
    // No class written: the DefaultIngressClass admission plugin binds it to nginx on `a`.
    let ingress = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
        apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n\
        spec: {rules: [{host: shop.example.com}]}\n";
    setup
        .bed
        .kubectl_ok("a", &["apply", "--server-side", "-f", "-"], Some(ingress));
    let class_on = |context: &str| {
        setup.bed.kubectl_ok(
            context,
            &[
                "get",
                "ingress",
                "web",
                "-n",
                "shop",
                "-o",
                "jsonpath={.spec.ingressClassName}",
            ],
            None,
        )
    };
    assert_eq!(
        class_on("a"),
        "nginx",
        "the bed's admission plugin did not run"
    );
    let id = setup.snapshot("a", "prod").ok().last_line();
    // Only the Ingress, so `b` keeps its own default class.
    let (run, _) = setup.restore(
        &id,
        "prod",
        &["--cluster", "b", "--only", "Ingress,Namespace"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        class_on("b"),
        "nginx",
        "restored Ingress bound to b's default class"
    );
}

#[test]
fn a_cluster_snapshot_leaves_out_controllers_runtime_objects() {
    let setup = Setup::new(&["a"]);
    setup.bed.apply_dir("a", &scenario("real-world"));
    let run = setup.snapshot("a", "prod").ok();
    let id = run.last_line();
    let (store, trust) = (setup.ws.store(), setup.ws.sign_pub());
    let inspect = setup
        .ws
        .run(&[
            "inspect",
            &id,
            "--env",
            "prod",
            "--store",
            store.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "-o",
            "json",
        ])
        .ok();
    let manifest: Value = serde_json::from_str(&inspect.stdout).unwrap();
    let text = manifest.to_string();
    for reason in [
        "Certificate owned by a Gateway (recreated by cert-manager's gateway-shim)",
        "ACME HTTP-01 solver object owned by a Challenge (runtime state of cert-manager)",
        "Certificate owned by an Ingress (recreated by cert-manager's ingress-shim)",
    ] {
        assert!(text.contains(reason), "{reason} not in the skips: {text}");
    }
    let captured: Vec<String> = manifest["manifest"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| match e["namespace"].as_str() {
            Some(ns) => format!(
                "{} {ns}/{}",
                e["kind"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            ),
            None => format!(
                "{} {}",
                e["kind"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            ),
        })
        .collect();
    assert!(captured.len() > 100, "{captured:?}");
    for absent in [
        "Service team-a/cm-acme-http-solver-7xk2p",
        "Ingress team-a/cm-acme-http-solver-9bq4d",
        "Certificate infra/shared-gateway-tls",
        "Certificate boutique/boutique-tls",
        "ConfigMap team-c/team-c-settings",
        "ConfigMap nginx-demo/ingress-nginx-controller",
        "Secret cert-manager/cert-manager-webhook-ca",
        "Secret nginx-demo/app-database",
        "Namespace empty-ns",
    ] {
        assert!(!captured.iter().any(|c| c == absent), "{absent} captured");
    }
    for present in [
        "ConfigMap team-c/auth-cert",
        "Secret cert-manager/root-secret",
        "Secret cert-manager/letsencrypt-account-key",
        "Secret cert-manager/zero-ssl-eab",
        "Secret cert-manager/cloudflare-api-token",
        "Secret team-a/route53-credentials",
        "Secret team-a/pkcs12-password",
        "Secret nginx-demo/ca-secret",
        "Secret nginx-demo/basic-auth",
        "Secret nginx-demo/backend-client-cert",
        "Secret infra/gateway-client-cert",
        "Secret certs/partner-tls",
        "Namespace apps-only",
        "ListenerSet team-c/team-c-listeners",
        "TLSRoute dns/tls-passthrough",
        "TCPRoute infra/tcp-app",
        "UDPRoute dns/coredns",
        "BackendTLSPolicy team-c/tls-upstream-auth",
    ] {
        assert!(
            captured.iter().any(|c| c == present),
            "{present} not captured: {captured:?}"
        );
    }
}
