//! `routevault restore`: verify first, then recreate the snapshot's routing — into a cluster
//! (server-side apply, tier by tier) or as YAML files in a new folder — optionally rewritten to
//! clone an environment. Secrets are unsealed with `--unseal-key`; without it they are not
//! restored, and the report says so. Nothing touches the target before the signature verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::catalog::RESTORE_TIERS;
use crate::cli::{RestoreArgs, SummaryFormat};
use crate::k8s;
use crate::object::Object;
use crate::restore;
use crate::restore::apply::{self, ApplyOptions, ObjectReport, Outcome};
use crate::restore::render::{self, DirRenderer};
use crate::seal::{self, Unsealer};
use crate::select::References;
use crate::transform::{self, Transform};

#[derive(Serialize)]
struct Report {
    env: String,
    id: String,
    target: String,
    dry_run: bool,
    counts: BTreeMap<String, usize>,
    secrets_withheld: usize,
    warnings: Vec<String>,
    /// Time to routing restored, and per tier.
    total_ms: u128,
    tiers: Vec<TierTiming>,
    objects: Vec<ObjectReport>,
}

#[derive(Serialize)]
struct TierTiming {
    tier: String,
    ms: u128,
}

pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // A restore writes to a cluster; it never picks one implicitly (no current context, no
    // pod identity) — the target is always named.
    if args.to_dir.is_none()
        && args.cluster.is_none()
        && args.kubeconfig.is_none()
        && !args.in_cluster
    {
        bail!(
            "say where to restore: --cluster CONTEXT (or --kubeconfig FILE) to apply, --in-cluster \
             from a pod, or --to-dir DIR to write files"
        );
    }
    let transform = Transform {
        namespaces: transform::parse_pairs("--namespace-map", &args.namespace_map)?
            .into_iter()
            .collect(),
        hosts: transform::parse_pairs("--host-rewrite", &args.host_rewrite)?,
        ingress_classes: transform::parse_pairs("--ingress-class-map", &args.ingress_class_map)?
            .into_iter()
            .collect(),
        issuers: transform::parse_pairs("--issuer-map", &args.issuer_map)?
            .into_iter()
            .collect(),
        only: transform::parse_kinds(&args.only)?,
        only_namespaces: args.namespaces.clone(),
    };
    // Refuse a non-empty target folder before downloading anything. A dry run writes
    // nothing at all, not even a staging folder: it lists the files it would write.
    let folder = match &args.to_dir {
        Some(dir) if args.dry_run => {
            render::check_target(dir)?;
            Some(Folder::DryRun(dir.clone()))
        }
        Some(dir) => Some(Folder::Write(DirRenderer::new(dir)?)),
        None => None,
    };
    let identities = match &args.unseal_key {
        Some(path) => Some(seal::load_identities(path)?),
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

    // Every object is read and checked before anything is written or applied.
    let mut objects: Vec<Object> = Vec::new();
    let secrets_withheld = restore::restore_objects(
        &opened.artifact,
        unsealer.as_ref(),
        args.max_object_memory,
        |mut object| {
            if transform.selects(&object) {
                transform.apply(&mut object);
                objects.push(object);
            }
            Ok(())
        },
    )
    .with_context(|| format!("reading {what}; nothing was applied or written"))?;
    let mut warnings = Vec::new();
    if secrets_withheld > 0 {
        warnings.push(format!(
            "{} sealed Secrets were NOT restored: pass --unseal-key FILE (a .seal.key matching the snapshot's recipients)",
            secrets_withheld
        ));
    }

    let (target, reports, tiers) = match folder {
        Some(mut folder) => {
            let mut reports = Vec::new();
            for object in &objects {
                let file = render::relative_path(object)?;
                if let Folder::Write(renderer) = &mut folder {
                    renderer.write(object)?;
                }
                reports.push(ObjectReport {
                    object: object.object_ref().to_string(),
                    tier: tier_name(object),
                    outcome: Outcome::Created,
                    message: Some(file.display().to_string()),
                    changes: Vec::new(),
                });
            }
            let dir = match folder {
                Folder::Write(renderer) => renderer.commit()?,
                Folder::DryRun(dir) => dir,
            };
            (dir.display().to_string(), reports, Vec::new())
        }
        None => {
            let connection = k8s::connect_to(&k8s::Target {
                kubeconfig: args.kubeconfig.as_deref(),
                context: args.cluster.as_deref(),
                in_cluster: args.in_cluster,
                service_account_dir: &args.service_account_dir,
            })
            .await?;
            let (reports, tiers, more_warnings) =
                restore_to_cluster(&connection, objects, &args).await?;
            warnings.extend(more_warnings);
            (connection.server, reports, tiers)
        }
    };

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reports {
        *counts
            .entry(format!("{:?}", r.outcome).to_lowercase())
            .or_insert(0) += 1;
    }
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let failed = counts.get("failed").copied().unwrap_or(0);
    let report = Report {
        env: opened.env.clone(),
        id: opened.id.clone(),
        target,
        dry_run: args.dry_run,
        counts,
        secrets_withheld,
        warnings,
        total_ms: started.elapsed().as_millis(),
        tiers: tiers
            .into_iter()
            .map(|(tier, ms)| TierTiming { tier, ms })
            .collect(),
        objects: reports,
    };
    match args.output {
        SummaryFormat::Json => crate::output::print_json(&report)?,
        SummaryFormat::Text => print_text(&report, &what),
    }
    if failed > 0 {
        bail!(
            "{failed} objects of {what} failed to restore (see the report); fix the cause and run the same restore again: it converges"
        );
    }
    if secrets_withheld > 0 && args.to_dir.is_none() && !args.dry_run {
        // Routing without its TLS Secrets is not restored routing.
        bail!(
            "{} sealed Secrets were not restored: run again with --unseal-key FILE",
            secrets_withheld
        );
    }
    Ok(())
}

