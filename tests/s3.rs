//! The S3 store against the bed's real S3 server (SeaweedFS): the same snapshot life cycle as a
//! local folder, create-only writes, Object Lock retention, prune, multipart uploads, the errors
//! users meet, and a server killed in the middle of an upload.

mod support;

use std::fs;
use std::path::Path;

use routevault::artifact::ArtifactWriter;
use routevault::store::s3::MIN_PART_SIZE as S3_MIN_PART;
use routevault::store::{
    LockMode, ObjectStore, Retention, S3Options, S3Store, StoreError, snapshots,
};
use serde_json::Value;
use support::bed::{Bed, BedSpec};
use support::cli::{Run, Workspace, scenario};

fn s3_bed() -> Bed {
    Bed::start(BedSpec {
        s3: true,
        ..Default::default()
    })
}

fn run(ws: &Workspace, env: &[(String, String)], args: &[&str]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ws.run_env(args, &env)
}

fn snapshot(
    ws: &Workspace,
    env: &[(String, String)],
    store: &str,
    from: &Path,
    name: &str,
    extra: &[&str],
) -> Run {
    let (key, seal) = (ws.sign_key(), ws.seal_pub());
    let mut args = vec![
        "snapshot",
        "--from-dir",
        from.to_str().unwrap(),
        "--store",
        store,
        "--env",
        name,
        "--sign-key",
        key.to_str().unwrap(),
        "--seal-to",
        seal.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(ws, env, &args)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

/// Every restored file, relative path → contents.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((
                    path.strip_prefix(dir).unwrap().display().to_string(),
                    fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn s3_store_behaves_exactly_like_a_local_folder() {
    let bed = s3_bed();
    let env = bed.s3_env();
    let ws = Workspace::new();
    let s3_url = format!(
        "s3://{}/team-a/routevault",
        bed.var("ROUTEVAULT_TEST_BUCKET")
    );
    let local_url = ws.store().display().to_string();
    let trust = ws.sign_pub();
    let unseal = ws.seal_key();
    let mut restored = Vec::new();
    for store in [&local_url, &s3_url] {
        let first = snapshot(&ws, &env, store, &scenario("tenants"), "prod", &[])
            .ok()
            .last_line();
        let second = snapshot(&ws, &env, store, &scenario("tenants"), "prod", &[])
            .ok()
            .last_line();
        snapshot(&ws, &env, store, &scenario("storefront"), "staging", &[]).ok();

        let list = run(&ws, &env, &["list", "--store", store, "-o", "json"]).ok();
        let listed: Vec<Value> = serde_json::from_str(&list.stdout).unwrap();
        let names: Vec<String> = listed
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s["env"].as_str().unwrap(),
                    s["id"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(names.len(), 3, "{store}: {names:?}");
        assert_eq!(names[0], format!("prod/{first}"));
        assert_eq!(names[1], format!("prod/{second}"));

        let verify = run(
            &ws,
            &env,
            &[
                "verify",
                "latest",
                "--store",
                store,
                "--env",
                "prod",
                "--trust",
                trust.to_str().unwrap(),
            ],
        )
        .ok();
        assert!(
            verify.stdout.contains(&second),
            "{store}: {}",
            verify.stdout
        );
        let inspect = run(
            &ws,
            &env,
            &[
                "inspect",
                "latest",
                "--store",
                store,
                "--env",
                "prod",
                "--trust",
                trust.to_str().unwrap(),
                "-o",
                "json",
            ],
        )
        .ok();
        let inspected: Value = serde_json::from_str(&inspect.stdout).unwrap();
        assert_eq!(inspected["manifest"]["previous"]["id"], first.as_str());

        let out = ws.path(&format!("restored-{}", restored.len()));
        run(
            &ws,
            &env,
            &[
                "restore",
                "latest",
                "--store",
                store,
                "--env",
                "prod",
                "--trust",
                trust.to_str().unwrap(),
                "--unseal-key",
                unseal.to_str().unwrap(),
                "--to-dir",
                out.to_str().unwrap(),
            ],
        )
        .ok();
        restored.push(files(&out));
    }
    assert!(!restored[0].is_empty());
    assert_eq!(
        restored[0], restored[1],
        "the S3 restore differs from the local one"
    );

    // The objects are where the layout says, under the prefix.
    let s3 = bed.store(&s3_url);
    let keys: Vec<String> = block_on(s3.list(""))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with("prod/") || k.starts_with("staging/")),
        "{keys:?}"
    );
}

#[test]
fn s3_writes_are_create_only_and_uncommitted_uploads_are_invisible() {
    let bed = s3_bed();
    let env = bed.s3_env();
    let ws = Workspace::new();
    let url = format!("s3://{}/create-only", bed.var("ROUTEVAULT_TEST_BUCKET"));
    let store = bed.store(&url);

    block_on(store.put_new_bytes("prod/x", b"first", None)).unwrap();
    let second = block_on(store.put_new_bytes("prod/x", b"second", None)).unwrap_err();
    assert!(
        matches!(second, StoreError::AlreadyExists { .. }),
        "{second}"
    );
    assert!(second.to_string().contains("never overwritten"));
    assert_eq!(
        block_on(store.get_bytes("prod/x", None, 100)).unwrap(),
        b"first"
    );

    // A committed snapshot, then artifacts whose signature never arrived: one old, one fresh.
    let id = snapshot(&ws, &env, &url, &scenario("storefront"), "prod", &[])
        .ok()
        .last_line();
    let artifact =
        block_on(store.get_bytes(&snapshots::artifact_key("prod", &id), None, 1 << 30)).unwrap();
    let old_orphan = "20200101T000000.000Z-0000aa";
    let fresh_orphan = snapshots::new_id(jiff::Timestamp::now());
    for orphan in [old_orphan, fresh_orphan.as_str()] {
        block_on(store.put_new_bytes(&snapshots::artifact_key("prod", orphan), &artifact, None))
            .unwrap();
    }
    let list = run(&ws, &env, &["list", "--store", &url, "-o", "json"]).ok();
    let listed: Vec<Value> = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    let trust = ws.sign_pub();
    let latest = run(
        &ws,
        &env,
        &[
            "verify",
            "latest",
            "--store",
            &url,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
        ],
    )
    .ok();
    assert!(latest.stdout.contains(&id));
    let orphan = run(
        &ws,
        &env,
        &[
            "verify",
            old_orphan,
            "--store",
            &url,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
        ],
    )
    .code(3);
    assert!(orphan.stderr.contains("no signature"), "{}", orphan.stderr);

    // prune removes the old orphan, leaves the fresh one (it may still be uploading) and the snapshot.
    let pruned = run(
        &ws,
        &env,
        &["prune", "--store", &url, "--keep-last", "5", "-o", "json"],
    )
    .ok();
    let report: Value = serde_json::from_str(&pruned.stdout).unwrap();
    assert_eq!(
        report["orphans_removed"],
        serde_json::json!([format!("prod/{old_orphan}")])
    );
    assert_eq!(report["deleted"], serde_json::json!([]));
    let keys: Vec<String> = block_on(store.list("prod/"))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert!(!keys.iter().any(|k| k.contains(old_orphan)));
    assert!(keys.iter().any(|k| k.contains(&fresh_orphan)));
}

#[test]
fn retention_locks_snapshots_and_prune_keeps_them() {
    let bed = s3_bed();
    let env = bed.s3_env();
    let ws = Workspace::new();
    let url = format!("s3://{}/locked", bed.var("ROUTEVAULT_TEST_BUCKET"));
    let trust = ws.sign_pub();

    let unlocked = snapshot(&ws, &env, &url, &scenario("storefront"), "prod", &[])
        .ok()
        .last_line();
    let locked = snapshot(
        &ws,
        &env,
        &url,
        &scenario("storefront"),
        "prod",
        &["--retain-days", "2", "--lock-mode", "governance"],
    )
    .ok();
    assert!(
        locked.stdout.contains("locked    Governance until"),
        "{}",
        locked.stdout
    );
    let locked = locked.last_line();
    snapshot(&ws, &env, &url, &scenario("storefront"), "prod", &[]).ok();

    let verify = run(
        &ws,
        &env,
        &[
            "verify",
            &locked,
            "--store",
            &url,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
        ],
    )
    .ok();
    assert!(
        verify.stdout.contains("locked Governance until"),
        "{}",
        verify.stdout
    );
    let inspect = run(
        &ws,
        &env,
        &[
            "inspect",
            &locked,
            "--store",
            &url,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .ok();
    let inspected: Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(inspected["retention"]["mode"], "governance");
    let until: jiff::Timestamp = inspected["retention"]["until"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let days = until.duration_since(jiff::Timestamp::now()).as_hours();
    assert!((47..=48).contains(&days), "retained for {days} hours");
    let unlocked_verify = run(
        &ws,
        &env,
        &[
            "verify",
            &unlocked,
            "--store",
            &url,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
        ],
    )
    .ok();
    assert!(!unlocked_verify.stdout.contains("locked"));

    // Keep only the newest: the unlocked old one goes, the locked one stays and is listed.
    let dry = run(
        &ws,
        &env,
        &[
            "prune",
            "--store",
            &url,
            "--keep-last",
            "1",
            "--dry-run",
            "-o",
            "json",
        ],
    )
    .ok();
    let dry: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(
        dry["deleted"],
        serde_json::json!([format!("prod/{unlocked}")])
    );
    assert_eq!(
        run(&ws, &env, &["list", "--store", &url, "-o", "json"])
            .ok()
            .stdout
            .matches("\"id\"")
            .count(),
        3,
        "dry run deleted"
    );
    let pruned = run(&ws, &env, &["prune", "--store", &url, "--keep-last", "1"]).ok();
    assert!(
        pruned
            .stdout
            .contains(&format!("kept prod/{locked} (locked Governance until")),
        "{}",
        pruned.stdout
    );
    let list = run(&ws, &env, &["list", "--store", &url, "-o", "json"]).ok();
    let ids: Vec<String> = serde_json::from_str::<Vec<Value>>(&list.stdout)
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&locked) && !ids.contains(&unlocked));

    // Without Object Lock on the bucket, or on a local folder, --retain-days refuses up front.
    let nolock = format!("s3://{}/x", bed.var("ROUTEVAULT_TEST_BUCKET_NOLOCK"));
    let refused = snapshot(
        &ws,
        &env,
        &nolock,
        &scenario("storefront"),
        "prod",
        &["--retain-days", "1"],
    )
    .code(1);
    assert!(
        refused.stderr.contains("does not have Object Lock enabled"),
        "{}",
        refused.stderr
    );
    let store = bed.store(&nolock);
    assert!(
        block_on(store.list("")).unwrap().is_empty(),
        "a refused snapshot stored something"
    );
    let local = ws.store().display().to_string();
    let refused = snapshot(
        &ws,
        &env,
        &local,
        &scenario("storefront"),
        "prod",
        &["--retain-days", "1"],
    )
    .code(1);
    assert!(
        refused.stderr.contains("cannot lock objects"),
        "{}",
        refused.stderr
    );
}

#[test]
fn s3_errors_say_what_failed_and_what_to_do() {
    let bed = s3_bed();
    let env = bed.s3_env();
    let ws = Workspace::new();
    let from = scenario("storefront");

    let missing = snapshot(&ws, &env, "s3://no-such-bucket/x", &from, "prod", &[]).code(1);
    assert!(
        missing
            .stderr
            .contains("bucket no-such-bucket does not exist"),
        "{}",
        missing.stderr
    );

    let mut wrong = env.clone();
    wrong.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    wrong.push(("AWS_SECRET_ACCESS_KEY".into(), "not-the-secret".into()));
    let url = format!("s3://{}/x", bed.var("ROUTEVAULT_TEST_BUCKET"));
    let denied = snapshot(&ws, &wrong, &url, &from, "prod", &[]).code(1);
    assert!(
        denied.stderr.contains("access denied") && denied.stderr.contains("check the credentials"),
        "{}",
        denied.stderr
    );
    let denied_list = run(&ws, &wrong, &["list", "--store", &url]).code(1);
    assert!(
        denied_list.stderr.contains("access denied"),
        "{}",
        denied_list.stderr
    );

    let mut unreachable = env.clone();
    unreachable.retain(|(k, _)| k != "ROUTEVAULT_S3_ENDPOINT");
    unreachable.push(("ROUTEVAULT_S3_ENDPOINT".into(), "http://127.0.0.1:9".into()));
    let down = run(&ws, &unreachable, &["list", "--store", &url]).code(1);
    assert!(
        down.stderr
            .contains("cannot reach the S3 endpoint http://127.0.0.1:9"),
        "{}",
        down.stderr
    );

    // The AWS SDKs' standard variables name the endpoint when --s3-endpoint does not; the
    // service-specific one wins, and messages name the endpoint actually used.
    let endpoint = bed.var("ROUTEVAULT_S3_ENDPOINT");
    let mut standard = env.clone();
    standard.retain(|(k, _)| k != "ROUTEVAULT_S3_ENDPOINT");
    standard.push(("AWS_ENDPOINT_URL_S3".into(), endpoint.clone()));
    standard.push(("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into()));
    let made = snapshot(&ws, &standard, &url, &from, "endpoint-vars", &[]).ok();
    let listed = run(
        &ws,
        &standard,
        &["list", "--store", &url, "--env", "endpoint-vars"],
    )
    .ok();
    assert!(
        listed.stdout.contains(&made.last_line()),
        "{}",
        listed.stdout
    );
    standard.retain(|(k, _)| k != "AWS_ENDPOINT_URL_S3");
    let down = run(&ws, &standard, &["list", "--store", &url]).code(1);
    assert!(
        down.stderr
            .contains("cannot reach the S3 endpoint http://127.0.0.1:9"),
        "{}",
        down.stderr
    );
}

/// A folder with `count` TLS Secrets of `bytes` random bytes each, all referenced by one
/// Ingress: sealed data does not compress, so the artifact is about count × bytes × 4/3.
fn big_environment(dir: &Path, count: usize, bytes: usize) {
    use base64::Engine;
    fs::create_dir_all(dir).unwrap();
    let mut text = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n");
    let mut tls = String::new();
    let mut noise = vec![0u8; bytes / 2];
    let mut random = || {
        getrandom::fill(&mut noise).unwrap();
        base64::engine::general_purpose::STANDARD.encode(&noise)
    };
    for i in 0..count {
        let (crt, key) = (random(), random());
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: tls-{i}, namespace: big}}\ntype: kubernetes.io/tls\ndata: {{tls.crt: {crt}, tls.key: {key}}}\n"
        ));
        tls.push_str(&format!("  - {{secretName: tls-{i}}}\n"));
    }
    text.push_str(&format!("---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: big, namespace: big}}\nspec:\n  tls:\n{tls}"));
    fs::write(dir.join("big.yaml"), text).unwrap();
}

