//! `routevault snapshot`: source → select → normalize → seal → artifact → sign → store.
//! The artifact is stored first and the signature last: the signature is the commit point.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use super::{check_env, open_store};
use crate::artifact::format::{FORMAT_NAME, FORMAT_VERSION, ToolInfo};
use crate::artifact::{ArtifactWriter, Manifest, PreviousSnapshot, SourceInfo};
use crate::cli::{SnapshotArgs, SummaryFormat};
use crate::k8s;
use crate::normalize::normalize;
use crate::object::Object;
use crate::seal::{self, Sealer};
use crate::select::{self, SecretsMode, Selection};
use crate::sign::{self, KeyError, TrustSet};
use crate::source;
use crate::store::{ObjectStore, Retention, snapshots, verified};

/// What `snapshot -o json` prints.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub id: String,
    pub env: String,
    pub artifact: String,
    pub signature: String,
    pub key_id: String,
    pub artifact_sha256: String,
    pub bytes: u64,
    pub objects: usize,
    pub counts: BTreeMap<String, usize>,
    pub secrets: SecretsMode,
    pub sealed_secrets: usize,
    pub warnings: Vec<String>,
    pub skipped: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    pub duration_ms: u128,
}

pub async fn run(args: SnapshotArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let env = args.env.env.clone();
    check_env(&env)?;
    let labels = parse_labels(&args.labels)?;
    let signing_key = sign::load_signing_key(&args.sign_key).context("loading the signing key")?;
    let sealer = match (args.secrets, args.seal_to.is_empty()) {
        (SecretsMode::Sealed, false) => Some(Sealer::new(&seal::parse_recipients(&args.seal_to)?)?),
        (SecretsMode::Plaintext, _) => {
            tracing::warn!(
                "--secrets plaintext: Secret data is stored UNENCRYPTED in this snapshot"
            );
            // Also outside the logs, whatever --log-level and --output say: this is a choice
            // someone must see.
            eprintln!(
                "WARNING: --secrets plaintext: Secret data is stored UNENCRYPTED in this snapshot"
            );
            None
        }
        _ => None,
    };
    let selection = Selection {
        namespaces: args.namespaces.clone(),
        exclude_namespaces: args.exclude_namespaces.clone(),
        selector: args.selector.clone(),
        include_system: args.include_system,
    };
    if let Some(selector) = &selection.selector {
        select::LabelSelector::parse(selector)?;
    }

    // Check the store and the retention before reading anything: a misconfigured CronJob
    // should fail in a second, not after listing a cluster.
    let store = open_store(&args.store).await?;
    let retention = match args.retain_days {
        Some(days) => {
            store
                .check_retention_supported()
                .await
                .context("checking that snapshots can be locked")?;
            let until = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_hours(i64::from(days) * 24))
                .context("--retain-days is too far in the future")?;
            Some(Retention {
                mode: args.lock_mode,
                until,
            })
        }
        None => None,
    };
    let previous = previous_snapshot(&store, &args.trust, &signing_key, &env).await?;

    let work_dir = std::env::temp_dir();
    let mut writer =
        ArtifactWriter::new(&work_dir, args.compression_level).context("starting the artifact")?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut sealed_secrets = 0;
    let mut objects = 0;
    let mut sink = |mut object: Object| -> anyhow::Result<()> {
        let mut sealed = false;
        if is_secret(&object) {
            match (args.secrets, &sealer) {
                (SecretsMode::Sealed, Some(sealer)) => {
                    sealer.seal_secret(&mut object)?;
                    sealed = true;
                    sealed_secrets += 1;
                }
                (SecretsMode::Sealed, None) => bail!(
                    "{} would be captured but no --seal-to recipient was given: pass --seal-to age1... \
                     (or a .seal.pub file), or --secrets skip to leave Secrets out, or --secrets plaintext \
                     if you really want them unencrypted",
                    object.object_ref()
                ),
                _ => {}
            }
        }
        writer
            .add_object(&object, sealed)
            .context("writing the artifact")?;
        *counts.entry(object.kind().to_string()).or_insert(0) += 1;
        objects += 1;
        Ok(())
    };

    let (source, warnings, skipped) = match &args.from_dir {
        Some(from_dir) => {
            let read = source::dir::read(from_dir)
                .with_context(|| format!("reading manifests from {}", from_dir.display()))?;
            let selected = select::select(read.objects, &selection, args.secrets)?;
            for object in &selected.objects {
                sink(normalize(object))?;
            }
            let info = SourceInfo {
                kind: "dir".into(),
                path: Some(from_dir.display().to_string()),
                ..Default::default()
            };
            (info, selected.warnings, selected.skipped)
        }
        None => {
            let connection = k8s::connect_to(&k8s::Target {
                kubeconfig: args.kubeconfig.as_deref(),
                context: args.cluster.as_deref(),
                in_cluster: args.in_cluster,
                service_account_dir: &args.service_account_dir,
            })
            .await?;
            tracing::info!(server = %connection.server, "snapshotting cluster");
            let captured = source::cluster::capture(
                &connection,
                &selection,
                args.secrets,
                args.page_size as usize,
                &mut sink,
            )
            .await
            .with_context(|| format!("reading routing from {}", connection.server))?;
            (captured.source, captured.warnings, captured.skipped)
        }
    };
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    if objects == 0 && !args.allow_empty {
        bail!(
            "{} captured no routing objects (selection: {}); nothing was stored. Check the \
             context, --namespace and --selector, or pass --allow-empty to commit an empty snapshot",
            describe_source(&source),
            describe_selection(&selection)
        );
    }

    let now = jiff::Timestamp::now();
    let id = snapshots::new_id(now);
    let manifest = Manifest {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        id: id.clone(),
        env: env.clone(),
        created: now.to_string(),
        tool: ToolInfo {
            name: "routevault".into(),
            version: crate::TOOL_VERSION.into(),
        },
        source,
        build_id: args.build_id.clone(),
        labels,
        selection,
        secrets: args.secrets,
        sealing: sealer
            .as_ref()
            .filter(|_| sealed_secrets > 0)
            .map(|s| s.sealing().clone()),
        previous,
        warnings: warnings.clone(),
        skipped: skipped.clone(),
        entries: Vec::new(),
    };
    let finished = writer.finish(manifest).context("finishing the artifact")?;
    let signature = sign::sign_artifact(
        &signing_key,
        &env,
        &id,
        &finished.sha256,
        finished.size,
        &now.to_string(),
    );

    let artifact_key = snapshots::artifact_key(&env, &id);
    let signature_key = snapshots::signature_key(&env, &id);
    store
        .put_new_file(&artifact_key, finished.file.path(), retention.as_ref())
        .await
        .context("storing the artifact (nothing was committed)")?;
    store
        .put_new_bytes(&signature_key, &signature.to_bytes(), retention.as_ref())
        .await
        .with_context(|| format!("storing the signature (the artifact {artifact_key} stays uncommitted and invisible)"))?;

    let summary = Summary {
        id: id.clone(),
        env: env.clone(),
        artifact: store.location(&artifact_key),
        signature: store.location(&signature_key),
        key_id: signature.key_id.to_string(),
        artifact_sha256: signature.artifact_sha256.clone(),
        bytes: finished.size,
        objects,
        counts,
        secrets: args.secrets,
        sealed_secrets,
        warnings,
        skipped,
        retention,
        duration_ms: started.elapsed().as_millis(),
    };
    tracing::info!(id = %id, env = %env, objects = summary.objects, bytes = summary.bytes, "snapshot committed");
    match args.output {
        SummaryFormat::Json => crate::output::print_json(&summary)?,
        SummaryFormat::Text => print_text(&summary),
    }
    Ok(())
}

