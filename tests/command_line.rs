//! The command-line conventions, through the real binary: a restore's target never comes from
//! the snapshot job's variables, every command prints every documented `-o` format, and a
//! throttled API server is retried exactly as docs/architecture.md says (one retry layer).
//! No bed is needed: a local store, and for throttling a tiny HTTP server of our own.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cli::{Workspace, scenario};

#[test]
fn restore_never_takes_its_target_from_the_snapshot_jobs_environment() {
    let ws = Workspace::new();
    let id = ws.snapshot(&scenario("storefront"), "prod");
    let (store, trust) = (ws.store(), ws.sign_pub());
    let kubeconfig = ws.path("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").unwrap();
    let restore = [
        "restore",
        &id,
        "--env",
        "prod",
        "--store",
        store.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
    ];
    // Everything a snapshot CronJob's environment could hold that names a cluster.
    let snapshot_job = [
        ("ROUTEVAULT_CLUSTER", "prod-eu"),
        ("ROUTEVAULT_KUBECONFIG", kubeconfig.to_str().unwrap()),
        ("ROUTEVAULT_IN_CLUSTER", "true"),
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
    ];
    let run = ws.run_env(&restore, &snapshot_job).code(1);
    assert!(
        run.stderr.contains("say where to restore"),
        "{}",
        run.stderr
    );
    // The restore's own variable is read: it names a context this kubeconfig does not have.
    let mut own = snapshot_job.to_vec();
    own.push(("ROUTEVAULT_RESTORE_CLUSTER", "dr-east"));
    own.push((
        "ROUTEVAULT_RESTORE_KUBECONFIG",
        kubeconfig.to_str().unwrap(),
    ));
    let run = ws.run_env(&restore, &own).code(1);
    assert!(run.stderr.contains("dr-east"), "{}", run.stderr);
    assert!(!run.stderr.contains("prod-eu"), "{}", run.stderr);
}

#[test]
fn every_command_accepts_every_documented_output_format() {
    let ws = Workspace::new();
    let id = ws.snapshot(&scenario("storefront"), "prod");
    let (store, trust, sign_key, seal_pub, unseal) = (
        ws.store(),
        ws.sign_pub(),
        ws.sign_key(),
        ws.seal_pub(),
        ws.seal_key(),
    );
    let (store, trust) = (store.to_str().unwrap(), trust.to_str().unwrap());
    let from = scenario("storefront");
    for (n, format) in ["text", "table", "json", "yaml"].into_iter().enumerate() {
        let keys_out = ws.path(&format!("keys-{format}"));
        let dir_out = ws.path(&format!("restored-{format}"));
        let commands: Vec<Vec<&str>> = vec![
            vec!["keygen", "--out", keys_out.to_str().unwrap()],
            vec![
                "snapshot",
                "--from-dir",
                from.to_str().unwrap(),
                "--store",
                store,
                "--env",
                "prod",
                "--sign-key",
                sign_key.to_str().unwrap(),
                "--seal-to",
                seal_pub.to_str().unwrap(),
                "--trust",
                trust,
            ],
            vec!["list", "--store", store, "--trust", trust],
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
                "--unseal-key",
                unseal.to_str().unwrap(),
                "--to-dir",
                dir_out.to_str().unwrap(),
            ],
            vec![
                "history", "--store", store, "--env", "prod", "--trust", trust,
            ],
            vec![
                "prune",
                "--store",
                store,
                "--trust",
                trust,
                "--keep-last",
                "100",
                "--dry-run",
            ],
        ];
        for mut command in commands {
            let name = command[0];
            command.extend(["-o", format]);
            let run = ws.run(&command);
            assert_eq!(run.code, 0, "{name} -o {format}: {}", run.stderr);
            let parsed: Option<Value> = match format {
                "json" => Some(serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
                    panic!("{name} -o json is not JSON ({e}):\n{}", run.stdout)
                })),
                "yaml" => Some(serde_yaml::from_str(&run.stdout).unwrap_or_else(|e| {
                    panic!("{name} -o yaml is not YAML ({e}):\n{}", run.stdout)
                })),
                _ => {
                    assert!(
                        !run.stdout.trim().is_empty(),
                        "{name} -o {format} printed nothing"
                    );
                    assert!(
                        !run.stdout.trim_start().starts_with(['{', '[']),
                        "{name} -o {format} printed JSON:\n{}",
                        run.stdout
                    );
                    None
                }
            };
            if let Some(value) = parsed {
                assert!(
                    value.is_object() || value.is_array(),
                    "{name} -o {format}: {value}"
                );
                // JSON and YAML are the same report.
                if format == "yaml" && name == "verify" {
                    assert_eq!(value["id"], id.as_str(), "{value}");
                }
            }
        }
        // Each round wrote one more snapshot of prod.
        let listed = ws.run(&["list", "--store", store, "--trust", trust, "-o", "json"]);
        let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), n + 2, "{listed}");
    }
    let run = ws.run(&["list", "--store", store, "--trust", trust, "-o", "xml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("text") && run.stderr.contains("yaml"),
        "{}",
        run.stderr
    );
}

