//! `restore --wait` on the bed (issue 17): after applying, the restore watches the restored
//! routing until its status says it is live, reports when each tier went live (the drill's
//! recovery time) and how many CertificateRequests were created meanwhile, and on timeout
//! fails naming each object that is not live and why.
//!
//! The drills run real controllers (`tests/bed/up --controllers`): cert-manager issues a
//! self-signed → CA chain, Traefik serves the routing on HTTPS, and traffic is checked with
//! curl and the served certificate before and after DR. Backends are selector-less Services
//! whose EndpointSlice points at a small HTTP server the test runs (no kubelet on the bed).

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::bed::{Bed, BedSpec};
use support::cli::Workspace;

/// Without controllers nothing goes live: the wait times out naming every object.
#[test]
fn a_wait_that_times_out_names_each_object_not_live_and_why() {
    let bed = Bed::start(BedSpec {
        clusters: &["a"],
        s3: false,
        crds: true,
        ..Default::default()
    });
    let ws = Workspace::new();
    let folder = ws.path("routing");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("routing.yaml"), live_routing("443", 8080)).unwrap();
    let id = ws.snapshot(&folder, "shop");
    let (store, kubeconfig) = (ws.store(), bed.kubeconfig().display().to_string());
    let run = ws.run_keyed(
        &[
            "restore",
            &id,
            "--cluster",
            "a",
            "--env",
            "shop",
            "--wait",
            "6s",
            "-o",
            "json",
        ],
        store.to_str().unwrap(),
        &[("ROUTEVAULT_RESTORE_KUBECONFIG", kubeconfig.as_str())],
    );
    let (code, report, stderr) = (run.code, restore_report(&run), run.stderr);
    assert_ne!(code, 0, "{report:#}");
    let wait = &report["wait"];
    assert_eq!(wait["ready"], false);
    assert_eq!(wait["ready_ms"], Value::Null);
    assert_eq!(wait["not_ready"], WAITED.len());
    assert!(
        stderr.contains(&format!("{} restored objects", WAITED.len())),
        "{stderr}"
    );
    for object in WAITED {
        assert!(stderr.contains(object), "{object} not named:\n{stderr}");
    }
    assert!(
        stderr.contains("networking.k8s.io/Ingress shop/web: LoadBalancer NoAddress"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cert-manager.io/Certificate shop/web: Ready NoCondition"),
        "{stderr}"
    );
    // Applied all the same: the wait failed, not the restore.
    assert_eq!(report["counts"]["created"].as_u64(), Some(14), "{report:#}");
}

/// A restore with failed objects does not wait (the Ingress held back by the failed Service
/// would never go live): it says so and fails at once for the failures.
#[test]
fn a_restore_with_failed_objects_does_not_wait() {
    let bed = Bed::start(BedSpec {
        clusters: &["a"],
        s3: false,
        crds: false,
        ..Default::default()
    });
    let ws = Workspace::new();
    let folder = ws.path("routing");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("routing.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n\
         spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, nodePort: 30124}]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n\
         spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}\n",
    )
    .unwrap();
    let id = ws.snapshot(&folder, "shop");
    // The node port is taken on the target: the Service fails, its Ingress is held back.
    bed.kubectl_ok(
        "a",
        &["apply", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: Service\nmetadata: {name: taken, namespace: default}\n\
             spec: {type: NodePort, selector: {app: x}, ports: [{port: 80, nodePort: 30124}]}\n",
        ),
    );
    let (store, kubeconfig) = (ws.store(), bed.kubeconfig().display().to_string());
    let run = ws.run_keyed(
        &[
            "restore",
            &id,
            "--cluster",
            "a",
            "--env",
            "shop",
            "--keep-node-ports",
            "--wait",
            "20s",
            "-o",
            "json",
        ],
        store.to_str().unwrap(),
        &[("ROUTEVAULT_RESTORE_KUBECONFIG", kubeconfig.as_str())],
    );
    assert_ne!(run.code, 0, "{}", run.all());
    let report = restore_report(&run);
    assert_eq!(report.get("wait"), None, "{report:#}");
    assert!(
        report["warnings"]
            .to_string()
            .contains("--wait was not carried out: 1 objects failed"),
        "{report:#}"
    );
}

// ---- with real controllers ------------------------------------------------------------

