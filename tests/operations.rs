//! Operator experience through the real binary, on a local store: key rotation as the runbook
//! tells it (several trusted keys, old snapshots still verifiable, retiring a key), sealing-key
//! rotation, private-key permissions, JSON reports from every reporting command, completions
//! and man pages, and a closed stdout.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::cli::{Workspace, bin, scenario};

fn keygen_json(ws: &Workspace, dir: &str, name: &str) -> Value {
    let run = ws
        .run(&[
            "keygen",
            "--out",
            ws.path(dir).to_str().unwrap(),
            "--name",
            name,
            "-o",
            "json",
        ])
        .ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        !run.stdout.contains("PRIVATE KEY") && !run.stdout.contains("AGE-SECRET-KEY"),
        "keygen -o json prints no key material: {}",
        run.stdout
    );
    report
}

fn snapshot_with(ws: &Workspace, sign_key: &str, seal_to: &str) -> String {
    ws.run(&[
        "snapshot",
        "--from-dir",
        scenario("storefront").to_str().unwrap(),
        "--store",
        ws.store().to_str().unwrap(),
        "--env",
        "prod",
        "--sign-key",
        sign_key,
        "--seal-to",
        seal_to,
    ])
    .ok()
    .last_line()
}

fn verify_with(ws: &Workspace, id: &str, trust: &str) -> support::cli::Run {
    ws.run(&[
        "verify",
        id,
        "--store",
        ws.store().to_str().unwrap(),
        "--env",
        "prod",
        "--trust",
        trust,
        "-o",
        "json",
    ])
}

