//! End-to-end tests of the core, through the real binary: scenario round trips, keys, the
//! tamper matrix, hostile archives, secret hygiene and the snapshot life cycle in a local
//! store. No cluster and no S3 are needed here.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use routevault::object::Object;
use serde_json::Value;
use support::archive::{self, Member};
use support::cli::{Workspace, expected, objects_in, scenario, scenarios, tamper_write};

#[test]
fn every_scenario_round_trips_with_secret_data() {
    let ws = Workspace::new();
    for name in scenarios() {
        let id = ws.snapshot(&scenario(&name), &name);
        let out = ws.path(&format!("restored-{name}"));
        ws.restore(
            &name,
            &id,
            &out,
            &["--unseal-key", ws.seal_key().to_str().unwrap()],
        )
        .ok();
        let restored = objects_in(&out);
        let wanted = expected(&scenario(&name));
        assert!(!wanted.is_empty());
        assert_eq!(restored.len(), wanted.len(), "{name}: object count");
        for (got, want) in restored.iter().zip(&wanted) {
            assert_eq!(
                got,
                want,
                "{name}: {} differs after the round trip",
                want.object_ref()
            );
        }
        // Secret data as written in the scenario files, checked without the library's help.
        let sources: String = walk(&scenario(&name))
            .iter()
            .map(|p| fs::read_to_string(p).unwrap())
            .collect();
        let secrets: Vec<&Object> = restored.iter().filter(|o| o.kind() == "Secret").collect();
        for secret in &secrets {
            for value in secret.0["data"].as_object().unwrap().values() {
                // `data` as written, or `stringData` (which the API server and routevault
                // fold into `data`, base64-encoded).
                use base64::Engine;
                let text = value.as_str().unwrap();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                assert!(
                    sources.contains(text)
                        || (!decoded.is_empty() && sources.contains(&format!(": {decoded}\n"))),
                    "{name}: secret value not from the scenario"
                );
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn storefront_captures_exactly_its_routing() {
    let ws = Workspace::new();
    let id = ws.snapshot(&scenario("storefront"), "prod");
    let out = ws.path("out");
    ws.restore(
        "prod",
        &id,
        &out,
        &["--unseal-key", ws.seal_key().to_str().unwrap()],
    )
    .ok();
    let refs: Vec<String> = objects_in(&out)
        .iter()
        .map(|o| o.object_ref().to_string())
        .collect();
    assert_eq!(
        refs,
        vec![
            "Namespace shop",
            "Secret shop/shop-tls",
            "Service shop/web",
            "Service shop/web-canary",
            "Service shop/web-legacy-lb",
            "networking.k8s.io/Ingress shop/web",
            "networking.k8s.io/Ingress shop/web-canary",
            "networking.k8s.io/IngressClass nginx",
        ]
    );
    // The restored folder is laid out in restore order, Secrets private.
    let secret = out.join("03-secrets/shop/shop-tls.yaml");
    assert_eq!(
        fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(out.join("00-namespaces/shop.yaml").exists());
    assert!(out.join("10-ingresses/shop/web.yaml").exists());
    // The explicit nodePort survived.
    let legacy = fs::read_to_string(out.join("04-services/shop/web-legacy-lb.yaml")).unwrap();
    assert!(legacy.contains("nodePort: 30080"));
}

#[test]
fn restore_without_unseal_key_writes_no_secrets_and_says_so() {
    let ws = Workspace::new();
    let id = ws.snapshot(&scenario("storefront"), "prod");
    let out = ws.path("out");
    let run = ws.restore("prod", &id, &out, &[]).ok();
    assert!(
        run.stdout.contains("1 sealed Secrets were NOT restored"),
        "{}",
        run.stdout
    );
    assert!(!out.join("03-secrets").exists());
    assert!(out.join("10-ingresses/shop/web.yaml").exists());
}

#[test]
fn wrong_unseal_key_is_refused_and_nothing_written() {
    let ws = Workspace::new();
    let id = ws.snapshot(&scenario("storefront"), "prod");
    ws.run(&["keygen", "--out", ws.path("other").to_str().unwrap()])
        .ok();
    let out = ws.path("out");
    let run = ws
        .restore(
            "prod",
            &id,
            &out,
            &[
                "--unseal-key",
                ws.path("other/routevault.seal.key").to_str().unwrap(),
            ],
        )
        .code(1);
    assert!(
        run.stderr.contains("not one of the recipients"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

#[test]
fn keygen_writes_private_keys_0600_and_never_overwrites() {
    let ws = Workspace::new();
    for (file, mode) in [
        ("test.sign.key", 0o600),
        ("test.seal.key", 0o600),
        ("test.sign.pub", 0o644),
        ("test.seal.pub", 0o644),
    ] {
        let meta = fs::metadata(ws.keys().join(file)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{file}");
    }
    let before = fs::read(ws.sign_key()).unwrap();
    let run = ws
        .run(&[
            "keygen",
            "--out",
            ws.keys().to_str().unwrap(),
            "--name",
            "test",
        ])
        .code(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(fs::read(ws.sign_key()).unwrap(), before);
}

#[test]
fn private_key_material_never_appears_in_artifacts_or_output() {
    let ws = Workspace::new();
    let run = ws
        .run(&[
            "--log-level",
            "debug",
            "snapshot",
            "--from-dir",
            scenario("storefront").to_str().unwrap(),
            "--store",
            ws.store().to_str().unwrap(),
            "--sign-key",
            ws.sign_key().to_str().unwrap(),
            "--seal-to",
            ws.seal_pub().to_str().unwrap(),
            "--env",
            "prod",
        ])
        .ok();
    let id = run.last_line();
    let tls_key_b64 = {
        let text = fs::read_to_string(scenario("storefront/40-secrets.yaml")).unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("tls.key:"))
            .unwrap()
            .to_string();
        line.split(':').nth(1).unwrap().trim().to_string()
    };
    let tls_key_pem = String::from_utf8(base64_decode(&tls_key_b64)).unwrap();
    let pem_body: String = tls_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();

    let artifact = fs::read(ws.artifact("prod", &id)).unwrap();
    let unpacked = String::from_utf8_lossy(&zstd::decode_all(&artifact[..]).unwrap()).into_owned();
    let raw = String::from_utf8_lossy(&artifact).into_owned();
    let signing_pem = fs::read_to_string(ws.sign_key()).unwrap();
    let seal_identity = fs::read_to_string(ws.seal_key())
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    for haystack in [&unpacked, &raw, &run.all()] {
        assert!(
            !haystack.contains(&tls_key_b64),
            "sealed TLS key (base64) leaked"
        );
        assert!(
            !haystack.contains(&pem_body[..40]),
            "sealed TLS key (PEM) leaked"
        );
        assert!(!haystack.contains(&signing_pem), "signing key leaked");
        assert!(!haystack.contains(&seal_identity), "unseal key leaked");
    }
    assert!(
        unpacked.contains("rv-sealed:v1:"),
        "the Secret should be in the artifact, sealed"
    );

    // Nor in the output of the other commands, restore included.
    let out = ws.path("out");
    let restore = ws
        .restore(
            "prod",
            &id,
            &out,
            &[
                "--unseal-key",
                ws.seal_key().to_str().unwrap(),
                "--log-level",
                "debug",
            ],
        )
        .ok();
    let inspect = ws
        .run(&[
            "inspect",
            &id,
            "--env",
            "prod",
            "--store",
            ws.store().to_str().unwrap(),
            "--trust",
            ws.sign_pub().to_str().unwrap(),
            "-o",
            "json",
        ])
        .ok();
    for output in [
        restore.all(),
        inspect.all(),
        ws.verify("prod", &id).ok().all(),
    ] {
        assert!(!output.contains(&tls_key_b64) && !output.contains(&seal_identity));
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[test]
fn snapshot_refuses_secret_data_without_a_recipient_and_writes_nothing() {
    let ws = Workspace::new();
    let (from, store, sign_key) = (scenario("storefront"), ws.store(), ws.sign_key());
    let base = [
        "snapshot",
        "--from-dir",
        from.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--sign-key",
        sign_key.to_str().unwrap(),
    ];
    let run = ws.run(&base).code(1);
    assert!(
        run.stderr.contains("--seal-to") && run.stderr.contains("--secrets skip"),
        "{}",
        run.stderr
    );
    assert!(!ws.store().exists());

    // Asked for by name: plaintext works, loudly.
    let mut plain = base.to_vec();
    plain.extend(["--secrets", "plaintext"]);
    let run = ws.run(&plain).ok();
    assert!(run.all().contains("plaintext"));
    let id = run.last_line();
    let out = ws.path("plain");
    ws.restore("default", &id, &out, &[]).ok();
    assert!(out.join("03-secrets/shop/shop-tls.yaml").exists());

    let mut skip = base.to_vec();
    skip.extend(["--secrets", "skip"]);
    let id = ws.run(&skip).ok().last_line();
    let out = ws.path("skip");
    ws.restore("default", &id, &out, &[]).ok();
    assert!(!out.join("03-secrets").exists());
}

#[test]
fn malformed_manifest_file_is_named_and_nothing_is_stored() {
    let ws = Workspace::new();
    let src = ws.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(
        src.join("ok.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
    )
    .unwrap();
    fs::write(
        src.join("broken.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: a}\n---\nspec: [oops\n",
    )
    .unwrap();
    let run = ws
        .run(&[
            "snapshot",
            "--from-dir",
            src.to_str().unwrap(),
            "--store",
            ws.store().to_str().unwrap(),
            "--sign-key",
            ws.sign_key().to_str().unwrap(),
            "--secrets",
            "skip",
        ])
        .code(1);
    assert!(
        run.stderr.contains("broken.yaml") && run.stderr.contains("document 2"),
        "{}",
        run.stderr
    );
    assert!(!ws.store().exists());
}

#[test]
fn usage_errors_exit_2() {
    let ws = Workspace::new();
    ws.run(&["snapshot", "--no-such-flag"]).code(2);
    ws.run(&["restore"]).code(2);
    let version = ws.run(&["--version"]).ok();
    assert!(version.stdout.contains("artifact format v3"));
}

#[test]
fn options_read_the_environment() {
    let ws = Workspace::new();
    let env = [
        ("ROUTEVAULT_STORE", ws.store().to_str().unwrap().to_string()),
        (
            "ROUTEVAULT_SIGN_KEY",
            ws.sign_key().to_str().unwrap().to_string(),
        ),
        (
            "ROUTEVAULT_SEAL_TO",
            ws.seal_pub().to_str().unwrap().to_string(),
        ),
        (
            "ROUTEVAULT_FROM_DIR",
            scenario("tenants").to_str().unwrap().to_string(),
        ),
        ("ROUTEVAULT_ENV", "staging".to_string()),
        (
            "ROUTEVAULT_TRUST",
            ws.sign_pub().to_str().unwrap().to_string(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let id = ws.run_env(&["snapshot"], &env).ok().last_line();
    let run = ws.run_env(&["verify", "latest"], &env).ok();
    assert!(
        run.stdout.contains(&id) && run.stdout.starts_with("OK staging/"),
        "{}",
        run.stdout
    );
}

#[test]
fn list_and_latest_see_committed_snapshots_only_and_chain_them() {
    let ws = Workspace::new();
    let first = ws.snapshot(&scenario("storefront"), "prod");
    let second = ws.snapshot(&scenario("storefront"), "prod");
    ws.snapshot(&scenario("tenants"), "staging");
    assert!(first < second);

    // An artifact whose signature never arrived (a failed snapshot) is invisible.
    let orphan = "29991231T235959.999Z-abcdef";
    fs::copy(ws.artifact("prod", &second), ws.artifact("prod", orphan)).unwrap();

    let list = ws
        .run(&[
            "list",
            "--store",
            ws.store().to_str().unwrap(),
            "--env",
            "prod",
            "-o",
            "json",
        ])
        .ok();
    let listed: Vec<Value> = serde_json::from_str(&list.stdout).unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![first.as_str(), second.as_str()]);
    let all = ws
        .run(&["list", "--store", ws.store().to_str().unwrap()])
        .ok();
    assert!(all.stdout.contains("staging") && !all.stdout.contains(orphan));

    let latest = ws.verify("prod", "latest").ok();
    assert!(latest.stdout.contains(&second), "{}", latest.stdout);
    let orphan_run = ws.verify("prod", orphan).code(3);
    assert!(
        orphan_run.stderr.contains("no signature"),
        "{}",
        orphan_run.stderr
    );

    let inspect = ws
        .run(&[
            "inspect",
            "latest",
            "--env",
            "prod",
            "--store",
            ws.store().to_str().unwrap(),
            "--trust",
            ws.sign_pub().to_str().unwrap(),
            "-o",
            "json",
        ])
        .ok();
    let manifest: Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(manifest["manifest"]["previous"]["id"], first.as_str());
    assert_eq!(manifest["manifest"]["id"], second.as_str());
}

// ---- Tamper matrix: each must exit 3 and write nothing. ----

struct Tampered {
    ws: Workspace,
    id: String,
    other: String,
}

fn tampered_setup() -> Tampered {
    let ws = Workspace::new();
    let id = ws.snapshot(&scenario("storefront"), "prod");
    let other = ws.snapshot(&scenario("tenants"), "prod");
    Tampered { ws, id, other }
}

#[track_caller]
fn assert_refused(ws: &Workspace, env: &str, id: &str, needle: &str) {
    let run = ws.verify(env, id).code(3);
    assert!(
        run.stderr.contains(needle),
        "verify: expected {needle:?} in\n{}",
        run.stderr
    );
    let out = ws.path("must-not-exist");
    let run = ws
        .restore(
            env,
            id,
            &out,
            &["--unseal-key", ws.seal_key().to_str().unwrap()],
        )
        .code(3);
    assert!(
        run.stderr.contains(needle),
        "restore: expected {needle:?} in\n{}",
        run.stderr
    );
    assert!(!out.exists(), "restore wrote output for a refused artifact");
    let leftovers: Vec<_> = fs::read_dir(ws.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".routevault"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

#[test]
fn tamper_flipped_byte_in_artifact() {
    let t = tampered_setup();
    let path = t.ws.artifact("prod", &t.id);
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    tamper_write(&path, &bytes);
    assert_refused(&t.ws, "prod", &t.id, "size or SHA-256 differs");
}

#[test]
fn tamper_flipped_byte_in_signature() {
    let t = tampered_setup();
    let path = t.ws.signature("prod", &t.id);
    let mut sig: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let text = sig["signature"].as_str().unwrap().to_string();
    let flipped: String = text
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 10 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    sig["signature"] = Value::String(flipped);
    tamper_write(&path, &serde_json::to_vec(&sig).unwrap());
    assert_refused(&t.ws, "prod", &t.id, "does not verify");
}

#[test]
fn tamper_signature_of_another_snapshot() {
    let t = tampered_setup();
    let other_sig = fs::read(t.ws.signature("prod", &t.other)).unwrap();
    tamper_write(&t.ws.signature("prod", &t.id), &other_sig);
    assert_refused(&t.ws, "prod", &t.id, "renamed or moved");
}

#[test]
fn tamper_untrusted_key() {
    let t = tampered_setup();
    let ws = &t.ws;
    ws.run(&[
        "keygen",
        "--out",
        ws.path("stranger").to_str().unwrap(),
        "--name",
        "stranger",
    ])
    .ok();
    let run = ws
        .run(&[
            "verify",
            &t.id,
            "--env",
            "prod",
            "--store",
            ws.store().to_str().unwrap(),
            "--trust",
            ws.path("stranger").to_str().unwrap(),
        ])
        .code(3);
    assert!(
        run.stderr.contains("not among the trusted keys"),
        "{}",
        run.stderr
    );
    let out = ws.path("out");
    ws.run(&[
        "restore",
        &t.id,
        "--env",
        "prod",
        "--store",
        ws.store().to_str().unwrap(),
        "--trust",
        ws.path("stranger").to_str().unwrap(),
        "--to-dir",
        out.to_str().unwrap(),
    ])
    .code(3);
    assert!(!out.exists());
}

#[test]
fn tamper_truncated_artifact() {
    let t = tampered_setup();
    let path = t.ws.artifact("prod", &t.id);
    let bytes = fs::read(&path).unwrap();
    tamper_write(&path, &bytes[..bytes.len() - 100]);
    assert_refused(&t.ws, "prod", &t.id, "size or SHA-256 differs");
}

#[test]
fn tamper_artifact_renamed_to_another_id() {
    let t = tampered_setup();
    let renamed = "20300101T000000.000Z-000001";
    fs::copy(t.ws.artifact("prod", &t.id), t.ws.artifact("prod", renamed)).unwrap();
    fs::copy(
        t.ws.signature("prod", &t.id),
        t.ws.signature("prod", renamed),
    )
    .unwrap();
    assert_refused(&t.ws, "prod", renamed, "renamed or moved");
    // Moved to another environment: refused too.
    fs::create_dir_all(t.ws.store().join("dr")).unwrap();
    fs::copy(t.ws.artifact("prod", &t.id), t.ws.artifact("dr", &t.id)).unwrap();
    fs::copy(t.ws.signature("prod", &t.id), t.ws.signature("dr", &t.id)).unwrap();
    assert_refused(&t.ws, "dr", &t.id, "renamed or moved");
}

#[test]
fn tamper_missing_signature() {
    let t = tampered_setup();
    fs::remove_file(t.ws.signature("prod", &t.id)).unwrap();
    assert_refused(&t.ws, "prod", &t.id, "no signature");
}

// ---- Hostile archives, validly signed by a trusted key: only the reader can stop them. ----

const HOSTILE_ID: &str = "20261126T000000.000Z-0000ff";

fn hostile(members: Vec<Member>, entries: Vec<routevault::artifact::Entry>) -> Workspace {
    let ws = Workspace::new();
    let manifest = archive::manifest("prod", HOSTILE_ID, entries);
    let bytes = archive::build(&manifest, &members);
    archive::store_signed(&ws.store(), "prod", HOSTILE_ID, &bytes, &ws.sign_key());
    ws
}

#[test]
fn hostile_control_a_well_formed_handmade_archive_is_accepted() {
    // Proves the builder makes archives the reader accepts, so the refusals below are the
    // reader's checks at work and not a broken builder.
    let data = archive::namespace_yaml("fine");
    let ws = hostile(
        vec![Member::File {
            path: b"objects/000001.yaml".to_vec(),
            data: data.clone(),
        }],
        vec![archive::entry("objects/000001.yaml", "fine", &data)],
    );
    ws.verify("prod", HOSTILE_ID).ok();
    let out = ws.path("out");
    ws.restore("prod", HOSTILE_ID, &out, &[]).ok();
    assert!(out.join("00-namespaces/fine.yaml").exists());
}

/// A signed artifact whose first member is `path` with `data` declared as `declared` bytes.
fn hostile_first_member(path: &[u8], data: &[u8], declared: u64) -> Workspace {
    let ws = Workspace::new();
    let bytes = archive::build_with_first(path, data, declared, &[]);
    archive::store_signed(&ws.store(), "prod", HOSTILE_ID, &bytes, &ws.sign_key());
    ws
}

fn manifest_json() -> Vec<u8> {
    let data = archive::namespace_yaml("fine");
    let entries = vec![archive::entry("objects/000001.yaml", "fine", &data)];
    serde_json::to_vec(&archive::manifest("prod", HOSTILE_ID, entries)).unwrap()
}

#[test]
fn hostile_manifest_that_is_not_json() {
    let data = b"{\"format\": routevault";
    let ws = hostile_first_member(b"manifest.json", data, data.len() as u64);
    assert_refused(&ws, "prod", HOSTILE_ID, "manifest.json does not parse");
}

#[test]
fn hostile_manifest_shorter_than_its_header_says() {
    // The manifest is read as a stream: a member cut short must not pass for a parse error
    // of a whole one, nor be accepted because what arrived happens to be complete JSON.
    let json = manifest_json();
    let ws = hostile_first_member(b"manifest.json", &json, json.len() as u64 + 4096);
    assert_refused(&ws, "prod", HOSTILE_ID, "member manifest.json is truncated");
    let cut = &json[..json.len() / 2];
    let ws = hostile_first_member(b"manifest.json", cut, json.len() as u64);
    assert_refused(&ws, "prod", HOSTILE_ID, "member manifest.json is truncated");
}

#[test]
fn hostile_archive_that_does_not_start_with_the_manifest() {
    let json = manifest_json();
    let ws = hostile_first_member(b"objects/manifest.json", &json, json.len() as u64);
    assert_refused(
        &ws,
        "prod",
        HOSTILE_ID,
        "first member is \"objects/manifest.json\"",
    );
}

#[test]
fn hostile_dot_dot_path() {
    let data = archive::namespace_yaml("evil");
    let ws = hostile(
        vec![Member::File {
            path: b"objects/../../evil.yaml".to_vec(),
            data: data.clone(),
        }],
        vec![archive::entry("objects/000001.yaml", "evil", &data)],
    );
    assert_refused(&ws, "prod", HOSTILE_ID, "'..' in path");
    assert!(!ws.dir.path().parent().unwrap().join("evil.yaml").exists());
}

#[test]
fn hostile_absolute_path() {
    let data = archive::namespace_yaml("evil");
    let ws = hostile(
        vec![Member::File {
            path: b"/tmp/routevault-evil.yaml".to_vec(),
            data: data.clone(),
        }],
        vec![archive::entry("objects/000001.yaml", "evil", &data)],
    );
    assert_refused(&ws, "prod", HOSTILE_ID, "absolute path");
    assert!(!Path::new("/tmp/routevault-evil.yaml").exists());
}

#[test]
fn hostile_symlink() {
    let ws = hostile(
        vec![Member::Symlink {
            path: b"objects/000001.yaml".to_vec(),
            target: b"/etc/passwd".to_vec(),
        }],
        vec![archive::entry("objects/000001.yaml", "evil", b"")],
    );
    assert_refused(&ws, "prod", HOSTILE_ID, "not a regular file");
}

#[test]
fn hostile_duplicate_entry() {
    let data = archive::namespace_yaml("twice");
    let ws = hostile(
        vec![
            Member::File {
                path: b"objects/000001.yaml".to_vec(),
                data: data.clone(),
            },
            Member::File {
                path: b"objects/000001.yaml".to_vec(),
                data: data.clone(),
            },
        ],
        vec![archive::entry("objects/000001.yaml", "twice", &data)],
    );
    assert_refused(&ws, "prod", HOSTILE_ID, "duplicate member");
}

#[test]
fn hostile_undeclared_entry() {
    let data = archive::namespace_yaml("declared");
    let extra = archive::namespace_yaml("smuggled");
    let ws = hostile(
        vec![
            Member::File {
                path: b"objects/000001.yaml".to_vec(),
                data: data.clone(),
            },
            Member::File {
                path: b"objects/000002.yaml".to_vec(),
                data: extra,
            },
        ],
        vec![archive::entry("objects/000001.yaml", "declared", &data)],
    );
    assert_refused(&ws, "prod", HOSTILE_ID, "not declared in the manifest");
}

#[test]
fn hostile_digest_mismatch() {
    let declared = archive::namespace_yaml("declared");
    let actual = archive::namespace_yaml("swapped!");
    assert_eq!(declared.len(), actual.len());
    let ws = hostile(
        vec![Member::File {
            path: b"objects/000001.yaml".to_vec(),
            data: actual,
        }],
        vec![archive::entry("objects/000001.yaml", "declared", &declared)],
    );
    assert_refused(
        &ws,
        "prod",
        HOSTILE_ID,
        "does not match its recorded digest",
    );
}

#[test]
fn hostile_zstd_bomb_over_the_cap() {
    // 32 valid Namespace members padded with spaces to 2 MiB (each within the object limit;
    // tests/bounds.rs covers a bigger member) compress to a few KiB; the cap is set to 8 MiB.
    let member = |i: usize| {
        let mut data = archive::namespace_yaml(&format!("bomb{i}"));
        data.resize(2 << 20, b' ');
        data
    };
    let paths: Vec<String> = (1..=32).map(|i| format!("objects/{i:06}.yaml")).collect();
    let ws = hostile(
        paths
            .iter()
            .enumerate()
            .map(|(i, path)| Member::File {
                path: path.clone().into_bytes(),
                data: member(i),
            })
            .collect(),
        paths
            .iter()
            .enumerate()
            .map(|(i, path)| archive::entry(path, &format!("bomb{i}"), &member(i)))
            .collect(),
    );
    let artifact = fs::metadata(ws.artifact("prod", HOSTILE_ID)).unwrap().len();
    assert!(
        artifact < 1 << 20,
        "the bomb should be small on disk ({artifact} bytes)"
    );
    let cap = (8u64 << 20).to_string();
    let run = ws
        .run(&[
            "verify",
            HOSTILE_ID,
            "--env",
            "prod",
            "--store",
            ws.store().to_str().unwrap(),
            "--trust",
            ws.sign_pub().to_str().unwrap(),
            "--max-unpacked-bytes",
            &cap,
        ])
        .code(3);
    assert!(
        run.stderr.contains("unpacks to more than"),
        "{}",
        run.stderr
    );
    let out = ws.path("out");
    let run = ws
        .restore("prod", HOSTILE_ID, &out, &["--max-unpacked-bytes", &cap])
        .code(3);
    assert!(
        run.stderr.contains("unpacks to more than"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

#[test]
fn hostile_object_not_matching_its_entry() {
    // The member is declared as Namespace "declared" (digest and all) but holds another object.
    let data = archive::namespace_yaml("impostor");
    let mut entry = archive::entry("objects/000001.yaml", "declared", &data);
    entry.name = "declared".into();
    let ws = hostile(
        vec![Member::File {
            path: b"objects/000001.yaml".to_vec(),
            data,
        }],
        vec![entry],
    );
    let out = ws.path("out");
    let run = ws.restore("prod", HOSTILE_ID, &out, &[]).code(3);
    assert!(
        run.stderr
            .contains("is not the object its manifest entry names"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

/// Snapshots `dir` and returns the run, failed or not.
fn snapshot_run(ws: &Workspace, dir: &Path) -> support::cli::Run {
    let (store, key, seal) = (ws.store(), ws.sign_key(), ws.seal_pub());
    ws.run(&[
        "snapshot",
        "--from-dir",
        dir.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--sign-key",
        key.to_str().unwrap(),
        "--seal-to",
        seal.to_str().unwrap(),
        "--env",
        "prod",
    ])
}

#[test]
fn removed_api_versions_are_converted_or_refused_never_skipped() {
    let ws = Workspace::new();
    let dir = ws.path("legacy");
    fs::create_dir_all(&dir).unwrap();
    // The Kubernetes 1.18 documentation's shape, as old repositories still hold it.
    fs::write(
        dir.join("ingress.yaml"),
        "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n\
         spec:\n  backend: {serviceName: web, servicePort: 80}\n  rules:\n  - host: shop.example.com\n    http:\n      paths:\n      - path: /\n        backend: {serviceName: web, servicePort: http}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ipFamily: IPv4, ports: [{name: http, port: 80}]}\n",
    )
    .unwrap();
    let run = snapshot_run(&ws, &dir).ok();
    assert!(
        run.stderr.contains("ingress.yaml document 1")
            && run.stderr.contains("extensions/v1beta1")
            && run.stderr.contains("spec.ipFamily"),
        "{}",
        run.stderr
    );
    let out = ws.path("out");
    ws.restore("prod", &run.last_line(), &out, &[]).ok();
    let restored = fs::read_to_string(out.join("10-ingresses/shop/web.yaml")).unwrap();
    assert!(
        restored.starts_with("apiVersion: networking.k8s.io/v1\n")
            && restored.contains("defaultBackend:")
            && restored.contains("pathType: ImplementationSpecific"),
        "{restored}"
    );

    // cert-manager's removed versions are refused, naming the file, the document and the fix.
    fs::write(
        dir.join("zz-certificate.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
         apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: web, namespace: shop}\nspec: {secretName: web-tls}\n",
    )
    .unwrap();
    let run = snapshot_run(&ws, &dir);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("zz-certificate.yaml document 2")
            && run.stderr.contains("cmctl convert"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_live_dump_without_managed_fields_is_named_and_loses_its_allocations() {
    let ws = Workspace::new();
    let dir = ws.path("dump");
    fs::create_dir_all(&dir).unwrap();
    // What `kubectl get service -o yaml` prints since managedFields are hidden by default.
    fs::write(
        dir.join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop, uid: 6a1f, resourceVersion: \"4711\",\n\
         \x20 creationTimestamp: \"2026-11-01T00:00:00Z\"}\nspec:\n  type: NodePort\n  clusterIP: 10.96.12.7\n  clusterIPs: [10.96.12.7]\n  ports: [{port: 80, nodePort: 31080, protocol: TCP}]\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\nspec: {defaultBackend: {service: {name: web, port: {number: 80}}}}\n",
    )
    .unwrap();
    let run = snapshot_run(&ws, &dir).ok();
    assert!(
        run.stderr
            .contains("Service shop/web looks like `kubectl get -o yaml` output"),
        "{}",
        run.stderr
    );
    let out = ws.path("out");
    ws.restore("prod", &run.last_line(), &out, &[]).ok();
    let service = fs::read_to_string(out.join("04-services/shop/web.yaml")).unwrap();
    assert!(
        !service.contains("31080") && !service.contains("10.96.12.7"),
        "{service}"
    );
}
