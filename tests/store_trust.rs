//! Store trust (issue 11): whoever can write to the store but holds no signing key can neither
//! freeze snapshots, roll `latest` back unnoticed, get good snapshots pruned, nor hide a locked
//! snapshot. Each attack of the adversarial review is replayed here, on a local folder and on
//! the bed's real S3 server (Object Lock bucket, versioned), and must fail.

mod support;

use std::fs;
use std::path::Path;

use routevault::store::{LockMode, ObjectStore, Retention, snapshots};
use serde_json::Value;
use support::archive;
use support::bed::{Bed, BedSpec};
use support::cli::{Run, Workspace, scenario, tamper_write};

/// A pair named to sort after everything: the freeze and prune-by-proxy attacks.
const JUNK: &str = "99991231T235959.999Z-ffffff";
const JUNK2: &str = "99991231T235959.998Z-eeeeee";

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr))
}

fn store_args(ws: &Workspace) -> Vec<String> {
    vec!["--store".into(), ws.store().display().to_string()]
}

fn rv(ws: &Workspace, args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    let store = store_args(ws);
    all.extend(store.iter().map(String::as_str));
    ws.run(&all)
}

fn plant_junk(ws: &Workspace, env: &str, id: &str) {
    fs::create_dir_all(ws.store().join(env)).unwrap();
    tamper_write(&ws.artifact(env, id), b"not an artifact at all");
    tamper_write(&ws.signature(env, id), b"{\"junk\": true}");
}

fn previous_of(ws: &Workspace, env: &str, spec: &str) -> Value {
    let inspect = json(&rv(ws, &["inspect", spec, "--env", env, "-o", "json"]).ok());
    inspect["manifest"]["previous"]["id"].clone()
}

#[test]
fn junk_in_the_store_never_freezes_snapshots_nor_moves_latest() {
    let ws = Workspace::new();
    let first = ws.snapshot(&scenario("storefront"), "prod");
    plant_junk(&ws, "prod", JUNK);

    // The next snapshot succeeds, chained to the last verified one, and says what it skipped.
    let second = ws.snapshot(&scenario("tenants"), "prod");
    assert_eq!(previous_of(&ws, "prod", &second), first.as_str());
    let run = rv(
        &ws,
        &[
            "snapshot",
            "--from-dir",
            scenario("storefront").to_str().unwrap(),
            "--env",
            "prod",
            "--sign-key",
            ws.sign_key().to_str().unwrap(),
            "--seal-to",
            ws.seal_pub().to_str().unwrap(),
        ],
    )
    .ok();
    assert!(
        run.stderr.contains(&format!("prod/{JUNK}")) && run.stderr.contains("does not verify"),
        "the skipped junk is reported: {}",
        run.stderr
    );
    let third = run.last_line();
    assert_eq!(previous_of(&ws, "prod", &third), second.as_str());

    // latest is the newest verified snapshot; verify and restore use it.
    let verify = rv(&ws, &["verify", "latest", "--env", "prod"]).ok();
    assert!(verify.stdout.contains(&third), "{}", verify.stdout);
    let out = ws.path("restored");
    ws.restore("prod", "latest", &out, &[]).ok();
    assert!(out.join("00-namespaces").exists(), "restored nothing");

    // list shows the junk as unverified, with why.
    let listed = json(&rv(&ws, &["list", "--env", "prod", "-o", "json"]).ok());
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let junk = rows.iter().find(|r| r["id"] == JUNK).unwrap();
    assert_eq!(junk["verified"], false);
    assert!(
        junk["problem"].as_str().unwrap().contains("malformed"),
        "{junk}"
    );
    assert!(
        rows.iter()
            .filter(|r| r["id"] != JUNK)
            .all(|r| r["verified"] == true)
    );
    let table = rv(&ws, &["list", "--env", "prod", "--keys"]).ok();
    assert!(
        table.stdout.contains(&format!("unverified prod/{JUNK}")),
        "{}",
        table.stdout
    );

    // Naming the junk explicitly is still refused (exit 3).
    rv(&ws, &["verify", JUNK, "--env", "prod"]).code(3);
}

#[test]
fn only_junk_means_no_latest_and_says_why() {
    let ws = Workspace::new();
    plant_junk(&ws, "prod", JUNK);
    let run = rv(&ws, &["verify", "latest", "--env", "prod"]).code(3);
    assert!(
        run.stderr
            .contains("none of the 1 committed snapshots of environment \"prod\""),
        "{}",
        run.stderr
    );
}