/// The source environment of the drills with controllers. Shapes: cert-manager's CA issuer
/// bootstrapped from a self-signed ClusterIssuer (cert-manager.io/docs/configuration/selfsigned/
/// "Bootstrapping CA Issuers"), leaf Certificates from it; an Ingress with TLS
/// (kubernetes.io/docs/concepts/services-networking/ingress/#tls) and a Gateway HTTPS listener
/// with an HTTPRoute (gateway-api.sigs.k8s.io/guides/tls/), both Traefik's classes
/// (doc.traefik.io/traefik/providers/), and an Ingress of a class whose controller publishes no
/// address (none runs on the bed for it). Traefik matches a listener to the entry point with its
/// port: HTTPS_PORT is the bed's HTTPS port, the same in every cluster.
const LIVE_ROUTING: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: internal}
spec: {controller: example.com/ingress-without-status}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: shop-ca, namespace: shop}
spec:
  isCA: true
  commonName: shop-ca
  secretName: shop-ca-key-pair
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: ClusterIssuer, group: cert-manager.io}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: shop-ca, namespace: shop}
spec: {ca: {secretName: shop-ca-key-pair}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: shop}
spec:
  secretName: web-tls
  dnsNames: [shop.example.com]
  issuerRef: {name: shop-ca, kind: Issuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: api, namespace: shop}
spec:
  secretName: api-tls
  dnsNames: [api.example.com]
  issuerRef: {name: shop-ca, kind: Issuer}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, targetPort: BACKEND_PORT}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  ingressClassName: traefik
  tls: [{hosts: [shop.example.com], secretName: web-tls}]
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: internal, namespace: shop}
spec:
  ingressClassName: internal
  rules:
  - host: internal.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: traefik
  listeners:
  - name: https
    protocol: HTTPS
    port: HTTPS_PORT
    hostname: api.example.com
    tls: {mode: Terminate, certificateRefs: [{name: api-tls}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: shop}
spec:
  parentRefs: [{name: edge, sectionName: https}]
  hostnames: [api.example.com]
  rules: [{backendRefs: [{name: web, port: 80}]}]
"#;

/// The objects `--wait` waits for in [`LIVE_ROUTING`].
const WAITED: [&str; 9] = [
    "cert-manager.io/Certificate shop/api",
    "cert-manager.io/Certificate shop/shop-ca",
    "cert-manager.io/Certificate shop/web",
    "cert-manager.io/ClusterIssuer selfsigned",
    "cert-manager.io/Issuer shop/shop-ca",
    "gateway.networking.k8s.io/Gateway shop/edge",
    "gateway.networking.k8s.io/HTTPRoute shop/api",
    "networking.k8s.io/Ingress shop/internal",
    "networking.k8s.io/Ingress shop/web",
];

fn live_routing(https_port: &str, backend_port: u16) -> String {
    LIVE_ROUTING
        .replace("HTTPS_PORT", https_port)
        .replace("BACKEND_PORT", &backend_port.to_string())
}

/// Each host of [`LIVE_ROUTING`] with the Secret of its certificate.
const HOSTS: [(&str, &str); 2] = [
    ("shop.example.com", "web-tls"),
    ("api.example.com", "api-tls"),
];

const BACKEND_ANSWER: &str = "routevault drill backend";

/// An HTTP server on the machine's own address answering every request with
/// [`BACKEND_ANSWER`]; it lives as long as the test process.
fn start_backend(ip: &str) -> u16 {
    let listener = std::net::TcpListener::bind((ip, 0))
        .unwrap_or_else(|e| panic!("binding the backend on {ip}: {e}"));
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BACKEND_ANSWER}",
                BACKEND_ANSWER.len()
            );
            let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
        }
    });
    port
}

/// A bed with controllers and S3, and a backend.
struct LiveDrill {
    bed: Bed,
    ws: Workspace,
    store: String,
    backend_port: u16,
}

impl LiveDrill {
    fn new(clusters: &[&str]) -> Self {
        let bed = Bed::start(BedSpec {
            clusters,
            s3: true,
            crds: true,
            controllers: true,
            ..Default::default()
        });
        let backend_port = start_backend(&bed.var("ROUTEVAULT_BED_BACKEND_IP"));
        let store = format!("s3://{}/live", bed.var("ROUTEVAULT_TEST_BUCKET"));
        LiveDrill {
            bed,
            ws: Workspace::new(),
            store,
            backend_port,
        }
    }

