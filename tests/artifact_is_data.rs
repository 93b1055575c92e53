//! An artifact is data (issue 12): hand-built artifacts signed by a *trusted* key — an insider
//! or a stolen key — that carry non-routing kinds, path traversal through `kind` or
//! `apiVersion`, system objects or service-account tokens are refused by `verify` and by
//! `restore` (exit 3), with nothing written anywhere and nothing applied. The control case
//! shows the same builder's well-formed artifacts are accepted.

mod support;

use std::fs;
use std::path::Path;

use support::archive::{self, Member};
use support::bed::{Bed, BedSpec};
use support::cli::Workspace;

const ID: &str = "20261126T000000.000Z-00aaff";

/// A workspace whose store holds one artifact of these objects, signed by the trusted key.
fn signed(objects: Vec<(Member, routevault::artifact::Entry)>, include_system: bool) -> Workspace {
    let ws = Workspace::new();
    let (members, entries): (Vec<Member>, Vec<_>) = objects.into_iter().unzip();
    let mut manifest = archive::manifest("prod", ID, entries);
    manifest.selection.include_system = include_system;
    let bytes = archive::build(&manifest, &members);
    archive::store_signed(&ws.store(), "prod", ID, &bytes, &ws.sign_key());
    ws
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path.display().to_string());
        }
    }
    out.sort();
    out
}

/// verify and restore --to-dir both exit 3 naming `needle`, and the workspace holds exactly
/// what it held before (nothing written inside the target, beside it or outside it).
fn assert_refused_everywhere(ws: &Workspace, needle: &str) {
    let before = files_under(ws.dir.path());
    let verify = ws.verify("prod", ID).code(3);
    assert!(verify.stderr.contains(needle), "verify: {}", verify.stderr);
    let out = ws.path("restored/out");
    let restore = ws
        .restore(
            "prod",
            ID,
            &out,
            &["--unseal-key", ws.seal_key().to_str().unwrap()],
        )
        .code(3);
    assert!(
        restore.stderr.contains(needle),
        "restore: {}",
        restore.stderr
    );
    assert!(
        restore.stderr.contains("whatever key signed it"),
        "{}",
        restore.stderr
    );
    let after = files_under(ws.dir.path());
    let created: Vec<&String> = after.iter().filter(|f| !before.contains(f)).collect();
    // Only the restore's own target parent may have been created (empty).
    assert!(
        created.iter().all(|f| f.ends_with("/restored")),
        "files appeared: {created:?}"
    );
    assert!(!out.exists());
}

fn namespace(index: usize, name: &str) -> (Member, routevault::artifact::Entry) {
    archive::object(index, "v1", "Namespace", None, name, "")
}

#[test]
fn control_routing_objects_from_the_same_builder_are_restored() {
    let ws = signed(
        vec![
            namespace(1, "shop"),
            archive::object(
                2,
                "v1",
                "Secret",
                Some("shop"),
                "web-tls",
                "type: kubernetes.io/tls\ndata:\n  tls.crt: eA==\n  tls.key: eA==\n",
            ),
            archive::object(
                3,
                "networking.k8s.io/v1",
                "Ingress",
                Some("shop"),
                "web",
                "spec:\n  tls:\n  - secretName: web-tls\n",
            ),
        ],
        false,
    );
    ws.verify("prod", ID).ok();
    let out = ws.path("out");
    ws.restore("prod", ID, &out, &[]).ok();
    assert!(out.join("10-ingresses/shop/web.yaml").exists());
    assert!(out.join("03-secrets/shop/web-tls.yaml").exists());
}

#[test]
fn path_traversal_through_kind_writes_nothing_anywhere() {
    let ws = signed(
        vec![
            namespace(1, "shop"),
            archive::object(
                2,
                "v1",
                "x/../../../../outside",
                Some("shop"),
                "pwned",
                "data: {}\n",
            ),
        ],
        false,
    );
    assert_refused_everywhere(&ws, "not a routing kind");
    assert!(!ws.dir.path().join("outside").exists());
}