/// A `--to-dir` target: written through a staging folder, or (dry run) only named.
enum Folder {
    Write(DirRenderer),
    DryRun(std::path::PathBuf),
}

fn tier_name(object: &Object) -> String {
    object
        .catalog_kind()
        .and_then(|k| RESTORE_TIERS.get(k.tier))
        .copied()
        .unwrap_or("other")
        .to_string()
}

type ClusterOutcome = (Vec<ObjectReport>, Vec<(String, u128)>, Vec<String>);

async fn restore_to_cluster(
    connection: &k8s::Connection,
    objects: Vec<Object>,
    args: &RestoreArgs,
) -> anyhow::Result<ClusterOutcome> {
    let mut warnings = Vec::new();
    let discovered = k8s::discovery::discover(&connection.client).await?;
    let served: BTreeMap<(String, String), k8s::discovery::ServedKind> = discovered
        .served
        .iter()
        .map(|k| {
            (
                (k.info.group.to_string(), k.info.kind.to_string()),
                k.clone(),
            )
        })
        .collect();

    // Preflight: kinds the target does not serve.
    let missing: BTreeSet<String> = objects
        .iter()
        .filter(|o| !served.contains_key(&(o.group().to_string(), o.kind().to_string())))
        .map(|o| crate::catalog::qualified(o.group(), o.kind()))
        .collect();
    if !missing.is_empty() && !args.skip_missing_kinds {
        let mut advice = Vec::new();
        if missing.iter().any(|k| k.starts_with("cert-manager.io/")) {
            advice.push("install cert-manager (its CRDs)");
        }
        if missing
            .iter()
            .any(|k| k.starts_with("gateway.networking.k8s.io/"))
        {
            advice.push("install the Gateway API CRDs");
        }
        bail!(
            "{} does not serve {}: {} first, or pass --skip-missing-kinds to restore the rest; nothing was applied",
            connection.server,
            missing.iter().cloned().collect::<Vec<_>>().join(", "),
            if advice.is_empty() {
                "install them".to_string()
            } else {
                advice.join(" and ")
            }
        );
    }
    for kind in &missing {
        warnings.push(format!(
            "{kind} is not served by the target; its objects are skipped"
        ));
    }

    // Preflight: classes and cluster issuers that objects reference but nobody provides.
    let references = References::of(&objects);
    for (kind, name) in &references.cluster_scoped {
        let in_snapshot = objects.iter().any(|o| o.kind() == kind && o.name() == name);
        let Some(served_kind) = crate::catalog::KINDS
            .iter()
            .find(|k| k.kind == kind)
            .and_then(|k| served.get(&(k.group.to_string(), k.kind.to_string())))
        else {
            continue;
        };
        if in_snapshot {
            continue;
        }
        let path = format!("{}/{name}", k8s::list::list_path(served_kind, None));
        let found = connection
            .client
            .request::<serde_json::Value>(
                http::Request::get(&path)
                    .body(Vec::new())
                    .expect("valid request"),
            )
            .await;
        if matches!(found, Err(kube::Error::Api(ref s)) if s.code == 404) {
            warnings.push(format!(
                "{kind} {name} is referenced but neither in the snapshot nor on the target"
            ));
        }
    }

    // Preflight: permissions, so a restore that cannot finish starts nothing.
    if !args.dry_run {
        let needs: BTreeSet<(String, String, Option<String>)> = objects
            .iter()
            .filter_map(|o| {
                let kind = served.get(&(o.group().to_string(), o.kind().to_string()))?;
                let ns = if kind.info.namespaced {
                    o.namespace().map(str::to_string)
                } else {
                    None
                };
                Some((
                    kind.info.group.to_string(),
                    kind.info.plural.to_string(),
                    ns,
                ))
            })
            .collect();
        let denied =
            apply::denied_permissions(&connection.client, &needs, args.concurrency as usize)
                .await?;
        if !denied.is_empty() {
            // "verb resource ..." per (resource, namespace): summarise as resource (verbs).
            let mut by_resource: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for entry in &denied {
                let mut parts = entry.splitn(3, ' ');
                let (verb, resource) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                by_resource
                    .entry(resource.to_string())
                    .or_default()
                    .insert(verb.to_string());
            }
            let summary: Vec<String> = by_resource
                .iter()
                .map(|(resource, verbs)| {
                    format!(
                        "{resource} ({})",
                        verbs.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            bail!(
                "the credentials for {} may not change {}; grant them (see docs/deploy/restore/clusterrole.yaml); nothing was applied",
                connection.server,
                summary.join("; ")
            );
        }
    }

    let mut tiers: Vec<Vec<Object>> = vec![Vec::new(); RESTORE_TIERS.len()];
    for object in objects {
        let tier = object
            .catalog_kind()
            .map(|k| k.tier)
            .unwrap_or(RESTORE_TIERS.len() - 1);
        tiers[tier].push(object);
    }
    let options = ApplyOptions {
        existing: args.existing,
        dry_run: args.dry_run,
        concurrency: args.concurrency as usize,
    };
    let (reports, timings) = apply::apply_tiers(&connection.client, &served, tiers, options).await;
    Ok((reports, timings, warnings))
}

fn print_text(report: &Report, what: &str) {
    let verb = if report.dry_run {
        "would restore"
    } else {
        "restored"
    };
    println!(
        "{verb} {what} into {} in {} ms",
        report.target, report.total_ms
    );
    let interesting: Vec<&ObjectReport> = if report.objects.len() <= 200 {
        report.objects.iter().collect()
    } else {
        report
            .objects
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Created | Outcome::Unchanged))
            .collect()
    };
    let rows: Vec<Vec<String>> = interesting
        .iter()
        .map(|r| {
            vec![
                r.tier.clone(),
                r.object.clone(),
                format!("{:?}", r.outcome).to_lowercase(),
                r.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        print!(
            "{}",
            crate::output::table(&["TIER", "OBJECT", "RESULT", "MESSAGE"], &rows)
        );
    }
    for r in &report.objects {
        for change in &r.changes {
            println!("  {} {change}", r.object);
        }
    }
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    println!("{}", counts.join(", "));
    for t in &report.tiers {
        println!("  tier {:<16} {} ms", t.tier, t.ms);
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
}
