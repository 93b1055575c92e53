//! `routevault restore`: verify, then write the snapshot's objects as YAML into a new folder
//! (restoring into a cluster comes in a later build). Secrets are unsealed with
//! `--unseal-key`; without it they are not written, and the report says so.

use anyhow::{Context, bail};
use serde::Serialize;

use crate::cli::{RestoreArgs, SummaryFormat};
use crate::restore::{self, Outcome, render::DirRenderer};
use crate::seal::{self, Unsealer};

#[derive(Serialize)]
struct Report {
    env: String,
    id: String,
    to_dir: String,
    #[serde(flatten)]
    outcome: Outcome,
}

pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    if args.cluster.is_some() {
        bail!(
            "restoring into a cluster (--cluster) is not supported yet in this build; use --to-dir DIR"
        );
    }
    let Some(to_dir) = &args.to_dir else {
        bail!("say where to restore: --to-dir DIR");
    };
    // Refuse a non-empty target before downloading anything.
    let mut renderer = DirRenderer::new(to_dir)?;
    let identities = match &args.unseal_key {
        Some(path) => {
            super::check_private_key_mode(path);
            Some(seal::load_identities(path)?)
        }
        None => None,
    };

    let opened =
        super::open_snapshot(&args.store, &args.env.env, &args.snapshot, &args.trust).await?;
    let what = opened.what();
    let manifest = &opened.artifact.manifest;
    let unsealer = match (&manifest.sealing, &identities, &args.unseal_key) {
        (Some(sealing), Some(ids), Some(path)) => Some(Unsealer::new(sealing, ids, path)?),
        _ => None,
    };

    let outcome = restore::restore_objects(&opened.artifact, unsealer.as_ref(), &what, |object| {
        renderer.write(&object)
    })
    .with_context(|| {
        format!(
            "restoring {what}; nothing was written to {}",
            to_dir.display()
        )
    })?;
    let target = renderer.commit()?;
    if outcome.secrets_withheld > 0 {
        tracing::warn!(
            secrets = outcome.secrets_withheld,
            "sealed Secrets were not written: pass --unseal-key FILE to restore them"
        );
    }
    let report = Report {
        env: opened.env.clone(),
        id: opened.id.clone(),
        to_dir: target.display().to_string(),
        outcome,
    };
    match args.output {
        SummaryFormat::Json => crate::output::print_json(&report)?,
        SummaryFormat::Text => {
            println!(
                "restored {} objects of {what} into {}",
                report.outcome.written, report.to_dir
            );
            for (kind, count) in &report.outcome.per_kind {
                println!("  {kind:<16} {count}");
            }
            if report.outcome.secrets_withheld > 0 {
                println!(
                    "{} sealed Secrets were NOT written: pass --unseal-key FILE (a .seal.key matching the snapshot's recipients)",
                    report.outcome.secrets_withheld
                );
            }
        }
    }
    Ok(())
}