#[test]
fn signing_key_rotation_keeps_old_snapshots_verifiable_until_the_key_is_retired() {
    let ws = Workspace::new();
    let old = keygen_json(&ws, "old", "2026-q3");
    let new = keygen_json(&ws, "new", "2026-q4");
    let path = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();

    let before = snapshot_with(
        &ws,
        &path(&old, "signing_key"),
        &path(&old, "seal_recipient"),
    );

    // Rotation step 1: the trust folder holds both public keys.
    let trust = ws.path("trust");
    fs::create_dir_all(&trust).unwrap();
    for key in [&old, &new] {
        let public = path(key, "verify_key");
        let name = std::path::Path::new(&public)
            .file_name()
            .unwrap()
            .to_owned();
        fs::copy(&public, trust.join(name)).unwrap();
    }
    // Step 2: snapshots are signed with the new key from now on.
    let after = snapshot_with(
        &ws,
        &path(&new, "signing_key"),
        &path(&new, "seal_recipient"),
    );

    for (id, key) in [(&before, &old), (&after, &new)] {
        let report: Value =
            serde_json::from_str(&verify_with(&ws, id, trust.to_str().unwrap()).ok().stdout)
                .unwrap();
        assert_eq!(report["key_id"], key["key_id"], "{report}");
    }

    // Which snapshots still need the old key: list --keys.
    let listed = ws
        .run(&[
            "list",
            "--store",
            ws.store().to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "--keys",
            "-o",
            "json",
        ])
        .ok();
    let rows: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    let signer_of = |id: &str| {
        rows.iter().find(|r| r["id"] == id).unwrap()["key_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(signer_of(&before), old["key_id"].as_str().unwrap());
    assert_eq!(signer_of(&after), new["key_id"].as_str().unwrap());
    let table = ws
        .run(&[
            "list",
            "--store",
            ws.store().to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "--keys",
        ])
        .ok();
    assert!(
        table.stdout.lines().next().unwrap().contains("KEY")
            && table.stdout.contains(old["key_id"].as_str().unwrap()),
        "{}",
        table.stdout
    );

    // Step 3: retiring the old key. Its snapshots stop verifying, by name of the key.
    fs::remove_file(trust.join("2026-q3.sign.pub")).unwrap();
    let refused = verify_with(&ws, &before, trust.to_str().unwrap()).code(3);
    assert!(
        refused.stderr.contains(old["key_id"].as_str().unwrap())
            && refused.stderr.contains("not among the trusted keys"),
        "{}",
        refused.stderr
    );
    verify_with(&ws, &after, trust.to_str().unwrap()).ok();
}

#[test]
fn sealing_key_rotation_seals_to_both_and_either_key_unseals() {
    let ws = Workspace::new();
    let old = keygen_json(&ws, "old", "seal-old");
    let new = keygen_json(&ws, "new", "seal-new");
    let recipients = format!(
        "{},{}",
        old["seal_recipient"].as_str().unwrap(),
        new["seal_recipient"].as_str().unwrap()
    );
    let id = snapshot_with(&ws, ws.sign_key().to_str().unwrap(), &recipients);
    for (i, key) in [&old, &new].iter().enumerate() {
        let out = ws.path(&format!("out{i}"));
        let run = ws
            .restore(
                "prod",
                &id,
                &out,
                &["--unseal-key", key["unseal_key"].as_str().unwrap()],
            )
            .ok();
        assert!(!run.stderr.contains("NOT restored"), "{}", run.stderr);
        let secrets = support::cli::objects_in(&out)
            .into_iter()
            .filter(|o| o.kind() == "Secret")
            .count();
        assert!(secrets > 0, "Secrets unsealed with key {i}");
    }
}

#[test]
fn private_keys_readable_by_other_users_are_refused() {
    let ws = Workspace::new();
    fs::set_permissions(ws.sign_key(), fs::Permissions::from_mode(0o644)).unwrap();
    let run = ws.run(&[
        "snapshot",
        "--from-dir",
        scenario("storefront").to_str().unwrap(),
        "--store",
        ws.store().to_str().unwrap(),
        "--env",
        "prod",
        "--sign-key",
        ws.sign_key().to_str().unwrap(),
        "--seal-to",
        ws.seal_pub().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("chmod 600") && run.stderr.contains("test.sign.key"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("PRIVATE KEY"));
    assert!(!ws.store().exists(), "nothing was stored");

    // Group-readable, as a Kubernetes Secret volume with fsGroup mounts it, is accepted.
    fs::set_permissions(ws.sign_key(), fs::Permissions::from_mode(0o440)).unwrap();
    let id = ws.snapshot(&scenario("storefront"), "prod");

    fs::set_permissions(ws.seal_key(), fs::Permissions::from_mode(0o604)).unwrap();
    let out = ws.path("out");
    let run = ws.restore(
        "prod",
        &id,
        &out,
        &["--unseal-key", ws.seal_key().to_str().unwrap()],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("chmod 600") && run.stderr.contains("test.seal.key"),
        "{}",
        run.stderr
    );
    assert!(!out.exists(), "nothing was written");
}

#[test]
fn every_reporting_command_speaks_json() {
    let ws = Workspace::new();
    let id = ws.snapshot(&scenario("storefront"), "prod");
    let store = ws.store();
    let trust = ws.sign_pub();
    let (store, trust) = (store.to_str().unwrap(), trust.to_str().unwrap());
    let out = ws.path("out");
    let (tenants, sign_key, seal_pub) = (scenario("tenants"), ws.sign_key(), ws.seal_pub());
    let commands: Vec<Vec<&str>> = vec![
        vec![
            "snapshot",
            "--from-dir",
            tenants.to_str().unwrap(),
            "--store",
            store,
            "--env",
            "tenants",
            "--sign-key",
            sign_key.to_str().unwrap(),
            "--seal-to",
            seal_pub.to_str().unwrap(),
        ],
        vec!["list", "--store", store],
        vec![
            "verify", &id, "--store", store, "--env", "prod", "--trust", trust,
        ],
        vec![
            "inspect", &id, "--store", store, "--env", "prod", "--trust", trust,
        ],
        vec![
            "restore",
            &id,
            "--store",
            store,
            "--env",
            "prod",
            "--trust",
            trust,
            "--to-dir",
            out.to_str().unwrap(),
        ],
        vec!["prune", "--store", store, "--keep-last", "5", "--dry-run"],
        vec![
            "history", "--store", store, "--env", "prod", "--trust", trust,
        ],
    ];
    for args in commands {
        let mut with_json = args.clone();
        with_json.extend(["-o", "json"]);
        let run = ws.run(&with_json).ok();
        let parsed: Result<Value, _> = serde_json::from_str(&run.stdout);
        assert!(
            parsed.is_ok(),
            "{} -o json printed something else: {}",
            args[0],
            run.stdout
        );
    }
    // And the logs: --log-format json makes every stderr line a JSON object.
    let run = ws
        .run(&[
            "--log-format",
            "json",
            "verify",
            &id,
            "--store",
            store,
            "--env",
            "prod",
            "--trust",
            trust,
        ])
        .ok();
    assert!(!run.stderr.trim().is_empty(), "verify logs something");
    for line in run.stderr.lines() {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
}

#[test]
fn completions_and_man_pages_cover_every_command() {
    let ws = Workspace::new();
    let commands = [
        "keygen", "snapshot", "list", "verify", "inspect", "restore", "prune", "history",
    ];
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = ws.run(&["completions", shell]).ok();
        for command in commands {
            assert!(
                run.stdout.contains(command),
                "{shell} completion lacks {command}"
            );
        }
    }
    assert!(
        ws.run(&["completions", "bash"])
            .ok()
            .stdout
            .contains("--namespace-map"),
        "completions know the options"
    );
    ws.run(&["completions", "tcsh"]).code(2);

    let page = ws.run(&["man"]).ok().stdout;
    assert!(
        page.starts_with(".ie") || page.contains(".TH routevault 1"),
        "{page}"
    );
    assert!(
        page.contains("artifact format v3"),
        "the page carries the version"
    );
    let dir = ws.path("man");
    ws.run(&["man", "--out", dir.to_str().unwrap()]).ok();
    for command in commands {
        let file = dir.join(format!("routevault-{command}.1"));
        let text =
            fs::read_to_string(&file).unwrap_or_else(|_| panic!("no man page {}", file.display()));
        assert!(text.contains(".SH OPTIONS"), "{}", file.display());
    }
    let restore = fs::read_to_string(dir.join("routevault-restore.1")).unwrap();
    assert!(
        restore.contains("ROUTEVAULT_NAMESPACE_MAP"),
        "man pages name the environment variables"
    );

    let version = ws.run(&["--version"]).ok().stdout;
    assert!(version.contains("(artifact format v3)"), "{version}");
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    // `routevault man | head -1`: the reader goes away; no panic, no error, and the exit code a
    // shell shows for a process SIGPIPE ended (141), though SIGPIPE itself stays ignored so
    // that a server closing a connection is an error the command reports
    // (tests/s3.rs: server_killed_mid_upload_leaves_no_snapshot_and_a_rerun_succeeds).
    // `-o json` streams its report (a restore's can list every object) through the same check.
    let ws = Workspace::new();
    let store = ws.path("empty-store");
    fs::create_dir_all(&store).unwrap();
    let trust = ws.sign_pub();
    let list_json = [
        "list",
        "--store",
        store.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
        "-o",
        "json",
    ];
    for args in [
        &["man"][..],
        &["completions", "bash"],
        &list_json,
        &["--help"],
    ] {
        let mut child = Command::new(bin())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        if args != ["--help"] {
            assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
            assert!(stderr.is_empty(), "{args:?}: {stderr}");
        }
    }
}
