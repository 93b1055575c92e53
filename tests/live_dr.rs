//! `restore --wait` on the bed (issue 17): after applying, the restore watches the restored
//! routing until its status says it is live, reports when each tier went live (the drill's
//! recovery time) and how many CertificateRequests were created meanwhile, and on timeout
//! fails naming each object that is not live and why.
//!
//! The bed does not run cert-manager, a Gateway controller or an ingress controller yet (issue
//! 17's controllers are the next step). Until it does, the first test writes, through the real
//! API server's status subresource, the exact status those controllers write (shapes from
//! cert-manager's and the Gateway API's documentation), and creates the CertificateRequest
//! cert-manager would create to re-issue — it plays the controllers, nothing in routevault is
//! mocked. The timeout test needs no controller at all: with none running, nothing goes live.

mod support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::bed::{Bed, BedSpec};
use support::cli::{Workspace, bin};

/// One namespace of routing with every kind `--wait` waits for. Shapes: cert-manager's CA
/// issuer (cert-manager.io/docs/configuration/ca/) and a Certificate with its Secret; the
/// Gateway API's HTTPS listener with an HTTPRoute (gateway-api.sigs.k8s.io/guides/tls/);
/// Traefik's IngressClass and GatewayClass names (doc.traefik.io/traefik/providers/).
const ROUTING: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik}
spec: {controller: traefik.io/ingress-controller}
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
kind: Issuer
metadata: {name: shop-ca, namespace: shop}
spec: {ca: {secretName: shop-ca-key-pair}}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-ca-key-pair, namespace: shop}
type: kubernetes.io/tls
data: {tls.crt: Q0EtQ0VSVA==, tls.key: Q0EtS0VZ}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: shop}
spec:
  secretName: web-tls
  dnsNames: [shop.example.com]
  issuerRef: {name: shop-ca, kind: Issuer}
---
apiVersion: v1
kind: Secret
metadata: {name: web-tls, namespace: shop}
type: kubernetes.io/tls
data: {tls.crt: V0VCLUNFUlQ=, tls.key: V0VCLUtFWQ==}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: traefik
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    hostname: shop.example.com
    tls: {mode: Terminate, certificateRefs: [{name: web-tls}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: edge, sectionName: https}]
  hostnames: [shop.example.com]
  rules: [{backendRefs: [{name: web, port: 80}]}]
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
"#;

/// The objects `--wait` waits for in [`ROUTING`].
const WAITED: [&str; 6] = [
    "cert-manager.io/ClusterIssuer selfsigned",
    "cert-manager.io/Issuer shop/shop-ca",
    "cert-manager.io/Certificate shop/web",
    "gateway.networking.k8s.io/Gateway shop/edge",
    "gateway.networking.k8s.io/HTTPRoute shop/web",
    "networking.k8s.io/Ingress shop/web",
];

struct Drill {
    bed: Bed,
    ws: Workspace,
    id: String,
}