/// kube-apiserver cannot be made to throttle on demand, so this server of our own answers
/// every request as an overloaded API server does: 429 with a Status body and Retry-After.
struct Throttling {
    address: String,
    requests: Arc<AtomicUsize>,
}

impl Throttling {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                // Read the request head; the requests here have no body.
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too many requests, please try again later","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { address, requests }
    }
}

#[test]
fn a_throttled_request_is_sent_as_often_as_the_docs_say() {
    let server = Throttling::start();
    let ws = Workspace::new();
    let kubeconfig = ws.path("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: busy\n  cluster:\n    server: {}\n\
             users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: busy\n  context:\n    \
             cluster: busy\n    user: u\ncurrent-context: busy\n",
            server.address
        ),
    )
    .unwrap();
    let (store, sign_key) = (ws.store(), ws.sign_key());
    let started = Instant::now();
    let run = ws
        .run(&[
            "snapshot",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--context",
            "busy",
            "--store",
            store.to_str().unwrap(),
            "--sign-key",
            sign_key.to_str().unwrap(),
            "--secrets",
            "skip",
        ])
        .code(1);
    let elapsed = started.elapsed();
    // docs/architecture.md: 8 attempts in all, waiting what the server asks between them.
    assert_eq!(server.requests.load(Ordering::SeqCst), 8, "{}", run.stderr);
    assert!(run.stderr.contains("429"), "{}", run.stderr);
    assert!(run.stderr.contains("too many requests"), "{}", run.stderr);
    // Seven waits of the one second asked for: the Retry-After was honoured, not ignored.
    assert!(elapsed >= Duration::from_secs(7), "{elapsed:?}");
    assert!(
        !store.join("default").exists()
            || std::fs::read_dir(store.join("default"))
                .unwrap()
                .next()
                .is_none(),
        "a failed snapshot left something in the store"
    );
}

#[test]
fn bad_values_are_usage_errors_that_name_them_before_anything_runs() {
    let ws = Workspace::new();
    let (store, sign_key) = (ws.store(), ws.sign_key());
    let from = scenario("storefront");
    let snapshot = |extra: &[&str]| {
        let mut args = vec![
            "snapshot",
            "--from-dir",
            from.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--sign-key",
            sign_key.to_str().unwrap(),
            "--secrets",
            "skip",
        ];
        args.extend_from_slice(extra);
        ws.run(&args)
    };
    let usage_error = |run: support::cli::Run, extra: &[&str], named: &str| {
        let run = run.code(2);
        assert!(run.stderr.contains(named), "{extra:?}: {}", run.stderr);
    };
    for (extra, named) in [
        (&["--label", "novalue"][..], "novalue"),
        (&["--label", "=x"][..], "empty key"),
        (&["--selector", "app=we b"][..], "app=we b"),
        (&["--compression-level", "42"][..], "42"),
    ] {
        usage_error(snapshot(extra), extra, named);
    }
    let restore = |extra: &[&str]| {
        let out = ws.path("out");
        let mut args = vec![
            "restore",
            "latest",
            "--store",
            store.to_str().unwrap(),
            "--to-dir",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ws.run(&args)
    };
    for (extra, named) in [
        (&["--namespace-map", "prod"][..], "prod"),
        (&["--host-rewrite", "=b"][..], "=b"),
        (&["--only", "Deployment"][..], "Deployment"),
        (&["--max-age", "3 months"][..], "months"),
    ] {
        usage_error(restore(extra), extra, named);
    }
    let prune = ws.run(&[
        "prune",
        "--store",
        store.to_str().unwrap(),
        "--keep-last",
        "1",
        "--older-than",
        "-3d",
    ]);
    assert_eq!(prune.code, 2, "{}", prune.stderr);
    // Nothing ran: no store was created.
    assert!(!store.exists());
}