#[test]
fn prune_keeps_real_snapshots_whatever_junk_is_newer() {
    let ws = Workspace::new();
    let a = ws.snapshot(&scenario("storefront"), "prod");
    let b = ws.snapshot(&scenario("storefront"), "prod");
    plant_junk(&ws, "prod", JUNK);
    plant_junk(&ws, "prod", JUNK2);

    let pruned = json(&rv(&ws, &["prune", "--keep-last", "2", "-o", "json"]).ok());
    assert_eq!(pruned["deleted"], serde_json::json!([]), "{pruned}");
    assert_eq!(pruned["unverified"].as_array().unwrap().len(), 2);
    assert!(ws.signature("prod", &a).exists() && ws.signature("prod", &b).exists());

    // Keep-last 1 deletes the older real one, never the newest verified.
    let pruned = json(&rv(&ws, &["prune", "--keep-last", "1", "-o", "json"]).ok());
    assert_eq!(pruned["deleted"], serde_json::json!([format!("prod/{a}")]));
    assert!(ws.signature("prod", &b).exists() && ws.artifact("prod", &b).exists());

    // --keep-last 0 is refused outright.
    let zero = rv(&ws, &["prune", "--keep-last", "0"]).code(2);
    assert!(zero.stderr.contains("keep-last"), "{}", zero.stderr);

    // Unverified pairs go only when asked; a dry run shows them first.
    let dry = json(
        &rv(
            &ws,
            &[
                "prune",
                "--keep-last",
                "1",
                "--delete-unverified",
                "--dry-run",
                "-o",
                "json",
            ],
        )
        .ok(),
    );
    assert_eq!(dry["unverified_removed"].as_array().unwrap().len(), 2);
    assert!(ws.signature("prod", JUNK).exists(), "dry run deleted");
    rv(&ws, &["prune", "--keep-last", "1", "--delete-unverified"]).ok();
    assert!(!ws.signature("prod", JUNK).exists() && !ws.artifact("prod", JUNK2).exists());
    assert!(ws.signature("prod", &b).exists());
}

#[test]
fn history_proves_the_chain_and_catches_a_removed_middle() {
    let ws = Workspace::new();
    let a = ws.snapshot(&scenario("storefront"), "prod");
    let b = ws.snapshot(&scenario("tenants"), "prod");
    let c = ws.snapshot(&scenario("tenants"), "prod");
    plant_junk(&ws, "prod", JUNK);

    let history = json(&rv(&ws, &["history", "--env", "prod", "-o", "json"]).ok());
    assert_eq!(history["intact"], true, "{history}");
    let rows = history["snapshots"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![c.as_str(), b.as_str(), a.as_str()]);
    assert_eq!(rows[2]["link"], "start");
    assert_eq!(rows[0]["link"], "linked");
    // storefront → tenants: Ingresses added and removed; tenants → tenants: nothing changed
    // but the re-encrypted sealed Secrets, which are counted, not compared.
    let changed = &rows[1]["changes"];
    assert!(
        !changed["added"].as_object().unwrap().is_empty()
            && !changed["removed"].as_object().unwrap().is_empty(),
        "{changed}"
    );
    let same = &rows[0]["changes"];
    assert_eq!(same["changed"], serde_json::json!({}), "{same}");
    assert_eq!(same["added"], serde_json::json!({}));
    assert!(same["sealed_not_compared"].as_u64().unwrap() > 0, "{same}");
    let text = rv(&ws, &["history", "--env", "prod"]).ok();
    assert!(text.stdout.contains("intact"), "{}", text.stdout);

    // Pruning from the old end leaves a chain that still proves itself.
    rv(&ws, &["prune", "--keep-last", "2"]).ok();
    let pruned = json(&rv(&ws, &["history", "--env", "prod", "-o", "json"]).ok());
    assert_eq!(pruned["snapshots"][1]["link"], "pruned-before", "{pruned}");

    // A snapshot removed from the middle: exit 3, and the report names it.
    let d = ws.snapshot(&scenario("storefront"), "prod");
    fs::remove_file(ws.signature("prod", &c)).unwrap();
    let broken = rv(&ws, &["history", "--env", "prod", "-o", "json"]).code(3);
    let report = json(&broken);
    assert_eq!(report["intact"], false);
    assert!(
        report["problems"][0].as_str().unwrap().contains(&c),
        "{report}"
    );
    assert!(broken.stderr.contains("chain"), "{}", broken.stderr);
    assert!(d > c);
}

