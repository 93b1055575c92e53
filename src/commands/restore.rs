//! `routevault restore`: verify first, then recreate the snapshot's routing — into a cluster
//! (server-side apply, tier by tier) or as YAML files in a new folder — optionally rewritten to
//! clone an environment. Secrets are unsealed with `--unseal-key`; without it they are not
//! restored, and the report says so. Nothing touches the target before the signature verifies.

use std::time::Instant;

use anyhow::{Context, bail};

use crate::cli::RestoreArgs;
use routevault::k8s;
use routevault::restore::apply::Outcome;
use routevault::restore::prune::{self, PruneOptions};
use routevault::restore::read::Reading;
use routevault::restore::{self, ClusterOptions, Folder, Report, wait};
use routevault::seal;

pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    check_target(&args)?;
    let transform = args.transform.to_transform();
    // Refuse a non-empty target folder and an unreadable key before downloading anything.
    let folder = match &args.to_dir {
        Some(dir) => Some(Folder::open(dir, args.dry_run)?),
        None => None,
    };
    let identities = match &args.unseal_key {
        Some(path) => Some(seal::load_identities(path)?),
        None => None,
    };

    let opened =
        super::open_snapshot(&args.store, &args.env.env, &args.snapshot, &args.trust).await?;
    let what = opened.what();
    let unsealer = super::unsealer_for(&opened, identities.as_deref(), args.unseal_key.as_deref())?;

    // Every object is read and checked before anything is written or applied; only an outline
    // is kept, and each tier is read again as it is applied.
    let reading = Reading::outline(
        &opened.artifact,
        unsealer.as_ref(),
        &transform,
        args.max_object_memory,
        args.prune || args.wait.is_some(),
    )
    .with_context(|| format!("reading {what}; nothing was applied or written"))?;
    let secrets_withheld = reading.secrets_withheld;
    if args.prune && secrets_withheld > 0 {
        bail!(
            "--prune needs --unseal-key: without it the {secrets_withheld} sealed Secrets of \
             {what} are not restored, and the cluster's copies would be pruned as extra; \
             nothing was applied"
        );
    }
    let prune = args
        .prune
        .then(|| Prune::new(&args, &opened.artifact.manifest, &reading, &transform));

    let (target, mut restored) = match folder {
        Some(folder) => {
            let (dir, restored) = folder
                .restore(&reading)
                .with_context(|| format!("writing {what}"))?;
            (dir.display().to_string(), restored)
        }
        None => into_cluster(&args, &reading, prune, started).await?,
    };
    restored.warnings.extend(reading.notes.iter().cloned());
    let report = Report::new(
        &opened,
        target,
        args.dry_run,
        restored,
        secrets_withheld,
        started,
    )
    .context("finishing the restore's report (its temporary file, TMPDIR)")?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    let failed = report.counts.get("failed").copied().unwrap_or(0);
    super::emit(args.output, &report, |r| print_text(r, &what))?;
    if failed > 0 {
        bail!(
            "{failed} objects of {what} failed to restore (see the report); fix the cause and run the same restore again: it converges"
        );
    }
    check_live(&report, &what)?;
    if secrets_withheld > 0 && args.to_dir.is_none() && !args.dry_run {
        // Routing without its TLS Secrets is not restored routing.
        bail!(
            "{secrets_withheld} sealed Secrets were not restored: run again with --unseal-key FILE"
        );
    }
    Ok(())
}

/// Fails a `--wait` that timed out, naming the objects not live (the first [`MAX_NAMED`]).
fn check_live(report: &Report, what: &str) -> anyhow::Result<()> {
    let Some(waited) = report.wait.as_ref().filter(|w| !w.ready) else {
        return Ok(());
    };
    let lines = waited.not_ready_lines();
    let shown = lines.len().min(MAX_NAMED);
    let mut message = format!(
        "{} restored objects of {what} were not live after {}s:\n  {}",
        lines.len(),
        waited.timeout_s,
        lines[..shown].join("\n  ")
    );
    if lines.len() > shown {
        message.push_str(&format!(
            "\n  and {} more (see -o json)",
            lines.len() - shown
        ));
    }
    bail!(
        "{message}\nthe routing is applied; fix the cause (a controller not running, an issuer \
         not ready) and wait again with the same restore: it converges"
    )
}

