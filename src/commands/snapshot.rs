//! `routevault snapshot`: source → select → normalize → seal → artifact → sign → store.
//! The artifact is stored first and the signature last: the signature is the commit point.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use super::{check_env, open_store};
use crate::cli::SnapshotArgs;
use routevault::artifact::format::{FORMAT_NAME, FORMAT_VERSION, ToolInfo};
use routevault::artifact::write::FinishedArtifact;
use routevault::artifact::{ArtifactWriter, Manifest, SourceInfo};
use routevault::k8s;
use routevault::seal::{self, Sealer};
use routevault::select::{SecretsMode, Selection};
use routevault::sign::{self, TrustSet};
use routevault::snapshot::{self, ArtifactSink};
use routevault::source;
use routevault::store::snapshots::{ArtifactFile, ArtifactUpload};
use routevault::store::{ObjectStore, Retention, Store, snapshots};

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
    let signing_key = sign::load_signing_key(&args.sign_key).context("loading the signing key")?;
    let sealer = sealer_for(&args, &signing_key)?;
    let selection = selection_of(&args);

    // Check the store and the retention before reading anything: a misconfigured CronJob
    // should fail in a second, not after listing a cluster.
    let store = open_store(&args.store).await?;
    let retention = retention_for(&store, &args).await?;
    let chain_trust = snapshot::chain_trust(&args.trust, &signing_key)?;

    // The id (and the time the manifest records) is taken before anything is read: on S3 the
    // artifact's body goes up under its key while the source is still being read.
    let now = jiff::Timestamp::now();
    let id = snapshots::new_id(now);
    let mut writer = ArtifactWriter::new(&std::env::temp_dir(), args.compression_level)
        .context("starting the artifact")?;
    let upload = ArtifactUpload::begin(&store, &env, &id, retention.as_ref(), || {
        writer.follow_body()
    })
    .context("starting the artifact's upload")?;
    let sink = ArtifactSink::new(writer, args.secrets, sealer.as_ref());
    let written = write_artifact(&args, &store, &chain_trust, &selection, sink, &id, now).await;
    let Written {
        finished,
        contents,
        captured,
    } = match written {
        Ok(written) => written,
        Err(e) => {
            // The writer is gone with the sink, so the upload sees its body end.
            upload.abort().await;
            return Err(e);
        }
    };
    let signature = sign_finished(&signing_key, &env, &id, &finished, now);
    let artifact = ArtifactFile {
        path: finished.file.path(),
        body_offset: finished.body_offset,
    };
    let committed = snapshots::commit(
        &store,
        &env,
        &id,
        upload,
        artifact,
        &signature,
        retention.as_ref(),
    )
    .await?;

    let summary = Summary {
        id: id.clone(),
        env: env.clone(),
        artifact: committed.artifact,
        signature: committed.signature,
        key_id: signature.key_id.to_string(),
        artifact_sha256: signature.artifact_sha256.clone(),
        bytes: finished.size,
        objects: contents.objects,
        counts: contents.counts,
        secrets: args.secrets,
        sealed_secrets: contents.sealed_secrets,
        warnings: captured.warnings,
        skipped: captured.skipped,
        retention,
        duration_ms: started.elapsed().as_millis(),
    };
    tracing::info!(id = %id, env = %env, objects = summary.objects, bytes = summary.bytes, "snapshot committed");
    super::emit(args.output, &summary, print_text)?;
    Ok(())
}

/// A finished artifact, what went into it, and what the capture found besides.
struct Written {
    finished: FinishedArtifact,
    contents: snapshot::Contents,
    captured: Captured,
}