#[test]
fn a_hidden_newest_snapshot_is_caught_by_max_age() {
    let ws = Workspace::new();
    // An old snapshot (made two days ago, signed by the trusted key) and a fresh one.
    let old_id = snapshots::new_id(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48));
    let data = archive::namespace_yaml("shop");
    let manifest = archive::manifest(
        "prod",
        &old_id,
        vec![archive::entry("objects/000001.yaml", "shop", &data)],
    );
    let artifact = archive::build(
        &manifest,
        &[archive::Member::File {
            path: b"objects/000001.yaml".to_vec(),
            data,
        }],
    );
    archive::store_signed(&ws.store(), "prod", &old_id, &artifact, &ws.sign_key());
    let fresh = ws.snapshot(&scenario("storefront"), "prod");
    assert_eq!(previous_of(&ws, "prod", &fresh), old_id.as_str());

    for command in ["verify", "restore"] {
        let mut args = vec![command, "latest", "--env", "prod", "--max-age", "26h"];
        let out = ws.path(&format!("out-{command}"));
        if command == "restore" {
            args.extend(["--to-dir", out.to_str().unwrap()]);
        }
        rv(&ws, &args).ok();
    }
    rv(&ws, &["history", "--env", "prod", "--max-age", "26h"]).ok();

    // The writer hides the newest signature: latest silently becomes the old one, and the
    // chain from it looks whole — only its age gives the rollback away.
    fs::remove_file(ws.signature("prod", &fresh)).unwrap();
    let rolled = rv(&ws, &["verify", "latest", "--env", "prod"]).ok();
    assert!(rolled.stdout.contains(&old_id), "{}", rolled.stdout);
    for command in ["verify", "history", "restore"] {
        let out = ws.path(&format!("stale-{command}"));
        let mut args = vec![command, "--env", "prod", "--max-age", "26h"];
        if command != "history" {
            args.insert(1, "latest");
        }
        if command == "restore" {
            args.extend(["--to-dir", out.to_str().unwrap()]);
        }
        let stale = rv(&ws, &args).code(3);
        assert!(
            stale.stderr.contains("older than --max-age 26h") && stale.stderr.contains(&old_id),
            "{command}: {}",
            stale.stderr
        );
        assert!(!out.exists(), "{command} wrote something");
    }
    let bad = rv(
        &ws,
        &["verify", "latest", "--env", "prod", "--max-age", "soon"],
    )
    .code(2);
    assert!(bad.stderr.contains("--max-age"), "{}", bad.stderr);
}

#[test]
fn unverified_text_from_the_store_reaches_the_terminal_escaped() {
    let ws = Workspace::new();
    let real = ws.snapshot(&scenario("storefront"), "prod");
    // A signature whose (unverified) key id and fields carry terminal escapes, for a copy of a
    // real artifact under a new id.
    let forged = "20261126T000000.000Z-abcdef";
    fs::copy(ws.artifact("prod", &real), ws.artifact("prod", forged)).unwrap();
    let mut signature: Value =
        serde_json::from_slice(&fs::read(ws.signature("prod", &real)).unwrap()).unwrap();
    signature["key_id"] = Value::from("\u{1b}[32mOK prod/x: signed by trusted key\u{1b}[0m");
    tamper_write(
        &ws.signature("prod", forged),
        serde_json::to_string(&signature).unwrap().as_bytes(),
    );
    signature["key_id"] = Value::from("0123456789abcdef");
    signature["env"] = Value::from("\u{1b}]0;pwned\u{7}");
    let forged2 = "20261126T000000.001Z-abcdef";
    fs::copy(ws.artifact("prod", &real), ws.artifact("prod", forged2)).unwrap();
    tamper_write(
        &ws.signature("prod", forged2),
        serde_json::to_string(&signature).unwrap().as_bytes(),
    );

    for run in [
        rv(&ws, &["verify", forged, "--env", "prod"]).code(3),
        rv(&ws, &["verify", forged2, "--env", "prod"]).code(3),
        rv(&ws, &["list", "--env", "prod", "--keys"]).ok(),
        rv(&ws, &["list", "--env", "prod", "-o", "json"]).ok(),
        rv(&ws, &["verify", "latest", "--env", "prod"]).ok(),
        rv(&ws, &["history", "--env", "prod"]).ok(),
    ] {
        let all = run.all();
        assert!(
            !all.contains('\u{1b}') && !all.contains('\u{7}'),
            "a raw escape reached the terminal:\n{all}"
        );
    }
    let listed = rv(&ws, &["list", "--env", "prod", "--keys"]).ok();
    assert!(
        listed.stdout.contains("\\u{1b}[32m") || listed.stdout.contains("\\u{1b}"),
        "the forged key id is shown escaped: {}",
        listed.stdout
    );
}