impl Drill {
    fn new() -> Self {
        let bed = Bed::start(BedSpec {
            clusters: &["a"],
            s3: false,
            crds: true,
        });
        let ws = Workspace::new();
        let folder = ws.path("routing");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("routing.yaml"), ROUTING).unwrap();
        let id = ws.snapshot(&folder, "shop");
        Self { bed, ws, id }
    }

    /// Starts `restore ID --cluster a --wait TIMEOUT -o json`.
    fn start_restore(&self, timeout: &str) -> Child {
        let (store, trust, unseal) = (self.ws.store(), self.ws.sign_pub(), self.ws.seal_key());
        let mut command = Command::new(bin());
        command
            .args(["restore", &self.id, "--cluster", "a", "--env", "shop"])
            .args(["--wait", timeout, "-o", "json"])
            .arg("--store")
            .arg(&store)
            .arg("--trust")
            .arg(&trust)
            .arg("--unseal-key")
            .arg(&unseal)
            .env("ROUTEVAULT_RESTORE_KUBECONFIG", self.bed.kubeconfig())
            .current_dir(self.ws.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars() {
            if key.starts_with("ROUTEVAULT_") {
                command.env_remove(key);
            }
        }
        command.spawn().expect("starting routevault")
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.bed.kubectl_ok("a", args, stdin)
    }

    /// Waits (test side) until the restore has applied `resource`.
    fn until_exists(&self, resource: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut args = vec!["get"];
        args.extend_from_slice(resource);
        while !self.bed.kubectl("a", &args, None).status.success() {
            assert!(Instant::now() < deadline, "{resource:?} never appeared");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Writes `status` through the status subresource, as the object's controller would.
    fn set_status(&self, resource: &[&str], status: Value) {
        self.until_exists(resource);
        let patch = serde_json::json!({ "status": status }).to_string();
        let mut args = vec!["patch"];
        args.extend_from_slice(resource);
        args.extend(["--subresource=status", "--type=merge", "-p", &patch]);
        self.kubectl(&args, None);
    }
}

/// Waits for the process and returns its exit code, stdout (parsed) and stderr.
fn finish(mut child: Child) -> (i32, Value, String) {
    let status = child.wait().unwrap();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|_| panic!("no JSON report\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    (status.code().unwrap_or(-1), report, stderr)
}

fn condition(kind: &str, reason: &str) -> Value {
    serde_json::json!({"type": kind, "status": "True", "reason": reason, "message": "",
        "observedGeneration": 1, "lastTransitionTime": "2026-11-27T00:00:00Z"})
}

fn waited_objects(report: &Value) -> Vec<String> {
    let mut objects: Vec<String> = report["wait"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["object"].as_str().unwrap().to_string())
        .collect();
    objects.sort();
    objects
}

#[test]
fn a_restore_waits_until_its_routing_is_live_and_reports_when() {
    let drill = Drill::new();
    let restore = drill.start_restore("2m");
    // What cert-manager, the Gateway controller and the ingress controller would write.
    let ready = serde_json::json!({"conditions": [condition("Ready", "Ready")]});
    drill.set_status(&["clusterissuer", "selfsigned"], ready.clone());
    drill.set_status(&["issuer", "shop-ca", "-n", "shop"], ready.clone());
    // One issuance during the restore, as cert-manager would create it to re-issue.
    drill.kubectl(
        &["apply", "-f", "-"],
        Some(
            "apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {name: web-1, namespace: shop}\n\
             spec:\n  request: Q1NS\n  issuerRef: {name: shop-ca, kind: Issuer}\n",
        ),
    );
    drill.set_status(&["certificate", "web", "-n", "shop"], ready);
    drill.set_status(
        &["gateway", "edge", "-n", "shop"],
        serde_json::json!({"conditions": [condition("Accepted", "Accepted"), condition("Programmed", "Programmed")]}),
    );
    drill.set_status(
        &["httproute", "web", "-n", "shop"],
        serde_json::json!({"parents": [{
            "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                          "name": "edge", "namespace": "shop", "sectionName": "https"},
            "controllerName": "traefik.io/gateway-controller",
            "conditions": [condition("Accepted", "Accepted"), condition("ResolvedRefs", "ResolvedRefs")]}]}),
    );
    drill.set_status(
        &["ingress", "web", "-n", "shop"],
        serde_json::json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}),
    );
    let (code, report, stderr) = finish(restore);
    assert_eq!(code, 0, "{report:#}\n{stderr}");

    let wait = &report["wait"];
    assert_eq!(wait["ready"], true, "{wait:#}");
    assert_eq!(wait["not_ready"], 0);
    assert_eq!(waited_objects(&report), {
        let mut expected: Vec<String> = WAITED.iter().map(|s| s.to_string()).collect();
        expected.sort();
        expected
    });
    let applied = wait["applied_ms"].as_u64().unwrap();
    let live = wait["ready_ms"].as_u64().unwrap();
    assert!(
        live >= applied,
        "live at {live} ms, applied at {applied} ms"
    );
    for object in wait["objects"].as_array().unwrap() {
        assert_eq!(object["state"], "ready", "{object}");
        let at = object["ready_ms"].as_u64().unwrap();
        assert!(at <= live, "{object}: after the recovery time {live}");
    }
    let tiers: Vec<&str> = wait["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tier"].as_str().unwrap())
        .collect();
    // ClusterIssuers are restored with the classes.
    assert_eq!(
        tiers,
        vec!["classes", "issuers", "certificates", "gateways", "routes"]
    );
    // The issuance during the restore is counted and warned about.
    assert_eq!(
        wait["certificate_requests_created"], 1,
        "{wait:#}\n{stderr}"
    );
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("1 CertificateRequests"), "{warnings}");

    // The same restore again over routing that is already live: every object is recognised
    // in the watch's initial list (whose items of built-in kinds, the Ingress, carry no
    // apiVersion or kind), so the wait ends at once, nothing re-issued.
    let (code, again, stderr) = finish(drill.start_restore("30s"));
    assert_eq!(code, 0, "{again:#}\n{stderr}");
    assert_eq!(again["wait"]["ready"], true, "{again:#}");
    assert_eq!(again["wait"]["certificate_requests_created"], 0);
    assert_eq!(waited_objects(&again).len(), WAITED.len());
}

#[test]
fn a_wait_that_times_out_names_each_object_not_live_and_why() {
    let drill = Drill::new();
    // A Certificate whose issuer reports a reason: the reason and message are named.
    let restore = drill.start_restore("6s");
    drill.set_status(
        &["issuer", "shop-ca", "-n", "shop"],
        serde_json::json!({"conditions": [{"type": "Ready", "status": "False",
            "reason": "ErrGetKeyPair", "observedGeneration": 1,
            "message": "Error getting keypair for CA issuer: secret shop-ca-key-pair is not a key pair",
            "lastTransitionTime": "2026-11-27T00:00:00Z"}]}),
    );
    let (code, report, stderr) = finish(restore);
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
        stderr.contains(
            "cert-manager.io/Issuer shop/shop-ca: Ready ErrGetKeyPair: Error getting keypair"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("cert-manager.io/Certificate shop/web: Ready NoCondition"),
        "{stderr}"
    );
    // Applied all the same: the wait failed, not the restore.
    assert_eq!(report["counts"]["created"].as_u64(), Some(12), "{report:#}");
}

/// A restore with failed objects does not wait (the Ingress held back by the failed Service
/// would never go live): it says so and fails at once for the failures.
#[test]
fn a_restore_with_failed_objects_does_not_wait() {
    let bed = Bed::start(BedSpec {
        clusters: &["a"],
        s3: false,
        crds: false,
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
    let kubeconfig = bed.kubeconfig().display().to_string();
    let (store, trust) = (ws.store(), ws.sign_pub());
    let run = ws.run_env(
        &[
            "restore",
            &id,
            "--cluster",
            "a",
            "--env",
            "shop",
            "--store",
            store.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "--keep-node-ports",
            "--wait",
            "20s",
            "-o",
            "json",
        ],
        &[("ROUTEVAULT_RESTORE_KUBECONFIG", kubeconfig.as_str())],
    );
    assert_ne!(run.code, 0, "{}", run.all());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report.get("wait"), None, "{report:#}");
    assert!(
        report["warnings"]
            .to_string()
            .contains("--wait was not carried out: 1 objects failed"),
        "{report:#}"
    );
}