#[test]
fn large_artifacts_go_up_in_parts_and_round_trip() {
    let bed = s3_bed();
    let env = bed.s3_env();
    let ws = Workspace::new();
    let source = ws.path("big");
    big_environment(&source, 500, 48 * 1024); // ~32 MB sealed
    let url = format!("s3://{}/multipart", bed.var("ROUTEVAULT_TEST_BUCKET"));
    let id = snapshot(
        &ws,
        &env,
        &url,
        &source,
        "prod",
        &["--s3-part-size", &(5u64 << 20).to_string()],
    )
    .ok()
    .last_line();
    let store = bed.store(&url);
    let size = block_on(store.list("prod/"))
        .unwrap()
        .into_iter()
        .find(|o| o.key.ends_with(".tar.zst"))
        .unwrap()
        .size;
    assert!(
        size > 3 * (5 << 20),
        "artifact of {size} bytes is too small to need several parts"
    );
    let trust = ws.sign_pub();
    let unseal = ws.seal_key();
    let out = ws.path("restored");
    run(
        &ws,
        &env,
        &[
            "restore",
            &id,
            "--store",
            &url,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
            "--unseal-key",
            unseal.to_str().unwrap(),
            "--to-dir",
            out.to_str().unwrap(),
        ],
    )
    .ok();
    assert_eq!(
        fs::read_dir(out.join("03-secrets/big")).unwrap().count(),
        500
    );
    // Creating the same key by multipart upload is refused too.
    let artifact = ws.path("artifact");
    let mut file = fs::File::create(&artifact).unwrap();
    block_on(store.get_to_file(
        &snapshots::artifact_key("prod", &id),
        None,
        &mut file,
        1 << 30,
    ))
    .unwrap();
    let again =
        block_on(store.put_new_file(&snapshots::artifact_key("prod", &id), &artifact, None))
            .unwrap_err();
    assert!(matches!(again, StoreError::AlreadyExists { .. }), "{again}");
}

