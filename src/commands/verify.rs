//! `routevault verify`: the signature against the trusted keys, then every member of the
//! artifact against the manifest. Exit 3 on any failure.

use serde::Serialize;

use crate::cli::VerifyArgs;

#[derive(Serialize)]
struct Report {
    env: String,
    id: String,
    verified: bool,
    key_id: Option<String>,
    artifact_sha256: String,
    bytes: u64,
    objects: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention: Option<routevault::store::Retention>,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let opened =
        super::open_snapshot(&args.store, &args.env.env, &args.snapshot, &args.trust).await?;
    let objects = opened.artifact.check_all()?;
    let report = Report {
        env: opened.env.clone(),
        id: opened.id.clone(),
        verified: opened.artifact.signer.is_some(),
        key_id: opened.artifact.signer.as_ref().map(|k| k.to_string()),
        artifact_sha256: hex::encode(opened.artifact.sha256),
        bytes: opened.artifact.size,
        objects,
        retention: opened.retention().await?,
    };
    let locked = report
        .retention
        .as_ref()
        .map(|r| format!("; locked {:?} until {}", r.mode, r.until))
        .unwrap_or_default();
    super::emit(args.output, &report, |report| match &report.key_id {
        Some(key) => outln!(
            "OK {}/{}: signed by trusted key {key}; {} objects; {} bytes; sha256 {}{locked}",
            report.env,
            report.id,
            report.objects,
            report.bytes,
            report.artifact_sha256
        ),
        None => outln!(
            "UNVERIFIED {}/{}: structure checked ({} objects), signature NOT checked (--insecure-skip-verify)",
            report.env,
            report.id,
            report.objects
        ),
    })?;
    Ok(())
}