#[test]
fn empty_captures_are_refused_unless_allowed() {
    let ws = Workspace::new();
    let empty = ws.path("empty");
    fs::create_dir_all(&empty).unwrap();
    fs::write(
        empty.join("deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n",
    )
    .unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "snapshot".to_string(),
            "--from-dir".into(),
            empty.display().to_string(),
            "--sign-key".into(),
            ws.sign_key().display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let refused = args(&[]);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let run = rv(&ws, &refused).code(1);
    assert!(
        run.stderr.contains("captured no routing objects")
            && run.stderr.contains(&empty.display().to_string())
            && run.stderr.contains("--allow-empty"),
        "{}",
        run.stderr
    );
    assert!(
        !ws.store().join("default").exists(),
        "a refused snapshot stored something"
    );
    let selected = args(&["--namespace", "nowhere"]);
    let selected: Vec<&str> = selected.iter().map(String::as_str).collect();
    let run = rv(&ws, &selected).code(1);
    assert!(run.stderr.contains("--namespace nowhere"), "{}", run.stderr);

    let allowed = args(&["--allow-empty"]);
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    rv(&ws, &allowed).ok();
}

// ---- S3 (the bed's SeaweedFS, Object Lock bucket: versioned) ----

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

struct S3Case {
    bed: Bed,
    env: Vec<(String, String)>,
    ws: Workspace,
    url: String,
}

impl S3Case {
    fn new(prefix: &str) -> Self {
        let bed = Bed::start(BedSpec {
            s3: true,
            ..Default::default()
        });
        let env = bed.s3_env();
        let url = format!("s3://{}/{prefix}", bed.var("ROUTEVAULT_TEST_BUCKET"));
        Self {
            bed,
            env,
            ws: Workspace::new(),
            url,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut all = args.to_vec();
        all.extend(["--store", self.url.as_str()]);
        self.ws.run_env(&all, &env)
    }

    fn snapshot(&self, from: &Path, extra: &[&str]) -> String {
        let (key, seal) = (self.ws.sign_key(), self.ws.seal_pub());
        let mut args = vec![
            "snapshot",
            "--from-dir",
            from.to_str().unwrap(),
            "--env",
            "prod",
            "--sign-key",
            key.to_str().unwrap(),
            "--seal-to",
            seal.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.run(&args).ok().last_line()
    }

    fn full_key(&self, key: &str) -> String {
        let prefix = self
            .url
            .split_once("//")
            .unwrap()
            .1
            .split_once('/')
            .unwrap()
            .1;
        format!("{prefix}/{key}")
    }

    /// A plain PUT, as the writer's PutObject permission allows: no If-None-Match.
    fn put_over(&self, key: &str, bytes: &[u8], retention: Option<&Retention>) {
        let client = self.bed.s3_client(&self.bed.var("AWS_SECRET_ACCESS_KEY"));
        let md5 = {
            use base64::Engine;
            use md5::Digest;
            base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
        };
        let mut put = client
            .put_object()
            .bucket(self.bed.var("ROUTEVAULT_TEST_BUCKET"))
            .key(self.full_key(key))
            .content_md5(md5)
            .body(bytes.to_vec().into());
        if let Some(r) = retention {
            put = put
                .object_lock_mode(aws_sdk_s3::types::ObjectLockMode::Compliance)
                .object_lock_retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(
                    r.until.as_second(),
                ));
        }
        block_on(put.send()).unwrap();
    }

    /// A plain DELETE (no version id): on a versioned bucket, a delete marker.
    fn delete_marker(&self, key: &str) {
        let client = self.bed.s3_client(&self.bed.var("AWS_SECRET_ACCESS_KEY"));
        block_on(
            client
                .delete_object()
                .bucket(self.bed.var("ROUTEVAULT_TEST_BUCKET"))
                .key(self.full_key(key))
                .send(),
        )
        .unwrap();
    }
}

fn compliance_day() -> Retention {
    Retention {
        mode: LockMode::Compliance,
        until: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24),
    }
}

#[test]
fn s3_locked_junk_cannot_freeze_the_snapshot_job() {
    let case = S3Case::new("freeze");
    let first = case.snapshot(&scenario("storefront"), &[]);
    // Junk the writer locks in COMPLIANCE mode: nobody can remove it for a day.
    let lock = compliance_day();
    let store = case.bed.store(&case.url);
    block_on(store.put_new_bytes(&snapshots::artifact_key("prod", JUNK), b"junk", Some(&lock)))
        .unwrap();
    block_on(store.put_new_bytes(&snapshots::signature_key("prod", JUNK), b"{}", Some(&lock)))
        .unwrap();

    let second = case.snapshot(&scenario("tenants"), &[]);
    let inspect = json(
        &case
            .run(&["inspect", &second, "--env", "prod", "-o", "json"])
            .ok(),
    );
    assert_eq!(inspect["manifest"]["previous"]["id"], first.as_str());
    let out = case.ws.path("restored");
    case.run(&[
        "restore",
        "latest",
        "--env",
        "prod",
        "--to-dir",
        out.to_str().unwrap(),
        "--unseal-key",
        case.ws.seal_key().to_str().unwrap(),
    ])
    .ok();
    let restored = support::cli::objects_in(&out);
    assert_eq!(restored, support::cli::expected(&scenario("tenants")));

    // prune with the junk: both real snapshots stay; the locked junk is reported, not deleted,
    // even when unverified pairs are to be deleted.
    let pruned = json(
        &case
            .run(&[
                "prune",
                "--keep-last",
                "2",
                "--delete-unverified",
                "-o",
                "json",
            ])
            .ok(),
    );
    assert_eq!(pruned["deleted"], serde_json::json!([]), "{pruned}");
    assert_eq!(pruned["unverified"][0]["snapshot"], format!("prod/{JUNK}"));
    let listed = json(&case.run(&["list", "--env", "prod", "-o", "json"]).ok());
    assert_eq!(listed.as_array().unwrap().len(), 3);
}

#[test]
fn s3_a_write_over_a_locked_snapshot_is_ignored_and_reported() {
    let case = S3Case::new("overwrite");
    let locked = case.snapshot(&scenario("storefront"), &["--retain-days", "1"]);
    let newer = case.snapshot(&scenario("tenants"), &[]);
    let artifact = snapshots::artifact_key("prod", &locked);
    let signature = snapshots::signature_key("prod", &locked);

    // The writer PUTs over both keys of the locked snapshot (S3 keeps the locked version and
    // makes the new bytes current), then hides the newest snapshot's signature.
    case.put_over(&artifact, b"garbage over a locked artifact", None);
    case.put_over(&signature, b"{\"format\": \"mine\"}", None);
    case.delete_marker(&snapshots::signature_key("prod", &newer));

    let verify = case.run(&["verify", &locked, "--env", "prod"]).ok();
    assert!(verify.stdout.starts_with("OK"), "{}", verify.stdout);
    assert!(
        verify.stdout.contains("locked Governance until"),
        "retention of the committed version: {}",
        verify.stdout
    );
    assert!(
        verify
            .stderr
            .contains("newer version(s) written over the committed one"),
        "the tampering is reported: {}",
        verify.stderr
    );
    let out = case.ws.path("restored");
    case.run(&[
        "restore",
        &locked,
        "--env",
        "prod",
        "--to-dir",
        out.to_str().unwrap(),
        "--unseal-key",
        case.ws.seal_key().to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        support::cli::objects_in(&out),
        support::cli::expected(&scenario("storefront"))
    );

    // The delete marker hides nothing: the newest snapshot is still listed and still latest.
    let latest = case.run(&["verify", "latest", "--env", "prod"]).ok();
    assert!(latest.stdout.contains(&newer), "{}", latest.stdout);
    let listed = json(&case.run(&["list", "--env", "prod", "-o", "json"]).ok());
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["verified"] == true), "{listed}");
    assert!(
        rows.iter()
            .any(|r| r["tampering"].to_string().contains("delete marker")),
        "{listed}"
    );
    case.run(&["history", "--env", "prod"]).ok();

    // Prune reads the retention of the version it would delete: the locked one stays, although
    // the current version written over it carries no lock.
    let pruned = json(&case.run(&["prune", "--keep-last", "1", "-o", "json"]).ok());
    assert_eq!(pruned["deleted"], serde_json::json!([]), "{pruned}");
    assert_eq!(pruned["retained"][0]["snapshot"], format!("prod/{locked}"));
    case.run(&["verify", &locked, "--env", "prod"]).ok();
}
