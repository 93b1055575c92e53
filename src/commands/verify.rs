//! `routevault verify`: the signature against the trusted keys, then every member of the
//! artifact against the manifest. Exit 3 on any failure.

use serde::Serialize;

use crate::cli::{SummaryFormat, VerifyArgs};

#[derive(Serialize)]
struct Report {
    env: String,
    id: String,
    verified: bool,
    key_id: Option<String>,
    artifact_sha256: String,
    bytes: u64,
    objects: usize,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let opened = super::open_snapshot(
        &args.store.store,
        &args.env.env,
        &args.snapshot,
        &args.trust,
    )
    .await?;
    let objects = opened.artifact.check_all()?;
    let report = Report {
        env: opened.env.clone(),
        id: opened.id.clone(),
        verified: opened.artifact.signer.is_some(),
        key_id: opened.artifact.signer.as_ref().map(|k| k.to_string()),
        artifact_sha256: hex::encode(opened.artifact.sha256),
        bytes: opened.artifact.size,
        objects,
    };
    match args.output {
        SummaryFormat::Json => crate::output::print_json(&report)?,
        SummaryFormat::Text => match &report.key_id {
            Some(key) => println!(
                "OK {}/{}: signed by trusted key {key}; {} objects; {} bytes; sha256 {}",
                report.env, report.id, report.objects, report.bytes, report.artifact_sha256
            ),
            None => println!(
                "UNVERIFIED {}/{}: structure checked ({} objects), signature NOT checked (--insecure-skip-verify)",
                report.env, report.id, report.objects
            ),
        },
    }
    Ok(())
}