/// An S3 store of the bed with 5 MiB parts, made inside a test's runtime.
async fn store_with_small_parts(bed: &Bed, prefix: &str) -> S3Store {
    let options = S3Options {
        endpoint: Some(bed.var("ROUTEVAULT_S3_ENDPOINT")),
        path_style: true,
        region: Some(bed.var("AWS_REGION")),
        part_size: S3_MIN_PART,
        credentials: Some((
            bed.var("AWS_ACCESS_KEY_ID"),
            bed.var("AWS_SECRET_ACCESS_KEY"),
        )),
    };
    S3Store::connect(&bed.var("ROUTEVAULT_TEST_BUCKET"), prefix, &options).await
}

/// An empty artifact writer with its temporary folder.
fn new_artifact() -> (ArtifactWriter, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let writer = ArtifactWriter::new(dir.path(), 3).unwrap();
    (writer, dir)
}

/// About 25 MB of objects of random data: about 19 MB of compressed body.
fn add_big_objects(writer: &mut ArtifactWriter) {
    use base64::Engine;
    let mut noise = vec![0u8; 192 * 1024];
    for i in 0..100 {
        getrandom::fill(&mut noise).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(&noise);
        let object = routevault::object::Object(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("tls-{i}"), "namespace": "big"},
            "data": {"tls.crt": data}
        }));
        writer
            .add_object(&object, false, Default::default())
            .unwrap();
    }
}