#[test]
fn path_traversal_through_api_version_is_refused() {
    let ws = signed(
        vec![archive::object(
            1,
            "networking.k8s.io/../../../x",
            "Ingress",
            Some("shop"),
            "web",
            "",
        )],
        false,
    );
    assert_refused_everywhere(&ws, "no valid version");
}

#[test]
fn non_routing_kinds_are_refused() {
    for (api_version, kind, scope, body) in [
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            None,
            "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: \"system:authenticated\"}]\n",
        ),
        (
            "v1",
            "Pod",
            Some("shop"),
            "spec: {containers: [{name: x, image: x, securityContext: {privileged: true}}]}\n",
        ),
    ] {
        let ws = signed(
            vec![
                namespace(1, "shop"),
                archive::object(2, api_version, kind, scope, "pwn", body),
            ],
            false,
        );
        assert_refused_everywhere(&ws, "not a routing kind");
    }
    // A ConfigMap is routing data only as a CA bundle (`ca.crt` alone) that routing in the
    // artifact names: neither an unreferenced one, nor a referenced one carrying anything else.
    let config_map = |body: &str| archive::object(2, "v1", "ConfigMap", Some("shop"), "pwn", body);
    let ca_bundle = "data: {ca.crt: PEM}\n";
    let ws = signed(vec![namespace(1, "shop"), config_map(ca_bundle)], false);
    assert_refused_everywhere(
        &ws,
        "ConfigMap shop/pwn is not referenced by any routing object",
    );
    let policy = || {
        archive::object(
            3,
            "gateway.networking.k8s.io/v1",
            "BackendTLSPolicy",
            Some("shop"),
            "tls",
            "spec:\n  targetRefs: [{group: \"\", kind: Service, name: web}]\n  validation:\n    hostname: web.shop\n    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: pwn}]\n",
        )
    };
    let planted = "data: {ca.crt: PEM, nginx.conf: \"load_module x.so;\"}\n";
    let ws = signed(
        vec![namespace(1, "shop"), config_map(planted), policy()],
        false,
    );
    assert_refused_everywhere(&ws, "ConfigMap key \"nginx.conf\" is not routing data");
    let ws = signed(
        vec![namespace(1, "shop"), config_map(ca_bundle), policy()],
        false,
    );
    ws.verify("prod", ID).ok();

    // A Gateway's CA bundle in another namespace counts only with a ReferenceGrant there that
    // allows ConfigMaps (the Gateway API's rule): without one it is unreferenced.
    let gateway = || {
        archive::object(
            3,
            "gateway.networking.k8s.io/v1",
            "Gateway",
            Some("edge"),
            "gw",
            "spec:\n  gatewayClassName: c\n  listeners: [{name: h, port: 80, protocol: HTTP}]\n  tls:\n    frontend:\n      default:\n        validation:\n          caCertificateRefs: [{group: \"\", kind: ConfigMap, name: pwn, namespace: shop}]\n",
        )
    };
    let ws = signed(
        vec![namespace(1, "shop"), config_map(ca_bundle), gateway()],
        false,
    );
    assert_refused_everywhere(
        &ws,
        "ConfigMap shop/pwn is not referenced by any routing object",
    );
    let grant = archive::object(
        4,
        "gateway.networking.k8s.io/v1beta1",
        "ReferenceGrant",
        Some("shop"),
        "allow-edge",
        "spec:\n  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: edge}]\n  to: [{group: \"\", kind: ConfigMap}]\n",
    );
    let ws = signed(
        vec![
            namespace(1, "shop"),
            config_map(ca_bundle),
            gateway(),
            grant,
        ],
        false,
    );
    ws.verify("prod", ID).ok();
}

