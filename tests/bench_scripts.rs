//! The benchmark scripts of tests/bench, each run at a tiny size with this build's binaries so
//! that they cannot rot (issue 16). These check that every script runs end to end and reports
//! what it measured — never how fast anything was: timings are benchmarks, not assertions.
//! The scripts start beds of their own; they run one at a time.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The floor client, built by `cargo test` as an example beside the binary.
fn floor_binary() -> PathBuf {
    let bin = support::cli::bin();
    bin.parent().unwrap().join("examples/floor")
}

struct Ran {
    stdout: String,
    stderr: String,
}

fn bench(script: &str, args: &[&str], env: &[(&str, &std::path::Path)]) -> Ran {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut command = Command::new(support::cli::repo().join("tests/bench").join(script));
    command
        .args(args)
        .env("ROUTEVAULT_BENCH_BIN", support::cli::bin())
        .env("ROUTEVAULT_BENCH_FLOOR", floor_binary());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let ran = Ran {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.status.success(),
        "tests/bench/{script} failed:\n{}\n{}",
        ran.stdout,
        ran.stderr
    );
    ran
}

#[test]
fn the_scale_bench_measures_every_command_against_its_floors_and_plots_them() {
    let out = tempfile::tempdir().unwrap();
    let ran = bench(
        "scale",
        &["151"],
        &[
            ("ROUTEVAULT_BENCH_OUT", out.path()),
            ("RUNS", std::path::Path::new("1")),
            ("PRUNE_SNAPSHOTS", std::path::Path::new("12")),
        ],
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("scale.json")).unwrap()).unwrap();
    let row = &results["sizes"][0];
    assert_eq!(row["objects"], 151, "{results}");
    // 50 Ingresses, Services and TLS Secrets restored into the fresh control plane.
    assert_eq!(row["restored_listed"], 150, "{results}");
    for measure in [
        "list_floor_s",
        "snapshot_s",
        "apply_floor_s",
        "create_floor_s",
        "restore_s",
        "verify_s",
        "diff_s",
        "from_dir_s",
        "snapshot_ratio",
        "restore_ratio",
    ] {
        assert!(
            row[measure].as_f64().is_some_and(|v| v > 0.0),
            "{measure}: {results}"
        );
    }
    for rss in [
        "snapshot_rss_mb",
        "restore_rss_mb",
        "verify_rss_mb",
        "diff_rss_mb",
    ] {
        assert!(row[rss].as_u64().is_some_and(|v| v > 0), "{rss}: {results}");
    }
    assert_eq!(results["prune"]["snapshots"], 12);
    assert!(ran.stdout.contains("| 151 |"), "{}", ran.stdout);
    let png = std::fs::read(out.path().join("scale.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "scale.png is not a PNG"
    );
}

#[test]
fn the_snapshot_bench_reports_its_ratio() {
    let ran = bench("snapshot", &["1", "5", "1"], &[]);
    assert!(
        ran.stdout.contains("| ratio snapshot / floor"),
        "{}",
        ran.stdout
    );
    // 5 Ingresses, Services and Secrets, and the API server's own Service.
    assert!(
        ran.stdout
            .contains("Ingresses + Services + Secrets) | 16 |"),
        "{}",
        ran.stdout
    );
}

#[test]
fn the_restore_benches_restore_every_object() {
    let ran = bench("restore", &["1", "5", "8"], &[]);
    assert!(ran.stdout.contains("(report: 16 created"), "{}", ran.stdout);
    let ran = bench(
        "restore-ab",
        &[support::cli::bin().to_str().unwrap(), "1", "5", "8"],
        &[],
    );
    assert!(
        ran.stdout.contains("| objects restored | 16 |"),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
}

#[test]
fn the_diff_bench_finds_the_cluster_in_sync() {
    // `diff` exits 1 on differences, which fails the script: a bench that ran means in sync.
    let ran = bench("diff", &["1", "5", "1"], &[]);
    assert!(
        ran.stdout.contains("| ratio diff / snapshot"),
        "{}",
        ran.stdout
    );
}

#[test]
fn the_velero_bench_compares_both_tools_on_the_same_data() {
    // Builds Velero and its AWS plugin once per pin (cached beside the bed's servers).
    let out = tempfile::tempdir().unwrap();
    let ran = bench("velero", &["302"], &[("ROUTEVAULT_BENCH_OUT", out.path())]);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("velero.json")).unwrap()).unwrap();
    // 2 namespaces of 50 Ingresses, Services and TLS Secrets, each restored by both tools.
    assert_eq!(results["expected_restored"], 300, "{results}");
    assert_eq!(results["routevault"]["restored"], 300, "{results}");
    assert_eq!(results["velero"]["restored"], 300, "{results}");
    assert_eq!(results["velero"]["restore_phase"], "Completed", "{results}");
    // The point of the comparison: Velero stores Secret data as the cluster serves it.
    assert_eq!(
        results["velero"]["secret_key_readable_in_bucket"], true,
        "{results}"
    );
    assert_eq!(
        results["routevault"]["secret_key_readable_in_bucket"], false,
        "{results}"
    );
    for tool in ["velero", "routevault"] {
        assert!(
            results[tool]["stored_bytes"]
                .as_u64()
                .is_some_and(|b| b > 0),
            "{tool}: {results}"
        );
        assert!(
            results[tool]["restore_rss_mb"]
                .as_u64()
                .is_some_and(|b| b > 0),
            "{tool}: {results}"
        );
    }
    assert!(
        ran.stdout.contains("| backup / snapshot |"),
        "{}",
        ran.stdout
    );
}