fn manifest_of(id: &str) -> routevault::artifact::Manifest {
    use routevault::artifact::format;
    routevault::artifact::Manifest {
        format: format::FORMAT_NAME.into(),
        format_version: format::FORMAT_VERSION,
        id: id.into(),
        env: "prod".into(),
        created: "2026-12-04T00:00:00Z".into(),
        tool: format::ToolInfo {
            name: "routevault".into(),
            version: "test".into(),
        },
        source: routevault::artifact::SourceInfo {
            kind: "dir".into(),
            ..Default::default()
        },
        build_id: None,
        labels: Default::default(),
        selection: Default::default(),
        secrets: routevault::select::SecretsMode::Plaintext,
        sealing: None,
        previous: None,
        warnings: Vec::new(),
        skipped: Default::default(),
        entries: Vec::new(),
    }
}

/// The part numbers of the multipart uploads in flight under `prefix`, per upload.
async fn parts_in_flight(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<Vec<i32>> {
    let uploads = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for upload in uploads.uploads() {
        let parts = s3
            .list_parts()
            .bucket(bucket)
            .key(upload.key().unwrap())
            .upload_id(upload.upload_id().unwrap())
            .send()
            .await
            .unwrap();
        out.push(
            parts
                .parts()
                .iter()
                .filter_map(|p| p.part_number())
                .collect(),
        );
    }
    out
}

/// Waits (at most a minute) until an upload under `prefix` holds a part.
async fn wait_for_a_part(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<i32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let uploads = parts_in_flight(s3, bucket, prefix).await;
        if let Some(parts) = uploads.into_iter().find(|parts| !parts.is_empty()) {
            return parts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no part of the artifact went up while it was written");
}

/// The artifact's body goes up while it is written, part 1 (the manifest's frame) last, and
/// the stored object is the finished file byte for byte. On a single-threaded runtime, as in
/// the binary: the upload runs whenever the writer's side waits.
#[tokio::test(flavor = "current_thread")]
async fn the_body_goes_up_while_the_artifact_is_written_and_part_one_last() {
    let bed = s3_bed();
    let bucket = bed.var("ROUTEVAULT_TEST_BUCKET");
    let s3 = bed.s3_client(&bed.var("AWS_SECRET_ACCESS_KEY"));
    let store = store_with_small_parts(&bed, "streaming").await;
    let id = "20261204T000000.000Z-abcdef";
    let key = snapshots::artifact_key("prod", id);

    let (mut writer, _dir) = new_artifact();
    let upload = store.upload_while_written(&key, None, writer.follow_body().unwrap());
    add_big_objects(&mut writer);
    let early = wait_for_a_part(&s3, &bucket, "streaming/").await;
    assert!(
        !early.contains(&1) && early.contains(&2),
        "parts before the artifact was finished: {early:?}"
    );
    let finished = writer.finish(manifest_of(id)).unwrap();
    upload
        .finish(finished.file.path(), finished.body_offset)
        .await
        .unwrap();
    let stored = store.get_bytes(&key, None, 1 << 30).await.unwrap();
    let written = fs::read(finished.file.path()).unwrap();
    assert!(written.len() > 15 << 20, "{} bytes", written.len());
    assert!(stored[..] == written[..], "the stored artifact differs");
    assert_eq!(parts_in_flight(&s3, &bucket, "streaming/").await.len(), 0);

    // The same key again: refused when completed, and nothing is left in flight.
    let (mut writer, _dir2) = new_artifact();
    let upload = store.upload_while_written(&key, None, writer.follow_body().unwrap());
    add_big_objects(&mut writer);
    wait_for_a_part(&s3, &bucket, "streaming/").await;
    let finished = writer.finish(manifest_of(id)).unwrap();
    let again = upload
        .finish(finished.file.path(), finished.body_offset)
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::AlreadyExists { .. }), "{again}");
    assert_eq!(parts_in_flight(&s3, &bucket, "streaming/").await.len(), 0);

    // A snapshot that fails while its body is going up leaves no object and no upload.
    let abandoned = snapshots::artifact_key("prod", "20261204T000001.000Z-abcdef");
    let (mut writer, _dir3) = new_artifact();
    let upload = store.upload_while_written(&abandoned, None, writer.follow_body().unwrap());
    add_big_objects(&mut writer);
    wait_for_a_part(&s3, &bucket, "streaming/").await;
    drop(writer);
    upload.abort().await;
    assert_eq!(parts_in_flight(&s3, &bucket, "streaming/").await.len(), 0);
    let listed = store.list("prod/").await.unwrap();
    assert_eq!(
        listed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        [key.as_str()]
    );

    // With --retain-days: the upload is created locked, its parts go up early all the same,
    // and the completed object carries the retention.
    let locked = snapshots::artifact_key("locked", id);
    let until = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap();
    let retention = Retention {
        mode: LockMode::Governance,
        until,
    };
    let (mut writer, _dir4) = new_artifact();
    let upload =
        store.upload_while_written(&locked, Some(&retention), writer.follow_body().unwrap());
    add_big_objects(&mut writer);
    let early = wait_for_a_part(&s3, &bucket, "streaming/locked/").await;
    assert!(!early.contains(&1), "{early:?}");
    let finished = writer.finish(manifest_of(id)).unwrap();
    upload
        .finish(finished.file.path(), finished.body_offset)
        .await
        .unwrap();
    let held = store.retention(&locked, None).await.unwrap().unwrap();
    assert_eq!(held.mode, LockMode::Governance);
    assert_eq!(held.until.as_second(), until.as_second());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_upload_leaves_no_snapshot_and_a_rerun_succeeds() {
    let bed = s3_bed();
    let env = bed.s3_env();
    let ws = Workspace::new();
    let source = ws.path("big");
    big_environment(&source, 160, 400 * 1024); // ~85 MB sealed: many 5 MiB parts
    let url = format!("s3://{}/fault", bed.var("ROUTEVAULT_TEST_BUCKET"));
    let (key, seal) = (ws.sign_key(), ws.seal_pub());
    let part = (5u64 << 20).to_string();
    let args = [
        "snapshot",
        "--from-dir",
        source.to_str().unwrap(),
        "--store",
        &url,
        "--env",
        "prod",
        "--sign-key",
        key.to_str().unwrap(),
        "--seal-to",
        seal.to_str().unwrap(),
        "--s3-part-size",
        &part,
    ];
    let mut command = std::process::Command::new(support::cli::bin());
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();

    // Inject the fault once the upload is under way: a multipart upload has been created.
    let s3 = bed.s3_client(&bed.var("AWS_SECRET_ACCESS_KEY"));
    let bucket = bed.var("ROUTEVAULT_TEST_BUCKET");
    let mut started = false;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::time::Instant::now() < deadline {
        let uploads = s3
            .list_multipart_uploads()
            .bucket(&bucket)
            .prefix("fault/")
            .send()
            .await;
        match uploads {
            Ok(u) if !u.uploads().is_empty() => {
                started = true;
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("listing multipart uploads: {e:?}"),
        }
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "snapshot ended before its upload began:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(started, "the upload never started");
    bed.kill_s3();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "snapshot should fail when the server dies mid-upload:\n{stderr}"
    );
    assert!(
        stderr.contains("storing the artifact (nothing was committed)"),
        "{stderr}"
    );

    bed.restart_s3();
    let list = run(&ws, &env, &["list", "--store", &url, "-o", "json"]).ok();
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&list.stdout)
            .unwrap()
            .len(),
        0,
        "a snapshot is visible after a failed upload: {}\nsnapshot stderr: {stderr}",
        list.stdout
    );
    let trust = ws.sign_pub();
    let latest = run(
        &ws,
        &env,
        &[
            "verify",
            "latest",
            "--store",
            &url,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
        ],
    )
    .code(1);
    assert!(
        latest.stderr.contains("no committed snapshot"),
        "{}",
        latest.stderr
    );

    let rerun = run(&ws, &env, &args).ok();
    let id = rerun.last_line();
    let list = run(&ws, &env, &["list", "--store", &url, "-o", "json"]).ok();
    let listed: Vec<Value> = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    run(
        &ws,
        &env,
        &[
            "verify",
            &id,
            "--store",
            &url,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
        ],
    )
    .ok();
}