#[test]
fn system_objects_are_refused_unless_the_snapshot_included_them() {
    let dns = || {
        archive::object(
            1,
            "discovery.k8s.io/v1",
            "EndpointSlice",
            Some("kube-system"),
            "kube-dns",
            "addressType: IPv4\nendpoints: [{addresses: [\"203.0.113.7\"]}]\n",
        )
    };
    let ws = signed(vec![dns()], false);
    assert_refused_everywhere(&ws, "system object");
    // The manifest says --include-system (it is signed): then it is a valid artifact.
    let ws = signed(vec![dns()], true);
    ws.verify("prod", ID).ok();
}

/// A field is read only in the format version that defines it: an older version's manifest
/// carrying a newer field is not that version (a writer must bump it), so it is refused.
#[test]
fn fields_of_a_later_format_version_are_refused_in_an_earlier_one() {
    let store_with = |version: u32, classes: Option<&[&str]>| {
        let ws = Workspace::new();
        let (member, entry) = namespace(1, "shop");
        let mut manifest = archive::manifest("prod", ID, vec![entry]);
        manifest.format_version = version;
        manifest.source.addressed_ingress_classes =
            classes.map(|c| c.iter().map(|s| s.to_string()).collect());
        let bytes = archive::build(&manifest, &[member]);
        archive::store_signed(&ws.store(), "prod", ID, &bytes, &ws.sign_key());
        ws
    };
    let ws = store_with(2, Some(&["traefik"]));
    let needle = "a version 2 manifest carries source.addressed_ingress_classes";
    let verify = ws.verify("prod", ID).code(3);
    assert!(verify.stderr.contains(needle), "{}", verify.stderr);
    let out = ws.path("restored");
    let restore = ws.restore("prod", ID, &out, &[]).code(3);
    assert!(restore.stderr.contains(needle), "{}", restore.stderr);
    assert!(!out.exists());
    store_with(2, None).verify("prod", ID).ok();
    store_with(3, Some(&["traefik"])).verify("prod", ID).ok();
}

#[test]
fn service_account_tokens_and_malformed_secret_data_are_refused() {
    let ws = signed(
        vec![
            namespace(1, "shop"),
            archive::object(
                2,
                "v1",
                "Secret",
                Some("shop"),
                "token",
                "type: kubernetes.io/service-account-token\ndata: {token: eA==}\n",
            ),
        ],
        false,
    );
    assert_refused_everywhere(&ws, "is not routing data");
    let ws = signed(
        vec![
            namespace(1, "shop"),
            archive::object(
                2,
                "v1",
                "Secret",
                Some("shop"),
                "odd",
                "type: kubernetes.io/tls\ndata:\n  tls.key: [1, 2]\n",
            ),
        ],
        false,
    );
    assert_refused_everywhere(&ws, "is not a string");
}

