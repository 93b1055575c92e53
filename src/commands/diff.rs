//! `routevault diff`: a verified snapshot against the live routing of a cluster (drift), or
//! against a second verified snapshot (what a build changed). Exit codes as `kubectl diff`: 0
//! in sync, 1 differences found; errors exit 4 and verification failures 3, so a monitor can
//! tell drift from a broken run.

use std::time::Instant;

use anyhow::{Context, bail};

use crate::cli::DiffArgs;
use routevault::diff::{self, Report, SnapshotInfo};
use routevault::drift::{self, Comparer, Mode};
use routevault::error::DifferencesFound;
use routevault::k8s;
use routevault::open::OpenedSnapshot;
use routevault::scope::Scope;
use routevault::seal::{self, Identity};
use routevault::transform::Transform;
use routevault::value_digest::ValueDigester;

pub async fn run(args: DiffArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if args.against.is_none()
        && args.cluster.is_none()
        && args.kubeconfig.is_none()
        && !args.in_cluster
    {
        bail!(
            "say what to compare the snapshot with: --cluster CONTEXT (or --kubeconfig FILE, or \
             --in-cluster) for drift, or a second snapshot for the changes between two builds"
        );
    }
    let transform = args.transform.to_transform();
    let identities = match &args.unseal_key {
        Some(path) => Some(seal::load_identities(path)?),
        None => None,
    };
    let signing_key = match &args.sign_key {
        Some(path) => Some(
            routevault::sign::load_signing_key(path)
                .with_context(|| format!("loading --sign-key {}", path.display()))?,
        ),
        None => None,
    };
    let first =
        super::open_snapshot(&args.store, &args.env.env, &args.snapshot, &args.trust).await?;
    let (expected, mut warnings) = items_of(&first, &args, identities.as_deref(), &transform)?;

    let report = match &args.against {
        Some(spec) => {
            let second =
                super::open_snapshot(&args.store, &args.env.env, spec, &args.trust).await?;
            let comparison = against_snapshot(
                &second,
                &args,
                expected,
                identities.as_deref(),
                &transform,
                &mut warnings,
            )?;
            let mut report = Report::new(
                Mode::Snapshots,
                SnapshotInfo::of(&first),
                comparison,
                warnings,
                started,
            );
            report.against = Some(SnapshotInfo::of(&second));
            report
        }
        None => {
            against_cluster(
                &args,
                &first,
                expected,
                signing_key.as_ref(),
                &transform,
                warnings,
                started,
            )
            .await?
        }
    };
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    super::emit(args.output, &report, print_text)?;
    if !report.in_sync {
        return Err(DifferencesFound {
            count: report.differences.len(),
        }
        .into());
    }
    Ok(())
}

/// Between builds: the second snapshot's objects compared with `expected` as they are read,
/// never held.
fn against_snapshot(
    second: &OpenedSnapshot,
    args: &DiffArgs,
    expected: drift::Side,
    identities: Option<&[Identity]>,
    transform: &Transform,
    warnings: &mut Vec<String>,
) -> anyhow::Result<drift::Comparison> {
    let mut comparer = Comparer::new(expected, Mode::Snapshots);
    let notes = read_snapshot(second, args, identities, transform, &mut |item| {
        comparer
            .push(item)
            .context("comparing with the first snapshot")
    })?;
    warnings.extend(notes);
    Ok(comparer.finish())
}