/// How many objects not live a failed `--wait` names in its error (all are in the report).
const MAX_NAMED: usize = 20;

/// A restore writes to a cluster; it never picks one implicitly (no current context, no pod
/// identity) — the target is always named.
fn check_target(args: &RestoreArgs) -> anyhow::Result<()> {
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
    Ok(())
}

/// What `--prune` deletes: the objects of `scope` that `snapshot` does not name.
struct Prune<'a> {
    scope: routevault::scope::Scope,
    snapshot: &'a routevault::object::Identities,
    manifest: &'a routevault::artifact::OpenedManifest,
    options: PruneOptions,
}

impl<'a> Prune<'a> {
    fn new(
        args: &RestoreArgs,
        manifest: &'a routevault::artifact::OpenedManifest,
        reading: &'a Reading<'_>,
        transform: &routevault::transform::Transform,
    ) -> Self {
        let snapshot = &reading.outline.identities;
        Prune {
            scope: routevault::scope::Scope::of(
                manifest,
                snapshot
                    .iter()
                    .filter_map(routevault::object::HeldRef::home_namespace),
                transform,
            ),
            snapshot,
            manifest,
            options: PruneOptions {
                all: args.prune_all,
                namespaces: args.prune_namespaces,
                dry_run: args.dry_run,
                concurrency: args.concurrency as usize,
            },
        }
    }
}

/// Connects to the named target and restores into it, then prunes if asked (only after every
/// object applied: a half-restored snapshot must not also lose the routing it replaces).
/// Returns the target's server and the outcome.
async fn into_cluster(
    args: &RestoreArgs,
    reading: &Reading<'_>,
    prune: Option<Prune<'_>>,
    started: Instant,
) -> anyhow::Result<(String, restore::Restored)> {
    let connection = k8s::connect_to(&k8s::Target {
        kubeconfig: args.kubeconfig.as_deref(),
        context: args.cluster.as_deref(),
        in_cluster: args.in_cluster,
        service_account_dir: &args.service_account_dir,
    })
    .await?;
    let options = ClusterOptions {
        existing: args.existing,
        dry_run: args.dry_run,
        concurrency: args.concurrency as usize,
        skip_missing_kinds: args.skip_missing_kinds,
        prune: prune.is_some(),
        wait: args.wait.is_some(),
    };
    // Counted before anything is applied: what cert-manager creates from here on is an
    // issuance the restore caused.
    let requests_before = match args.wait {
        Some(_) => wait::certificate_request_uids(&connection.client).await,
        None => None,
    };
    let mut restored =
        restore::to_cluster(&connection, reading, options, args.max_object_memory).await?;
    if let Some(prune) = prune {
        let failed = restored.log.count(Outcome::Failed);
        if failed > 0 {
            restored.warnings.push(format!(
                "--prune was not carried out: {failed} objects failed to restore; fix them and \
                 run the same restore again"
            ));
        } else {
            let started = Instant::now();
            let pruned = prune::after_restore(
                &connection,
                &prune.scope,
                prune.manifest,
                prune.snapshot,
                prune.options,
            )
            .await
            .context("pruning what the snapshot does not hold (everything was restored)")?;
            for report in &pruned {
                restored
                    .log
                    .push(report)
                    .context("writing the restore's report to its temporary file (TMPDIR)")?;
            }
            restored
                .tiers
                .push(("prune".into(), started.elapsed().as_millis()));
        }
    }
    let failed = restored.log.count(Outcome::Failed);
    if args.wait.is_some() && failed > 0 {
        // The restore fails on them anyway, and what they hold back would never go live.
        restored.warnings.push(format!(
            "--wait was not carried out: {failed} objects failed to restore; fix them and run \
             the same restore again"
        ));
    } else if let Some(timeout) = &args.wait {
        wait_until_live(
            &connection,
            reading,
            &mut restored,
            requests_before,
            timeout,
            started,
        )
        .await?;
    }
    Ok((connection.server, restored))
}