#[test]
fn dry_run_to_a_folder_writes_nothing_and_lists_the_files() {
    let ws = Workspace::new();
    let id = ws.snapshot(&support::cli::scenario("storefront"), "prod");
    let before = files_under(ws.dir.path());
    let out = ws.path("dry/out");
    let run = ws
        .restore(
            "prod",
            &id,
            &out,
            &[
                "--dry-run",
                "--unseal-key",
                ws.seal_key().to_str().unwrap(),
                "-o",
                "json",
            ],
        )
        .ok();
    assert_eq!(files_under(ws.dir.path()), before, "a dry run wrote files");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    let objects = report["objects"].as_array().unwrap();
    assert!(!objects.is_empty());
    assert!(
        objects.iter().any(|o| o["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("03-secrets/")),
        "{report}"
    );
    // A non-empty target is refused by a dry run too.
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("keep"), "x").unwrap();
    ws.restore("prod", &id, &out, &["--dry-run"]).code(1);
}

#[test]
fn snapshot_leaves_out_referenced_secrets_that_are_not_routing_data() {
    let ws = Workspace::new();
    let dir = ws.path("src");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("all.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: shop}\ntype: kubernetes.io/service-account-token\ndata: {token: eA==}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\nspec:\n  tls:\n  - secretName: token\n",
    )
    .unwrap();
    let id = ws.snapshot(&dir, "prod");
    ws.verify("prod", &id).ok();
    let out = ws.path("out");
    ws.restore("prod", &id, &out, &[]).ok();
    assert!(out.join("10-ingresses/shop/web.yaml").exists());
    assert!(
        !out.join("03-secrets").exists(),
        "the token Secret was captured"
    );
}

#[test]
fn restore_into_a_cluster_applies_nothing_from_a_hostile_artifact() {
    let bed = Bed::start(BedSpec {
        clusters: &["a"],
        s3: false,
        crds: false,
        ..Default::default()
    });
    let ws = signed(
        vec![
            namespace(1, "shop"),
            archive::object(
                2,
                "discovery.k8s.io/v1",
                "EndpointSlice",
                Some("kube-system"),
                "kube-dns-evil",
                "addressType: IPv4\nendpoints: [{addresses: [\"203.0.113.7\"]}]\n",
            ),
        ],
        false,
    );
    let kubeconfig = bed.kubeconfig();
    let run = ws
        .run(&[
            "restore",
            ID,
            "--store",
            ws.store().to_str().unwrap(),
            "--env",
            "prod",
            "--trust",
            ws.sign_pub().to_str().unwrap(),
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--cluster",
            "a",
        ])
        .code(3);
    assert!(run.stderr.contains("system object"), "{}", run.stderr);
    let namespaces = bed.kubectl_ok("a", &["get", "namespaces", "-o", "name"], None);
    assert!(!namespaces.contains("namespace/shop"), "{namespaces}");
    let slices = bed.kubectl_ok(
        "a",
        &["get", "endpointslices", "-n", "kube-system", "-o", "name"],
        None,
    );
    assert!(!slices.contains("kube-dns-evil"), "{slices}");
}

/// A folder with `count` TLS Secrets referenced by one Ingress.
fn many_secrets(dir: &Path, count: usize) {
    fs::create_dir_all(dir).unwrap();
    let mut text = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n");
    let mut tls = String::new();
    for i in 0..count {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: tls-{i}, namespace: big}}\ntype: kubernetes.io/tls\ndata: {{tls.crt: Y2VydA==, tls.key: UExBSU5URVhULUtFWQ==}}\n"
        ));
        tls.push_str(&format!("  - {{secretName: tls-{i}}}\n"));
    }
    text.push_str(&format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: big, namespace: big}}\nspec:\n  tls:\n{tls}"
    ));
    fs::write(dir.join("big.yaml"), text).unwrap();
}

fn terminate(child: &std::process::Child) {
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}