/// The leaked-key runbook: retiring a key with `# not-after:` keeps every snapshot the store
/// received before that time verifiable, and refuses one written afterwards with the same key
/// (a forgery by whoever holds the leaked key). The time is the S3 server's Last-Modified,
/// which a writer cannot choose.
#[test]
fn a_retired_signing_key_still_verifies_what_the_store_received_before_its_cutoff() {
    let bed = s3_bed();
    let ws = Workspace::new();
    let env = bed.s3_env();
    let store = format!("s3://{}/retired", bed.var("ROUTEVAULT_TEST_BUCKET"));
    let before = snapshot(&ws, &env, &store, &scenario("storefront"), "prod", &[])
        .ok()
        .last_line();
    // Last-Modified has whole seconds: keep the cutoff and the "forgery" apart by more.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let cutoff = jiff::Timestamp::now();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let forged = snapshot(&ws, &env, &store, &scenario("tenants"), "prod", &[])
        .ok()
        .last_line();

    let trust = ws.path("trust");
    fs::create_dir_all(&trust).unwrap();
    let public = fs::read_to_string(ws.sign_pub()).unwrap();
    fs::write(
        trust.join("prod.sign.pub"),
        format!("# leaked; see the incident ticket\n# not-after: {cutoff}\n{public}"),
    )
    .unwrap();
    let verify = |id: &str| {
        run(
            &ws,
            &env,
            &[
                "verify",
                id,
                "--store",
                &store,
                "--env",
                "prod",
                "--trust",
                trust.to_str().unwrap(),
            ],
        )
    };
    verify(&before).ok();
    let refused = verify(&forged).code(3);
    assert!(
        refused.stderr.contains("retired") && refused.stderr.contains("prod.sign.pub"),
        "{}",
        refused.stderr
    );
    // Restore refuses it as well, before writing anything.
    let out = ws.path("out");
    run(
        &ws,
        &env,
        &[
            "restore",
            &forged,
            "--store",
            &store,
            "--env",
            "prod",
            "--trust",
            trust.to_str().unwrap(),
            "--to-dir",
            out.to_str().unwrap(),
        ],
    )
    .code(3);
    assert!(!out.exists());
}