/// Reads the source into `sink` (looking up the previous snapshot meanwhile) and finishes the
/// artifact of snapshot `id`, made at `now`.
async fn write_artifact(
    args: &SnapshotArgs,
    store: &Store,
    chain_trust: &TrustSet,
    selection: &Selection,
    mut sink: ArtifactSink<'_>,
    id: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<Written> {
    // The previous snapshot (the chain's link) is looked up while the source is read: its S3
    // round trips were a tenth of a small cluster's snapshot. Either one failing ends the
    // other. The capture is polled first: from a folder it runs to its end on that poll, so
    // no request of the lookup is left waiting on it half sent.
    let (captured, previous) = tokio::try_join!(capture(args, selection, &mut sink), async {
        snapshot::previous_snapshot(store, chain_trust, &args.env.env)
            .await
            .map_err(anyhow::Error::from)
    })?;
    for warning in &captured.warnings {
        tracing::warn!("{warning}");
    }
    sink.check_not_empty(&captured.source, selection, args.allow_empty)?;
    let sealing = sink
        .sealing()
        .filter(|_| sink.contents().sealed_secrets > 0)
        .cloned();
    let manifest = manifest_for(args, id, now, &captured, sealing, previous);
    let (finished, contents) = sink.finish(manifest).context("finishing the artifact")?;
    Ok(Written {
        finished,
        contents,
        captured,
    })
}

/// The signature of a finished artifact: the commit point.
fn sign_finished(
    key: &ed25519_dalek::SigningKey,
    env: &str,
    id: &str,
    finished: &FinishedArtifact,
    created: jiff::Timestamp,
) -> sign::SignatureFile {
    let created = created.to_string();
    sign::sign_artifact(key, env, id, &finished.sha256, finished.size, &created)
}

/// The sealer for `--seal-to`; a loud warning when Secrets are stored in plaintext.
fn sealer_for(
    args: &SnapshotArgs,
    signing_key: &ed25519_dalek::SigningKey,
) -> anyhow::Result<Option<Sealer>> {
    match (args.secrets, args.seal_to.is_empty()) {
        (SecretsMode::Sealed, false) => Ok(Some(
            Sealer::new(&seal::parse_recipients(&args.seal_to)?)?.with_digests(
                routevault::value_digest::ValueDigester::from_signing_key(signing_key),
            ),
        )),
        (SecretsMode::Plaintext, _) => {
            tracing::warn!(
                "--secrets plaintext: Secret data is stored UNENCRYPTED in this snapshot"
            );
            // Also outside the logs, whatever --log-level and --output say: this is a choice
            // someone must see.
            eprintln!(
                "WARNING: --secrets plaintext: Secret data is stored UNENCRYPTED in this snapshot"
            );
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// `--retain-days`, checked against the store before anything is read.
async fn retention_for(store: &Store, args: &SnapshotArgs) -> anyhow::Result<Option<Retention>> {
    let Some(days) = args.retain_days else {
        return Ok(None);
    };
    store
        .check_retention_supported()
        .await
        .context("checking that snapshots can be locked")?;
    let until = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(i64::from(days) * 24))
        .context("--retain-days is too far in the future")?;
    Ok(Some(Retention {
        mode: args.lock_mode,
        until,
    }))
}

/// What a capture found besides the objects.
struct Captured {
    source: SourceInfo,
    warnings: Vec<String>,
    skipped: BTreeMap<String, usize>,
}

fn selection_of(args: &SnapshotArgs) -> Selection {
    Selection {
        namespaces: args.namespaces.clone(),
        exclude_namespaces: args.exclude_namespaces.clone(),
        selector: args.selector.clone(),
        include_system: args.include_system,
    }
}

fn manifest_for(
    args: &SnapshotArgs,
    id: &str,
    now: jiff::Timestamp,
    captured: &Captured,
    sealing: Option<routevault::seal::Sealing>,
    previous: Option<routevault::artifact::PreviousSnapshot>,
) -> Manifest {
    Manifest {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        id: id.to_string(),
        env: args.env.env.clone(),
        created: now.to_string(),
        tool: ToolInfo {
            name: "routevault".into(),
            version: routevault::TOOL_VERSION.into(),
        },
        source: captured.source.clone(),
        build_id: args.build_id.clone(),
        labels: args.labels.iter().cloned().collect(),
        selection: selection_of(args),
        secrets: args.secrets,
        sealing,
        previous,
        warnings: captured.warnings.clone(),
        skipped: captured.skipped.clone(),
        entries: Vec::new(),
    }
}

/// Reads the folder or the cluster into `sink`; returns the source, warnings and skips.
async fn capture(
    args: &SnapshotArgs,
    selection: &Selection,
    sink: &mut ArtifactSink<'_>,
) -> anyhow::Result<Captured> {
    if let Some(from_dir) = &args.from_dir {
        let captured = source::dir::capture(from_dir, selection, args.secrets, &mut |object| {
            Ok(sink.add(object)?)
        })
        .with_context(|| format!("reading manifests from {}", from_dir.display()))?;
        let info = SourceInfo {
            kind: "dir".into(),
            path: Some(from_dir.display().to_string()),
            ..Default::default()
        };
        return Ok(Captured {
            source: info,
            warnings: captured.warnings,
            skipped: captured.skipped,
        });
    }
    let connection = k8s::connect_to(&k8s::Target {
        kubeconfig: args.kubeconfig.as_deref(),
        context: args.cluster.as_deref(),
        in_cluster: args.in_cluster,
        service_account_dir: &args.service_account_dir,
    })
    .await?;
    tracing::info!(server = %connection.server, "snapshotting cluster");
    let page_size = u32::try_from(args.page_size).unwrap_or(u32::MAX);
    let captured = source::cluster::capture(
        &connection,
        selection,
        args.secrets,
        page_size,
        &mut |object| Ok(sink.add(object)?),
    )
    .await
    .with_context(|| format!("reading routing from {}", connection.server))?;
    Ok(Captured {
        source: captured.source,
        warnings: captured.warnings,
        skipped: captured.skipped,
    })
}

fn print_text(summary: &Summary) {
    outln!("captured {} objects:", summary.objects);
    for (kind, count) in &summary.counts {
        outln!("  {kind:<16} {count}");
    }
    let skipped: usize = summary.skipped.values().sum();
    if skipped > 0 {
        outln!("skipped {skipped} objects:");
        for (reason, count) in &summary.skipped {
            outln!("  {count:>5}  {reason}");
        }
    }
    for warning in &summary.warnings {
        outln!("warning: {warning}");
    }
    match summary.secrets {
        SecretsMode::Sealed if summary.sealed_secrets > 0 => {
            outln!("sealed {} Secrets", summary.sealed_secrets)
        }
        SecretsMode::Plaintext => outln!("WARNING: Secret data stored in plaintext"),
        _ => {}
    }
    outln!(
        "artifact  {} ({} bytes, sha256 {})",
        summary.artifact,
        summary.bytes,
        summary.artifact_sha256
    );
    outln!("signature {} (key {})", summary.signature, summary.key_id);
    if let Some(retention) = &summary.retention {
        outln!("locked    {:?} until {}", retention.mode, retention.until);
    }
    outln!("{}", summary.id);
}