#[test]
fn sigterm_during_a_restore_leaves_no_unsealed_secret_behind() {
    let ws = Workspace::new();
    let source = ws.path("src");
    many_secrets(&source, 4000);
    let id = ws.snapshot(&source, "prod");
    let parent = ws.path("restores");
    fs::create_dir_all(&parent).unwrap();
    let out = parent.join("out");
    let mut child = std::process::Command::new(support::cli::bin())
        .args([
            "restore",
            &id,
            "--store",
            ws.store().to_str().unwrap(),
            "--env",
            "prod",
            "--trust",
            ws.sign_pub().to_str().unwrap(),
            "--unseal-key",
            ws.seal_key().to_str().unwrap(),
            "--to-dir",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until unsealed Secret files exist in the staging folder, then stop the restore.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut caught = false;
    while std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        let written = files_under(&parent).iter().any(|f| {
            f.contains(".routevault-restore-") && f.ends_with(".yaml") && f.contains("03-secrets")
        });
        if written {
            terminate(&child);
            caught = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let status = child.wait().unwrap();
    assert!(
        caught,
        "the restore finished before Secret files were seen; make it bigger"
    );
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    assert_eq!(files_under(&parent), Vec::<String>::new(), "left behind");
}

#[test]
fn sigterm_during_a_plaintext_snapshot_leaves_no_temporary_file() {
    let ws = Workspace::new();
    let source = ws.path("src");
    many_secrets(&source, 3000);
    let tmp = ws.path("tmp");
    fs::create_dir_all(&tmp).unwrap();
    // Stop it at growing delays until one run completes: every stop must leave TMPDIR empty
    // and nothing committed in the store.
    let mut delay_ms = 0;
    let mut handled = 0;
    loop {
        let mut child = std::process::Command::new(support::cli::bin())
            .args([
                "snapshot",
                "--from-dir",
                source.to_str().unwrap(),
                "--store",
                ws.store().to_str().unwrap(),
                "--env",
                "prod",
                "--sign-key",
                ws.sign_key().to_str().unwrap(),
                "--secrets",
                "plaintext",
            ])
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        terminate(&child);
        let status = child.wait().unwrap();
        assert_eq!(
            files_under(&tmp),
            Vec::<String>::new(),
            "left after {delay_ms} ms"
        );
        if status.success() {
            break;
        }
        handled += usize::from(status.code() == Some(128 + libc::SIGTERM));
        // Stopped: by routevault's handler (exit 143), or by the signal itself when it came
        // before the handler was installed (nothing was written yet).
        use std::os::unix::process::ExitStatusExt;
        assert!(
            status.code() == Some(128 + libc::SIGTERM) || status.signal() == Some(libc::SIGTERM),
            "{status:?}"
        );
        let in_store = files_under(&ws.store());
        let partial: Vec<_> = in_store
            .iter()
            .filter(|f| f.contains(".routevault-upload-"))
            .collect();
        assert!(
            partial.is_empty(),
            "partial upload left in the store after {delay_ms} ms: {partial:?}"
        );
        let committed = in_store.iter().filter(|f| f.ends_with(".sig")).count();
        if committed > 0 {
            // The signal came after the commit point (the signature is the last write): the
            // snapshot is whole, so it must verify; a stop can only ever leave all or nothing.
            assert_eq!(committed, 1, "one stopped run committed twice");
            ws.verify("prod", "latest").ok();
            break;
        }
        delay_ms += 10;
        assert!(delay_ms < 60_000, "the snapshot never completed");
    }
    assert!(
        handled > 0,
        "no stop reached the handler while the snapshot ran ({delay_ms} ms to finish)"
    );
}

#[test]
fn cross_tenant_certificate_refs_are_captured_only_with_a_reference_grant() {
    // The review's case: a Gateway in tenant-a names an Opaque Secret of tenant-b.
    let gateway = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: tenant-a}\n\
        spec:\n  gatewayClassName: shared\n  listeners:\n  - name: https\n    port: 443\n    protocol: HTTPS\n\
        \x20   tls: {certificateRefs: [{kind: Secret, name: db-credentials, namespace: tenant-b}]}\n---\n\
        apiVersion: v1\nkind: Secret\nmetadata: {name: db-credentials, namespace: tenant-b}\ntype: Opaque\ndata: {password: aHVudGVyMg==}\n";
    let grant = "---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: allow-tenant-a, namespace: tenant-b}\n\
        spec:\n  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: tenant-a}]\n  to: [{group: \"\", kind: Secret}]\n";
    for (with_grant, text) in [
        (false, gateway.to_string()),
        (true, format!("{gateway}{grant}")),
    ] {
        let ws = Workspace::new();
        let dir = ws.path("src");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("all.yaml"), text).unwrap();
        let id = ws.snapshot(&dir, "prod");
        let out = ws.path("out");
        ws.restore(
            "prod",
            &id,
            &out,
            &["--unseal-key", ws.seal_key().to_str().unwrap()],
        )
        .ok();
        let secret = out.join("03-secrets/tenant-b/db-credentials.yaml");
        assert_eq!(secret.exists(), with_grant, "grant: {with_grant}");
    }
}