/// `--wait`: watches the restored objects that have a readiness until they are live or the
/// timeout passes, and adds the wait's report. Called only when every object applied.
async fn wait_until_live(
    connection: &k8s::Connection,
    reading: &Reading<'_>,
    restored: &mut restore::Restored,
    requests_before: Option<std::collections::BTreeSet<String>>,
    timeout: &routevault::duration::Age,
    started: Instant,
) -> anyhow::Result<()> {
    let applied_ms = started.elapsed().as_millis();
    let timeout = timeout.duration.unsigned_abs();
    let objects = wait::wait_until_live(
        &connection.client,
        &restored.served,
        wait::waited(&reading.outline.identities),
        &reading.expectations(),
        started,
        timeout,
    )
    .await?;
    let requests_after = wait::certificate_request_uids(&connection.client).await;
    let created = requests_before
        .zip(requests_after)
        .map(|(before, after)| after.difference(&before).count());
    if let Some(created) = created.filter(|n| *n > 0) {
        restored.warnings.push(format!(
            "cert-manager created {created} CertificateRequests during the restore: \
             certificates were issued again (a restored Secret missing, expired or not matching \
             its Certificate); watch the issuer's rate limits"
        ));
    }
    restored.wait = Some(wait::report(objects, timeout, applied_ms, created));
    Ok(())
}

fn print_text(report: &Report, what: &str) {
    let verb = if report.dry_run {
        "would restore"
    } else {
        "restored"
    };
    outln!(
        "{verb} {what} into {} in {} ms",
        report.target,
        report.total_ms
    );
    let objects = report.objects.iter().map_while(|r| {
        r.inspect_err(|e| tracing::warn!("the report's objects could not be read back: {e}"))
            .ok()
    });
    let listing = routevault::restore::reports::listing(report.objects.count(), objects);
    let unlisted = listing.unlisted;
    let rows: Vec<Vec<String>> = listing
        .listed
        .into_iter()
        .map(|r| {
            let outcome = r.outcome.name().to_string();
            vec![
                r.tier.to_string(),
                r.object,
                outcome,
                r.message.unwrap_or_default(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out!(
            "{}",
            routevault::output::table(&["TIER", "OBJECT", "RESULT", "MESSAGE"], &rows)
        );
    }
    if unlisted > 0 {
        outln!("... and {unlisted} more updated, skipped, failed or pruned: see --output json");
    }
    for r in report.objects.iter().map_while(Result::ok) {
        for change in &r.changes {
            outln!("  {} {change}", r.object);
        }
    }
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    outln!("{}", counts.join(", "));
    for t in &report.tiers {
        outln!("  tier {:<16} {} ms", t.tier, t.ms);
    }
    if let Some(waited) = &report.wait {
        print_wait(waited);
    }
    for w in &report.warnings {
        outln!("warning: {w}");
    }
}

fn print_wait(waited: &wait::WaitReport) {
    match waited.ready_ms {
        Some(ms) => outln!(
            "live: {} objects ready {} ms after the restore began (applied at {} ms)",
            waited.objects.len(),
            ms,
            waited.applied_ms
        ),
        None => outln!(
            "NOT live after {}s: {} of {} objects not ready",
            waited.timeout_s,
            waited.not_ready,
            waited.objects.len()
        ),
    }
    for tier in &waited.tiers {
        let when = tier.ready_ms.map_or("not all ready".to_string(), |ms| {
            format!("ready at {ms} ms")
        });
        outln!("  tier {:<16} {} objects {when}", tier.tier, tier.objects);
    }
    if let Some(created) = waited.certificate_requests_created {
        outln!("  CertificateRequests created: {created}");
    }
}