/// Drift: the snapshot's `expected` items against the live routing of the named cluster in
/// the snapshot's scope.
async fn against_cluster(
    args: &DiffArgs,
    first: &OpenedSnapshot,
    expected: drift::Side,
    signing_key: Option<&ed25519_dalek::SigningKey>,
    transform: &Transform,
    mut warnings: Vec<String>,
    started: Instant,
) -> anyhow::Result<Report> {
    let connection = k8s::connect_to(&k8s::Target {
        kubeconfig: args.kubeconfig.as_deref(),
        context: args.cluster.as_deref(),
        in_cluster: args.in_cluster,
        service_account_dir: &args.service_account_dir,
    })
    .await?;
    let homes = expected
        .items()
        .iter()
        .filter_map(|item| item.identity.home_namespace());
    let scope = Scope::of(&first.artifact.manifest, homes, transform);
    let digester = signer_digester(first, signing_key, &mut warnings);
    let signer: Option<std::sync::Arc<str>> =
        first.artifact.signer.as_ref().map(|k| k.0.as_str().into());
    let mut comparer = Comparer::new(expected, Mode::Cluster);
    let more = diff::compare_live(
        &connection,
        &scope,
        &first.artifact.manifest,
        &mut comparer,
        digester.as_ref().zip(signer.as_ref()),
    )
    .await?;
    warnings.extend(more);
    let comparison = comparer.finish();
    let mut report = Report::new(
        Mode::Cluster,
        SnapshotInfo::of(first),
        comparison,
        warnings,
        started,
    );
    report.cluster = Some(connection.server);
    report.scope = Some(scope);
    Ok(report)
}

/// A snapshot's items through the transform, unsealed when a key was given, as the side
/// the other is compared with.
fn items_of(
    opened: &OpenedSnapshot,
    args: &DiffArgs,
    identities: Option<&[Identity]>,
    transform: &Transform,
) -> anyhow::Result<(drift::Side, Vec<String>)> {
    let unsealer = super::unsealer_for(opened, identities, args.unseal_key.as_deref())?;
    diff::snapshot_side(
        &opened.artifact,
        unsealer.as_ref(),
        transform,
        args.max_object_memory,
    )
    .with_context(|| format!("reading {}", opened.what()))
}

/// A snapshot's items through the transform, unsealed when a key was given, handed to
/// `sink` one at a time.
fn read_snapshot(
    opened: &OpenedSnapshot,
    args: &DiffArgs,
    identities: Option<&[Identity]>,
    transform: &Transform,
    sink: &mut dyn FnMut(drift::Item) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<String>> {
    let unsealer = super::unsealer_for(opened, identities, args.unseal_key.as_deref())?;
    diff::snapshot_items(
        &opened.artifact,
        unsealer.as_ref(),
        transform,
        args.max_object_memory,
        sink,
    )
    .with_context(|| format!("reading {}", opened.what()))
}

/// The digester of `--sign-key`, if that key signed the snapshot (another key's digests
/// would compare nothing, and say so).
fn signer_digester(
    opened: &OpenedSnapshot,
    signing_key: Option<&ed25519_dalek::SigningKey>,
    warnings: &mut Vec<String>,
) -> Option<ValueDigester> {
    let key = signing_key?;
    let id = routevault::sign::key_id(&key.verifying_key());
    if opened.artifact.signer.as_ref() == Some(&id) {
        Some(ValueDigester::from_signing_key(key))
    } else {
        warnings.push(format!(
            "--sign-key is key {}, but {} was signed by {}: its digests cannot be checked with it",
            id.0,
            opened.what(),
            opened
                .artifact
                .signer
                .as_ref()
                .map(|k| k.0.as_str())
                .unwrap_or("no verified key")
        ));
        None
    }
}

fn describe(info: &SnapshotInfo) -> String {
    match &info.build_id {
        Some(build) => format!("{}/{} (build {build})", info.env, info.id),
        None => format!("{}/{}", info.env, info.id),
    }
}

fn print_text(report: &Report) {
    let against = match (&report.against, &report.cluster) {
        (Some(second), _) => describe(second),
        (None, Some(server)) => format!("the cluster at {server}"),
        _ => String::new(),
    };
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect();
    if report.in_sync {
        outln!(
            "{} and {against}: in sync ({} objects compared)",
            describe(&report.snapshot),
            report.unchanged
        );
    } else {
        outln!(
            "{} and {against}: {} ({} unchanged)",
            describe(&report.snapshot),
            counts.join(", "),
            report.unchanged
        );
    }
    for difference in &report.differences {
        outln!("{:<8} {}", difference.state.name(), difference.object);
        for change in &difference.changes {
            outln!("           {change}");
        }
    }
    for warning in &report.warnings {
        outln!("warning: {warning}");
    }
}