#[test]
fn trace_logs_carry_no_credentials() {
    let bed = s3_bed();
    let env = bed.s3_env();
    let ws = Workspace::new();
    let url = format!("s3://{}/trace", bed.var("ROUTEVAULT_TEST_BUCKET"));
    for format in ["text", "json"] {
        let run = snapshot(
            &ws,
            &env,
            &url,
            &scenario("storefront"),
            "prod",
            &["--log-level", "trace", "--log-format", format],
        )
        .ok();
        let stderr = run.stderr;
        assert!(
            stderr.to_ascii_lowercase().contains("authorization"),
            "trace logging did not show the request headers; this test would prove nothing"
        );
        assert!(
            stderr.contains("[redacted]"),
            "{format}: nothing was redacted"
        );
        let secret = bed.var("AWS_SECRET_ACCESS_KEY");
        assert!(
            !stderr.contains(&secret),
            "{format}: the secret key was logged"
        );
        for leaked in ["Signature=", "AWS4-HMAC-SHA256 Credential"] {
            if let Some(at) = stderr.find(leaked) {
                let from = stderr[..at]
                    .char_indices()
                    .rev()
                    .nth(300)
                    .map_or(0, |(i, _)| i);
                let to = stderr[at..]
                    .char_indices()
                    .nth(120)
                    .map_or(stderr.len(), |(i, _)| at + i);
                panic!(
                    "{format}: {leaked} reached the log: ...{}",
                    &stderr[from..to]
                );
            }
        }
    }
}