fn print_text(summary: &Summary) {
    println!("captured {} objects:", summary.objects);
    for (kind, count) in &summary.counts {
        println!("  {kind:<16} {count}");
    }
    let skipped: usize = summary.skipped.values().sum();
    if skipped > 0 {
        println!("skipped {skipped} objects:");
        for (reason, count) in &summary.skipped {
            println!("  {count:>5}  {reason}");
        }
    }
    for warning in &summary.warnings {
        println!("warning: {warning}");
    }
    match summary.secrets {
        SecretsMode::Sealed if summary.sealed_secrets > 0 => {
            println!("sealed {} Secrets", summary.sealed_secrets)
        }
        SecretsMode::Plaintext => println!("WARNING: Secret data stored in plaintext"),
        _ => {}
    }
    println!(
        "artifact  {} ({} bytes, sha256 {})",
        summary.artifact, summary.bytes, summary.artifact_sha256
    );
    println!("signature {} (key {})", summary.signature, summary.key_id);
    if let Some(retention) = &summary.retention {
        println!("locked    {:?} until {}", retention.mode, retention.until);
    }
    println!("{}", summary.id);
}

fn is_secret(object: &crate::object::Object) -> bool {
    object.group().is_empty() && object.kind() == "Secret"
}

fn parse_labels(labels: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    labels
        .iter()
        .map(|label| {
            let (key, value) = label
                .split_once('=')
                .with_context(|| format!("--label {label:?} is not KEY=VALUE"))?;
            if key.is_empty() {
                bail!("--label {label:?} has an empty key");
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// The newest verified snapshot of `env`, recorded in the new manifest to chain snapshots.
/// Verified against the signing key's own public key and the keys in `trust` (if that exists):
/// junk planted in the store is skipped with a warning and can never stop a snapshot.
async fn previous_snapshot(
    store: &crate::store::Store,
    trust: &std::path::Path,
    signing_key: &ed25519_dalek::SigningKey,
    env: &str,
) -> anyhow::Result<Option<PreviousSnapshot>> {
    // The writer's own key is always enough to chain; a trust folder that is absent or holds
    // no keys (the default `keys/` in a CronJob) adds nothing, a broken one is an error.
    let mut trusted = match TrustSet::load(trust) {
        Ok(set) => set,
        Err(KeyError::NoTrustedKeys { .. }) => TrustSet::from_keys(Vec::new()),
        Err(KeyError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            TrustSet::from_keys(Vec::new())
        }
        Err(e) => {
            return Err(e).context("loading trusted keys (--trust) to find the previous snapshot");
        }
    };
    trusted.add_key(signing_key.verifying_key());
    let (newest, skipped) = verified::newest_verified(store, &trusted, env)
        .await
        .context("listing earlier snapshots")?;
    verified::warn_skipped(&skipped);
    Ok(newest.and_then(|found| {
        let vouched = found.vouched()?;
        Some(PreviousSnapshot {
            id: found.snapshot.id.clone(),
            artifact_sha256: vouched.signature.artifact_sha256.clone(),
        })
    }))
}

fn describe_source(source: &SourceInfo) -> String {
    match (&source.path, &source.server) {
        (Some(path), _) => format!("the folder {path}"),
        (None, Some(server)) => format!("the cluster at {server}"),
        (None, None) => "the source".into(),
    }
}

fn describe_selection(selection: &Selection) -> String {
    let mut parts = Vec::new();
    if !selection.namespaces.is_empty() {
        parts.push(format!("--namespace {}", selection.namespaces.join(",")));
    }
    if !selection.exclude_namespaces.is_empty() {
        parts.push(format!(
            "--exclude-namespace {}",
            selection.exclude_namespaces.join(",")
        ));
    }
    if let Some(selector) = &selection.selector {
        parts.push(format!("--selector {selector}"));
    }
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(" ")
    }
}
