//! `routevault inspect`: what a snapshot holds, after its signature verifies. Secret values
//! are never shown (sealed ones cannot be; plaintext ones are not read here).

use serde::Serialize;

use crate::cli::InspectArgs;
use routevault::artifact::OpenedManifest;

#[derive(Serialize)]
struct Inspection<'a> {
    verified_by: Option<String>,
    artifact_sha256: String,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention: Option<routevault::store::Retention>,
    manifest: &'a OpenedManifest,
}

pub async fn run(args: InspectArgs) -> anyhow::Result<()> {
    let opened =
        super::open_snapshot(&args.store, &args.env.env, &args.snapshot, &args.trust).await?;
    let manifest = &opened.artifact.manifest;
    let inspection = Inspection {
        verified_by: opened.artifact.signer.as_ref().map(|k| k.to_string()),
        artifact_sha256: hex::encode(opened.artifact.sha256),
        bytes: opened.artifact.size,
        retention: opened.retention().await?,
        manifest,
    };
    super::emit(args.output, &inspection, print_text)?;
    Ok(())
}

fn print_text(inspection: &Inspection) {
    let manifest = inspection.manifest;
    outln!("snapshot   {}/{}", manifest.env, manifest.id);
    outln!(
        "created    {} by routevault {}",
        manifest.created,
        manifest.tool.version
    );
    match &inspection.verified_by {
        Some(key) => outln!("signed by  {key} (verified)"),
        None => outln!("signed by  NOT VERIFIED (--insecure-skip-verify)"),
    }
    let source = manifest
        .source
        .path
        .as_deref()
        .or(manifest.source.server.as_deref())
        .unwrap_or("");
    outln!("source     {} {source}", manifest.source.kind);
    if let Some(r) = &inspection.retention {
        outln!("locked     {:?} until {}", r.mode, r.until);
    }
    if let Some(build) = &manifest.build_id {
        outln!("build      {build}");
    }
    for (key, value) in &manifest.labels {
        outln!("label      {key}={value}");
    }
    outln!(
        "secrets    {:?}{}",
        manifest.secrets,
        manifest
            .sealing
            .as_ref()
            .map(|s| format!(" to {}", s.recipients.join(", ")))
            .unwrap_or_default()
    );
    if let Some(previous) = &manifest.previous {
        outln!(
            "previous   {} (sha256 {})",
            previous.id,
            previous.artifact_sha256
        );
    }
    outln!(
        "artifact   {} bytes, sha256 {}",
        inspection.bytes,
        inspection.artifact_sha256
    );
    for warning in &manifest.warnings {
        outln!("warning    {warning}");
    }
    outln!();
    let rows: Vec<Vec<String>> = manifest
        .entries
        .iter()
        .map(|e| {
            let kind = routevault::catalog::qualified(
                routevault::catalog::split_api_version(&e.api_version).0,
                &e.kind,
            );
            vec![
                kind,
                e.namespace.clone().unwrap_or_default(),
                e.name.clone(),
                if e.sealed {
                    "sealed".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    out!(
        "{}",
        routevault::output::table(&["KIND", "NAMESPACE", "NAME", "DATA"], &rows)
    );
}