    /// The bed with the routing of [`LIVE_ROUTING`] applied to `clusters[0]` and its
    /// certificates issued.
    fn with_source(clusters: &[&str]) -> Self {
        let drill = LiveDrill::new(clusters);
        let source = clusters[0];
        let routing = live_routing(
            &drill.bed.var("ROUTEVAULT_BED_HTTPS_PORT"),
            drill.backend_port,
        );
        drill.kubectl(
            source,
            &["apply", "--server-side", "-f", "-"],
            Some(&routing),
        );
        drill.add_endpoints(source, "shop");
        drill.kubectl(
            source,
            &[
                "wait",
                "--for=condition=Ready",
                "certificate",
                "--all",
                "-n",
                "shop",
                "--timeout=90s",
            ],
            None,
        );
        drill
    }

    fn kubectl(&self, cluster: &str, args: &[&str], stdin: Option<&str>) -> String {
        self.bed.kubectl_ok(cluster, args, stdin)
    }

    /// The EndpointSlice of the selector-less Service `web` (restored with its Service).
    fn add_endpoints(&self, cluster: &str, namespace: &str) {
        let slice = format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: web-backend, namespace: {namespace}, labels: {{kubernetes.io/service-name: web}}}}\n\
             addressType: IPv4\n\
             endpoints: [{{addresses: ['{}'], conditions: {{ready: true}}}}]\n\
             ports: [{{port: {}}}]\n",
            self.bed.var("ROUTEVAULT_BED_BACKEND_IP"),
            self.backend_port
        );
        self.kubectl(
            cluster,
            &["apply", "--server-side", "-f", "-"],
            Some(&slice),
        );
    }

    /// Runs a store command with the bed's S3 credentials and, when it reads or writes a
    /// cluster, the bed's kubeconfig.
    fn run(&self, args: &[&str]) -> support::cli::Run {
        let mut env = self.bed.s3_env();
        if args.contains(&"--cluster") {
            let variable = match args[0] {
                "restore" => "ROUTEVAULT_RESTORE_KUBECONFIG",
                "diff" => "ROUTEVAULT_DIFF_KUBECONFIG",
                _ => "ROUTEVAULT_KUBECONFIG",
            };
            env.push((variable.into(), self.bed.kubeconfig().display().to_string()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.ws.run_keyed(args, &self.store, &env)
    }

    /// `restore latest --env ENV --cluster CLUSTER --wait TIMEOUT -o json` with `extra`; the
    /// run and its report.
    fn restore_waiting(
        &self,
        env: &str,
        cluster: &str,
        timeout: &str,
        extra: &[&str],
    ) -> (support::cli::Run, Value) {
        let mut args = vec!["restore", "latest", "--env", env, "--cluster", cluster];
        args.extend(["--wait", timeout, "-o", "json"]);
        args.extend_from_slice(extra);
        let run = self.run(&args);
        let report = restore_report(&run);
        (run, report)
    }

    /// The certificate in Secret `namespace/name` of `cluster` (the leaf, as PEM body text).
    fn secret_certificate(&self, cluster: &str, namespace: &str, name: &str) -> String {
        let encoded = self.kubectl(
            cluster,
            &[
                "get",
                "secret",
                name,
                "-n",
                namespace,
                "-o",
                "jsonpath={.data.tls\\.crt}",
            ],
            None,
        );
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .expect("tls.crt is base64");
        first_certificate(&String::from_utf8_lossy(&pem))
            .unwrap_or_else(|| panic!("{namespace}/{name} in {cluster} holds no certificate"))
    }

    /// Waits until `host` answers through `cluster`'s Traefik on HTTPS with the backend's
    /// answer, serving `certificate`; panics after 90 s naming what was served.
    fn until_served(&self, cluster: &str, host: &str, certificate: &str) {
        let ip = self.bed.var(&format!(
            "ROUTEVAULT_BED_INGRESS_IP_{}",
            cluster.to_uppercase()
        ));
        let port = self.bed.var("ROUTEVAULT_BED_HTTPS_PORT");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (answer, served) = https_get(&ip, &port, host);
            if answer == BACKEND_ANSWER && served.as_deref() == Some(certificate) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{host} through {cluster}'s controller answered {answer:?}, serving {}",
                served.map_or("no certificate".to_string(), |c| fingerprint(&c))
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// `https://host:port/` resolved to `ip` (curl, not verifying: the certificate is compared
/// instead), and the leaf certificate the server presented for `host` (openssl s_client).
fn https_get(ip: &str, port: &str, host: &str) -> (String, Option<String>) {
    let answer = Command::new("curl")
        .args([
            "-sk",
            "--max-time",
            "5",
            "--resolve",
            &format!("{host}:{port}:{ip}"),
        ])
        .arg(format!("https://{host}:{port}/"))
        .output()
        .expect("running curl");
    let handshake = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("{ip}:{port}"),
            "-servername",
            host,
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("running openssl s_client");
    (
        String::from_utf8_lossy(&answer.stdout).into_owned(),
        first_certificate(&String::from_utf8_lossy(&handshake.stdout)),
    )
}

/// The base64 body of the first PEM certificate in `text`, without line breaks.
fn first_certificate(text: &str) -> Option<String> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = text.find(begin)? + begin.len();
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    Some(text[start..end].split_whitespace().collect())
}

/// SHA-256 of a certificate's DER, for messages.
fn fingerprint(certificate: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let der = base64::engine::general_purpose::STANDARD
        .decode(certificate)
        .unwrap_or_default();
    hex::encode(sha2::Sha256::digest(der))
}

fn restore_report(run: &support::cli::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("no JSON report:\n{}", run.all()))
}

/// DR into a fresh cluster with its own controllers: every host answers through the new
/// controller with the very certificate the source served (the restored key), cert-manager
/// issues nothing, and the report carries readiness and the recovery time.
#[test]
fn dr_into_a_fresh_cluster_serves_the_same_certificates_without_issuing() {
    let drill = LiveDrill::with_source(&["a", "b"]);
    let mut served = Vec::new();
    for (host, secret) in HOSTS {
        let certificate = drill.secret_certificate("a", "shop", secret);
        drill.until_served("a", host, &certificate);
        served.push((host, certificate));
    }
    drill
        .run(&["snapshot", "--cluster", "a", "--env", "shop"])
        .ok();

    let (run, report) = drill.restore_waiting("shop", "b", "3m", &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let wait = &report["wait"];
    assert_eq!(wait["ready"], true, "{wait:#}");
    assert_eq!(wait["certificate_requests_created"], 0, "{wait:#}");
    let applied = wait["applied_ms"].as_u64().unwrap();
    let live = wait["ready_ms"].as_u64().unwrap();
    assert!(
        live >= applied,
        "live at {live} ms, applied at {applied} ms"
    );
    // The drill's figures, for docs/dr-drill.md (`-- --nocapture` shows them).
    eprintln!(
        "DR drill: applied {applied} ms, live {live} ms, tiers {}",
        wait["tiers"]
    );
    let mut waited: Vec<&str> = wait["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["object"].as_str().unwrap())
        .collect();
    waited.sort();
    assert_eq!(waited, WAITED);
    for tier in wait["tiers"].as_array().unwrap() {
        let at = tier["ready_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("{tier}"));
        assert!(at <= live, "{tier}: after the recovery time {live}");
    }
    // Live by the controllers' own word; now by traffic: every host answers (the selector-less
    // Service's EndpointSlice was restored with it) serving the source's certificate.
    for (host, certificate) in &served {
        drill.until_served("b", host, certificate);
    }
    let requests = drill.kubectl(
        "b",
        &["get", "certificaterequests", "-A", "-o", "name"],
        None,
    );
    assert_eq!(requests.trim(), "", "cert-manager issued after DR");
    // The drill's second piece of evidence: the live routing is the snapshot.
    let diff = drill.run(&[
        "diff",
        "latest",
        "--env",
        "shop",
        "--cluster",
        "b",
        "-o",
        "json",
    ]);
    assert_eq!(diff.code, 0, "{}", diff.all());
    let diff: Value = serde_json::from_str(&diff.stdout).unwrap();
    assert_eq!(diff["in_sync"], true, "{diff:#}");

    // The drill again over live routing: live at once, still nothing issued.
    let (again, report) = drill.restore_waiting("shop", "b", "1m", &[]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(report["wait"]["ready"], true);
    assert_eq!(report["wait"]["certificate_requests_created"], 0);
}

/// A clone with `--host-rewrite` into a staging namespace: its Certificates name new hosts, so
/// cert-manager issues new certificates from the cloned CA Issuer (counted and warned about),
/// and Traefik serves them for the new hosts.
#[test]
fn a_host_rewrite_clone_is_served_new_certificates_from_the_cloned_issuer() {
    let drill = LiveDrill::with_source(&["a"]);
    drill
        .run(&["snapshot", "--cluster", "a", "--env", "shop"])
        .ok();
    let clone = [
        "--namespace-map",
        "shop=staging",
        "--host-rewrite",
        "example.com=staging.example.com",
    ];
    let (run, report) = drill.restore_waiting("shop", "a", "3m", &clone);
    assert_eq!(run.code, 0, "{}", run.all());
    let wait = &report["wait"];
    assert_eq!(wait["ready"], true, "{wait:#}");
    // The two leaves are issued again for their new names; the CA's Secret still matches.
    assert_eq!(wait["certificate_requests_created"], 2, "{wait:#}");
    assert!(
        report["warnings"]
            .to_string()
            .contains("2 CertificateRequests"),
        "{report:#}"
    );
    let ca = drill.secret_certificate("a", "staging", "shop-ca-key-pair");
    assert_eq!(
        ca,
        drill.secret_certificate("a", "shop", "shop-ca-key-pair")
    );
    for (host, secret) in HOSTS {
        let new_host = host.replace("example.com", "staging.example.com");
        let certificate = drill.secret_certificate("a", "staging", secret);
        assert_ne!(
            certificate,
            drill.secret_certificate("a", "shop", secret),
            "{secret} was not issued again for {new_host}"
        );
        drill.until_served("a", &new_host, &certificate);
        verify_issued_by(&certificate, &ca, &new_host);
    }
    // Each new certificate was requested from the cloned issuer.
    let issuers = drill.kubectl(
        "a",
        &[
            "get",
            "certificaterequests",
            "-n",
            "staging",
            "-o",
            "jsonpath={.items[*].spec.issuerRef.name}",
        ],
        None,
    );
    assert_eq!(
        issuers.split_whitespace().collect::<Vec<_>>(),
        ["shop-ca", "shop-ca"]
    );
}

/// `openssl verify`: `leaf` chains to `ca` and names `host`.
fn verify_issued_by(leaf: &str, ca: &str, host: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pem = |body: &str| {
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    };
    std::fs::write(dir.path().join("leaf.pem"), pem(leaf)).unwrap();
    std::fs::write(dir.path().join("ca.pem"), pem(ca)).unwrap();
    let out = Command::new("openssl")
        .args([
            "verify",
            "-verify_hostname",
            host,
            "-CAfile",
            "ca.pem",
            "leaf.pem",
        ])
        .current_dir(dir.path())
        .output()
        .expect("running openssl verify");
    assert!(
        out.status.success(),
        "{host}'s certificate does not chain to the cloned CA: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A restore whose Certificates name a ClusterIssuer that does not exist: cert-manager can
/// never issue, the wait times out, and each Certificate is named with the reason its
/// CertificateRequest gives.
#[test]
fn a_missing_cluster_issuer_times_out_naming_the_certificates_and_why() {
    let drill = LiveDrill::new(&["a"]);
    let folder = drill.ws.path("routing");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("routing.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: blog}\n---\n\
         apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: www, namespace: blog}\n\
         spec: {secretName: www-tls, dnsNames: [blog.example.com],\n  \
         issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer, group: cert-manager.io}}\n",
    )
    .unwrap();
    let folder = folder.display().to_string();
    drill
        .run(&["snapshot", "--from-dir", &folder, "--env", "blog"])
        .ok();
    let (run, report) = drill.restore_waiting("blog", "a", "20s", &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    let object = &report["wait"]["objects"][0];
    assert_eq!(
        object["object"], "cert-manager.io/Certificate blog/www",
        "{report:#}"
    );
    assert_eq!(object["reason"], "DoesNotExist", "{object}");
    assert_eq!(object["request"]["reason"], "Pending", "{object}");
    let expected = "its CertificateRequest www-1: Pending: Referenced \"ClusterIssuer\" not found: \
                    clusterissuer.cert-manager.io \"letsencrypt-prod\" not found";
    assert!(run.stderr.contains(expected), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cert-manager.io/Certificate blog/www: Ready DoesNotExist"),
        "{}",
        run.stderr
    );
}
