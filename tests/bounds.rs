//! Bounded resources (issue 12): whatever a signed artifact holds, reading it stays within a
//! memory bound that fits the deploy kit's restore Job (512 MiB), and refuses what is over the
//! limits quickly. Peak RSS is measured with getrusage on the real binary; it runs alone in
//! this test binary so no other child inflates the figure.

mod support;

use std::process::Command;

use support::archive::{self, Member};
use support::cli::Workspace;

const ID: &str = "20261126T000000.000Z-00bbff";

/// Services whose annotations are thousands of tiny entries: the worst ratio of memory to
/// YAML bytes (every entry becomes a map node), `count` members of about `member` bytes.
fn worst_case(count: usize, member: usize) -> Vec<(Member, routevault::artifact::Entry)> {
    let per_entry = "    a000000: ''\n".len();
    let entries = member / per_entry;
    let mut out = vec![archive::object(1, "v1", "Namespace", None, "shop", "")];
    for i in 0..count {
        let mut body = String::from("  annotations:\n");
        for j in 0..entries {
            body.push_str(&format!("    a{j:06}: ''\n"));
        }
        // The annotations belong under metadata: the object helper ends metadata last.
        let (member, entry) =
            archive::object(i + 2, "v1", "Service", Some("shop"), &format!("s{i}"), "");
        let Member::File { path, mut data } = member else {
            unreachable!()
        };
        data.extend_from_slice(body.as_bytes());
        let mut entry = entry;
        entry.size = data.len() as u64;
        entry.sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&data))
        };
        out.push((Member::File { path, data }, entry));
    }
    out
}

fn signed(objects: Vec<(Member, routevault::artifact::Entry)>) -> Workspace {
    let ws = Workspace::new();
    let (members, entries): (Vec<Member>, Vec<_>) = objects.into_iter().unzip();
    let manifest = archive::manifest("prod", ID, entries);
    let bytes = archive::build(&manifest, &members);
    archive::store_signed(&ws.store(), "prod", ID, &bytes, &ws.sign_key());
    ws
}

/// Peak RSS of the largest child this process has waited for, in MiB.
fn children_peak_mib() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    (usage.ru_maxrss as u64) / 1024
}

fn restore(ws: &Workspace, extra: &[&str]) -> support::cli::Run {
    let (out, store, trust) = (ws.path("out"), ws.store(), ws.sign_pub());
    let mut args = vec![
        "restore",
        ID,
        "--store",
        store.to_str().unwrap(),
        "--env",
        "prod",
        "--trust",
        trust.to_str().unwrap(),
        "--to-dir",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = Command::new(support::cli::bin())
        .args(&args)
        .current_dir(ws.dir.path())
        .output()
        .unwrap();
    support::cli::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// One test, in order of growing memory, because the peak getrusage reports only grows.
#[test]
fn restores_stay_within_the_restore_jobs_memory_whatever_the_artifact_holds() {
    // A 64 MiB member of zeros (a few KiB compressed): refused from its header, before it is
    // read, by verify and restore alike.
    let zeros = vec![0u8; 64 << 20];
    let mut entry = archive::entry("objects/000001.yaml", "big", &zeros);
    entry.name = "big".into();
    let ws = {
        let ws = Workspace::new();
        let manifest = archive::manifest("prod", ID, vec![entry]);
        let bytes = archive::build(
            &manifest,
            &[Member::File {
                path: b"objects/000001.yaml".to_vec(),
                data: zeros,
            }],
        );
        assert!(bytes.len() < 1 << 20, "the bomb is small: {}", bytes.len());
        archive::store_signed(&ws.store(), "prod", ID, &bytes, &ws.sign_key());
        ws
    };
    let run = ws.verify("prod", ID).code(3);
    assert!(
        run.stderr.contains("more than any Kubernetes object"),
        "{}",
        run.stderr
    );
    let run = restore(&ws, &[]).code(3);
    assert!(
        run.stderr.contains("more than any Kubernetes object"),
        "{}",
        run.stderr
    );
    let bomb_peak = children_peak_mib();
    assert!(
        bomb_peak < 100,
        "a refused 64 MiB member cost {bomb_peak} MiB"
    );

    // One object whose estimate (about 10 MiB) is over --max-object-memory is refused, and
    // nothing is written.
    let ws = signed(worst_case(1, 1 << 20));
    let run = restore(&ws, &["--max-object-memory", "4000000"]).code(3);
    assert!(run.stderr.contains("--max-object-memory"), "{}", run.stderr);
    assert!(run.stderr.contains("Service shop/s0"), "{}", run.stderr);
    assert!(!ws.path("out").exists());
    let refused_peak = children_peak_mib();

    // 16 MiB of the worst-case shape is restored.
    let ws = signed(worst_case(16, 1 << 20));
    restore(&ws, &[]).ok();
    let accepted_peak = children_peak_mib();

    // 64 MiB of it (well under --max-unpacked-bytes) would take about 640 MiB as trees if it
    // were held whole; a restore holds one object at a time, so it is restored within the
    // Job's limit too.
    let ws = signed(worst_case(64, 1 << 20));
    restore(&ws, &[]).ok();
    assert_eq!(
        std::fs::read_dir(ws.path("out/04-services/shop"))
            .unwrap()
            .count(),
        64
    );
    let streamed_peak = children_peak_mib();
    assert!(
        streamed_peak < 480,
        "restore of 64 MiB of the worst shape peaked at {streamed_peak} MiB (Job limit 512 MiB)"
    );
    eprintln!(
        "peak RSS: refused 64 MiB member {bomb_peak} MiB; one object over the estimate refused \
         {refused_peak} MiB; 16 MiB worst case restored {accepted_peak} MiB; 64 MiB worst case \
         restored {streamed_peak} MiB"
    );
}
