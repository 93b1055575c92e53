//! Smoke tests that prove the test bed is real: a kube-apiserver that stores and defaults
//! objects and enforces RBAC, CRDs that serve cert-manager kinds, and an S3 server that
//! refuses create-only overwrites and keeps Object Lock retention.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use support::bed::{Bed, BedSpec};

const INGRESS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: smoke}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: smoke}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Secret
metadata: {name: web-tls, namespace: smoke}
type: kubernetes.io/tls
data: {tls.crt: Y2VydA==, tls.key: a2V5}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: smoke}
spec:
  tls: [{hosts: [smoke.example.com], secretName: web-tls}]
  rules:
  - host: smoke.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: smoke}
spec:
  secretName: web-tls
  dnsNames: [smoke.example.com]
  issuerRef: {name: letsencrypt, kind: ClusterIssuer}
"#;

#[test]
fn kube_apiserver_stores_defaults_and_enforces_rbac() {
    let bed = Bed::start(BedSpec {
        clusters: &["smoke"],
        crds: true,
        ..Default::default()
    });
    bed.kubectl_ok(
        "smoke",
        &["apply", "--server-side", "-f", "-"],
        Some(INGRESS),
    );

    let service: serde_json::Value = serde_json::from_str(&bed.kubectl_ok(
        "smoke",
        &["get", "service", "web", "-n", "smoke", "-o", "json"],
        None,
    ))
    .unwrap();
    let cluster_ip = service["spec"]["clusterIP"].as_str().unwrap();
    assert!(
        cluster_ip.starts_with("10."),
        "the API server allocates cluster IPs: {cluster_ip}"
    );

    let ingress: serde_json::Value = serde_json::from_str(&bed.kubectl_ok(
        "smoke",
        &["get", "ingress", "web", "-n", "smoke", "-o", "json"],
        None,
    ))
    .unwrap();
    assert_eq!(ingress["spec"]["rules"][0]["host"], "smoke.example.com");
    let secret = bed.kubectl_ok(
        "smoke",
        &[
            "get",
            "secret",
            "web-tls",
            "-n",
            "smoke",
            "-o",
            "jsonpath={.data.tls\\.key}",
        ],
        None,
    );
    assert_eq!(secret, "a2V5");
    let cert = bed.kubectl_ok(
        "smoke",
        &[
            "get",
            "certificates.cert-manager.io",
            "web",
            "-n",
            "smoke",
            "-o",
            "jsonpath={.spec.secretName}",
        ],
        None,
    );
    assert_eq!(cert, "web-tls");
    // ReferenceGrant is served at v1beta1 as well as v1.
    bed.kubectl_ok(
        "smoke",
        &[
            "get",
            "referencegrants.v1beta1.gateway.networking.k8s.io",
            "-A",
        ],
        None,
    );

    let refused = bed.kubectl("smoke-limited", &["get", "ingresses", "-n", "smoke"], None);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("forbidden") && message.contains("limited"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_refuses_overwrites_and_keeps_object_lock_retention() {
    let bed = Bed::start(BedSpec {
        s3: true,
        ..Default::default()
    });
    let bucket = bed.var("ROUTEVAULT_TEST_BUCKET");
    let s3 = bed.s3_client(&bed.var("AWS_SECRET_ACCESS_KEY"));

    s3.put_object()
        .bucket(&bucket)
        .key("smoke/a")
        .body(ByteStream::from_static(b"first"))
        .if_none_match("*")
        .send()
        .await
        .unwrap();
    let body = s3
        .get_object()
        .bucket(&bucket)
        .key("smoke/a")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"first");

    let second = s3
        .put_object()
        .bucket(&bucket)
        .key("smoke/a")
        .body(ByteStream::from_static(b"second"))
        .if_none_match("*")
        .send()
        .await;
    let status = second
        .expect_err("create-only put over an existing key must fail")
        .raw_response()
        .map(|r| r.status().as_u16());
    assert_eq!(status, Some(412));

    let until = aws_smithy_types::DateTime::from_secs(jiff::Timestamp::now().as_second() + 86_400);
    s3.put_object()
        .bucket(&bucket)
        .key("smoke/locked")
        .body(ByteStream::from_static(b"locked"))
        .if_none_match("*")
        .object_lock_mode(aws_sdk_s3::types::ObjectLockMode::Governance)
        .object_lock_retain_until_date(until)
        .send()
        .await
        .unwrap();
    let retention = s3
        .get_object_retention()
        .bucket(&bucket)
        .key("smoke/locked")
        .send()
        .await
        .unwrap();
    let retention = retention.retention.unwrap();
    assert_eq!(
        retention.mode,
        Some(aws_sdk_s3::types::ObjectLockRetentionMode::Governance)
    );
    assert_eq!(retention.retain_until_date.unwrap().secs(), until.secs());

    let lock = s3
        .get_object_lock_configuration()
        .bucket(bed.var("ROUTEVAULT_TEST_BUCKET_NOLOCK"))
        .send()
        .await;
    let enabled = lock
        .ok()
        .and_then(|l| l.object_lock_configuration)
        .and_then(|c| c.object_lock_enabled)
        .is_some();
    assert!(!enabled, "the second bucket must not have Object Lock");

    let wrong = bed.s3_client("not-the-secret");
    assert!(
        wrong
            .list_objects_v2()
            .bucket(&bucket)
            .send()
            .await
            .is_err(),
        "wrong credentials must be refused"
    );
}

/// `--controllers` runs real controllers: kube-controller-manager makes the EndpointSlice of a
/// Service with a selector and finishes a namespace's deletion, cert-manager and Traefik
/// report on their objects, and `down` stops every one of them.
#[test]
fn controllers_maintain_slices_finish_deletions_and_stop_with_the_bed() {
    let bed = Bed::start(BedSpec {
        clusters: &["smoke"],
        controllers: true,
        ..Default::default()
    });
    let kubectl = |args: &[&str], stdin: Option<&str>| bed.kubectl_ok("smoke", args, stdin);
    kubectl(&["apply", "--server-side", "-f", "-"], Some(INGRESS));
    let until = |what: &str, args: &[&str], expected: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let out = bed.kubectl("smoke", args, None);
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if text == expected {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: still {text:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };
    until(
        "the EndpointSlice controller's slice for Service web",
        &[
            "get",
            "endpointslices",
            "-n",
            "smoke",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "jsonpath={.items[*].metadata.labels.endpointslice\\.kubernetes\\.io/managed-by}",
        ],
        "endpointslice-controller.k8s.io",
    );
    // cert-manager reports on the Certificate (its ClusterIssuer does not exist).
    until(
        "cert-manager's Ready condition",
        &[
            "get",
            "certificate",
            "web",
            "-n",
            "smoke",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
        "False",
    );
    kubectl(&["delete", "namespace", "smoke", "--wait=false"], None);
    until(
        "namespace smoke deleted by the namespace controller",
        &[
            "get",
            "namespaces",
            "-o",
            "jsonpath={.items[?(@.metadata.name==\"smoke\")].metadata.name}",
        ],
        "",
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bed.dir.path().join("bed.json")).unwrap()).unwrap();
    let pids: Vec<(String, i64)> = state["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["pid"].as_i64().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = pids.iter().map(|(n, _)| n.as_str()).collect();
    for controller in ["kube-controller-manager", "cert-manager", "traefik"] {
        assert!(
            names.contains(&format!("smoke-{controller}").as_str()),
            "{names:?}"
        );
    }
    drop(bed);
    for (name, pid) in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "{name} (pid {pid}) still runs after down"
        );
    }
}
