//! Applying objects to a cluster: server-side apply with field manager `routevault`, tier by
//! tier in restore order, objects within a tier concurrently (bounded), with the API server's
//! back-pressure honoured (see `k8s::retry`). Each object's outcome is reported: created,
//! updated, unchanged, skipped or failed (with the server's message).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{OTHER_TIER, RESTORE_TIERS};
use crate::k8s::discovery::ServedKind;
use crate::k8s::list;
use crate::k8s::retry::with_retry;
use crate::object::Object;
use crate::restore::read::Reading;
use crate::restore::reports::ObjectLog;

pub const FIELD_MANAGER: &str = "routevault";

/// What to do with objects that already exist on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Existing {
    /// Leave them as they are.
    Skip,
    /// Server-side apply over them, taking ownership of the snapshot's fields (the default).
    Update,
    /// Report them as failures and apply nothing over them.
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
    Failed,
    /// Deleted by `restore --prune` (or, in a dry run, would be).
    Pruned,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Pruned => "pruned",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    pub object: String,
    /// A name of `catalog::RESTORE_TIERS` (or "other"): one per restored object, so never a
    /// copy.
    pub tier: &'static str,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For a dry run of a change: the fields that would change (Secret values masked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    pub existing: Existing,
    pub dry_run: bool,
    pub concurrency: usize,
    /// The most objects held at once may be estimated to take (`--max-object-memory`).
    pub max_object_memory: u64,
}

/// Applies the objects `reading` outlined, tier by tier in restore order (already rewritten;
/// apiVersions are set to what the target serves). Each tier is read from the artifact on a
/// thread of its own while it is applied, with `concurrency` requests in flight and at most
/// `max_object_memory` (estimated) of objects held. Every object's report goes to `log` as it
/// comes; returns each tier's duration. Fails only when the artifact cannot be read again or
/// the log cannot be written.
pub async fn apply_tiers(
    client: &Client,
    served: &BTreeMap<(String, String), ServedKind>,
    reading: &Reading<'_>,
    options: ApplyOptions,
    log: &mut ObjectLog,
) -> anyhow::Result<Vec<(String, u128)>> {
    let mut timings = Vec::new();
    let mut new_namespaces: Vec<String> = Vec::new();
    // Objects that failed or were held back: later objects that need one are held back too.
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let sizes = reading.tier_sizes();
    let bar = crate::progress::Progress::new().bar("applying", sizes.iter().sum::<usize>() as u64);
    for (tier, size) in sizes.into_iter().enumerate() {
        if size == 0 {
            continue;
        }
        let tier_name = RESTORE_TIERS.get(tier).copied().unwrap_or(OTHER_TIER);
        let started = Instant::now();
        let context = TierContext {
            client,
            served,
            tier: tier_name,
            options,
            new_namespaces: &new_namespaces,
            failed: &failed,
            bar: &bar,
        };
        let outcome = apply_streamed(reading, tier, &context, log)?;
        timings.push((tier_name.to_string(), started.elapsed().as_millis()));
        new_namespaces.extend(outcome.created_namespaces);
        // What failed, and what was held back for it, holds back what needs it in later tiers.
        failed.extend(outcome.failed);
    }
    bar.finish_and_clear();
    Ok(timings)
}

/// What every object of one tier is applied with.
struct TierContext<'a> {
    client: &'a Client,
    served: &'a BTreeMap<(String, String), ServedKind>,
    tier: &'static str,
    options: ApplyOptions,
    new_namespaces: &'a [String],
    failed: &'a BTreeSet<String>,
    bar: &'a indicatif::ProgressBar,
}

/// What a tier leaves for the tiers after it (its reports are in the log).
#[derive(Default)]
struct TierOutcome {
    /// Namespaces the tier created: nothing can exist in them yet.
    created_namespaces: Vec<String>,
    /// Objects that failed or were held back.
    failed: Vec<String>,
}

impl TierOutcome {
    fn record(&mut self, report: &ObjectReport, held_back: bool) {
        if report.tier == "namespaces" && report.outcome == Outcome::Created {
            let name = report.object.trim_start_matches("Namespace ");
            self.created_namespaces.push(name.to_string());
        }
        if held_back || report.outcome == Outcome::Failed {
            self.failed.push(report.object.clone());
        }
    }
}

/// Applies one tier while a scoped thread reads it from the artifact. The reader waits for
/// memory (a semaphore of KiB, weighted by each object's estimated cost) before it hands an
/// object on, so memory stays bounded however big the tier is.
fn apply_streamed(
    reading: &Reading<'_>,
    tier: usize,
    context: &TierContext<'_>,
    log: &mut ObjectLog,
) -> anyhow::Result<TierOutcome> {
    let budget_kib = (context.options.max_object_memory / 1024).clamp(1, u32::MAX as u64 >> 4);
    let memory = std::sync::Arc::new(tokio::sync::Semaphore::new(budget_kib as usize));
    let (sender, receiver) = tokio::sync::mpsc::channel::<(
        Object,
        tokio::sync::OwnedSemaphorePermit,
    )>(context.options.concurrency.max(1));
    let runtime = tokio::runtime::Handle::current();
    // The reader is synchronous (file, zstd, YAML); the apply is async on this runtime.
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let sender = sender;
                reading.each_in_tier(tier, |object| {
                    let kib = (crate::restore::memory_cost(&object.0) / 1024 + 1).min(budget_kib);
                    let permit =
                        futures::executor::block_on(memory.clone().acquire_many_owned(kib as u32))
                            .expect("the semaphore is never closed");
                    // A closed channel means the applier stopped; it reports why.
                    let _ = sender.blocking_send((object, permit));
                    Ok(())
                })
            });
            let applied = runtime.block_on(apply_received(receiver, context, log));
            let read = reader.join().expect("the artifact reader does not panic");
            read?;
            applied.context("writing the restore's report to its temporary file (TMPDIR)")
        })
    })
}

/// Applies what the reader hands on, `concurrency` at a time, logging each report as its
/// object finishes. A log that cannot be written stops the tier: what is not reported must
/// not be applied.
async fn apply_received(
    mut receiver: tokio::sync::mpsc::Receiver<(Object, tokio::sync::OwnedSemaphorePermit)>,
    context: &TierContext<'_>,
    log: &mut ObjectLog,
) -> std::io::Result<TierOutcome> {
    let received = futures::stream::poll_fn(|cx| receiver.poll_recv(cx));
    let mut reports = received
        .map(|(object, permit)| async move {
            let report = match hold_back(&object, context.failed, context.tier) {
                Some(report) => (report, true),
                None => {
                    let kind = context
                        .served
                        .get(&(object.group().to_string(), object.kind().to_string()))
                        .cloned();
                    let report = apply_one(
                        context.client,
                        kind,
                        object,
                        context.tier,
                        context.options,
                        context.new_namespaces,
                    )
                    .await;
                    (report, false)
                }
            };
            drop(permit);
            context.bar.inc(1);
            report
        })
        .buffer_unordered(context.options.concurrency.max(1));
    let mut outcome = TierOutcome::default();
    while let Some((report, held_back)) = reports.next().await {
        outcome.record(&report, held_back);
        log.push(&report)?;
    }
    Ok(outcome)
}

/// The report of an object held back because something it needs failed (or was itself held
/// back), or None to apply it.
fn hold_back(
    object: &Object,
    failed: &BTreeSet<String>,
    tier: &'static str,
) -> Option<ObjectReport> {
    // The common case, nothing failed: no object's dependencies need computing.
    if failed.is_empty() {
        return None;
    }
    let missing: Vec<String> = crate::restore::plan::dependencies(object)
        .into_iter()
        .filter(|need| failed.contains(need))
        .collect();
    (!missing.is_empty()).then(|| ObjectReport {
        object: object.object_ref().to_string(),
        tier,
        outcome: Outcome::Skipped,
        message: Some(format!(
            "not attempted: it needs {}, which failed",
            missing.join(", ")
        )),
        changes: Vec::new(),
    })
}

async fn apply_one(
    client: &Client,
    kind: Option<ServedKind>,
    mut object: Object,
    tier: &'static str,
    options: ApplyOptions,
    new_namespaces: &[String],
) -> ObjectReport {
    let mut report = ObjectReport {
        object: object.object_ref().to_string(),
        tier,
        outcome: Outcome::Failed,
        message: None,
        changes: Vec::new(),
    };
    let outcome = match kind {
        None => Ok((
            Outcome::Skipped,
            Some("kind not served by the target (--skip-missing-kinds)".to_string()),
            Vec::new(),
        )),
        Some(kind) => {
            object.0["apiVersion"] = Value::String(kind.api_version().to_string());
            // Nothing can exist yet in a namespace this restore just created: skip the read,
            // which halves the requests of a DR restore into a fresh cluster. A dry run cannot
            // even place objects there, since the namespace was only pretended.
            let in_new_namespace = object
                .namespace()
                .is_some_and(|ns| new_namespaces.iter().any(|n| n == ns));
            let api = list::api_for(client, &kind, object.namespace());
            if options.dry_run && in_new_namespace {
                Ok((
                    Outcome::Created,
                    Some("would be created (with its new namespace)".to_string()),
                    Vec::new(),
                ))
            } else {
                apply_with(&api, &object, in_new_namespace, options).await
            }
        }
    };
    match outcome {
        Ok((outcome, message, changes)) => {
            report.outcome = outcome;
            report.message = message;
            report.changes = changes;
        }
        Err(error) => report.message = Some(api_message(&error)),
    }
    report
}

type Applied = (Outcome, Option<String>, Vec<String>);

/// Reads the live object (unless it cannot exist), honours `--existing`, and server-side
/// applies `object`, forcing ownership of its fields as field manager `routevault`.
async fn apply_with(
    api: &Api<DynamicObject>,
    object: &Object,
    cannot_exist: bool,
    options: ApplyOptions,
) -> Result<Applied, kube::Error> {
    let name = object.name();
    let what = object.object_ref().to_string();
    let live = if cannot_exist {
        None
    } else {
        with_retry(&what, || api.get_opt(name)).await?
    };
    if live.is_some() {
        match options.existing {
            Existing::Skip => {
                let message = Some("exists (--existing skip)".to_string());
                return Ok((Outcome::Skipped, message, Vec::new()));
            }
            Existing::Fail => {
                let message = Some("exists on the target (--existing fail)".to_string());
                return Ok((Outcome::Failed, message, Vec::new()));
            }
            Existing::Update => {}
        }
    }
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = options.dry_run;
    let patch = Patch::Apply(&object.0);
    let applied = with_retry(&what, || api.patch(name, &params, &patch)).await?;
    let Some(live) = live else {
        let message = options.dry_run.then(|| "would be created".to_string());
        return Ok((Outcome::Created, message, Vec::new()));
    };
    // A dry run persists nothing, so its answer may carry the old resourceVersion.
    if !options.dry_run && live.metadata.resource_version == applied.metadata.resource_version {
        return Ok((Outcome::Unchanged, None, Vec::new()));
    }
    // Compare content, not resourceVersion: an apply that owns no field (a bare Namespace)
    // rewrites managedFields every time without changing anything.
    let (live, applied) = (comparable(live), comparable(applied));
    let changes = if options.dry_run {
        diff(&live, &applied, "", object.kind() == "Secret")
    } else {
        Vec::new()
    };
    let outcome = if live == applied {
        Outcome::Unchanged
    } else {
        Outcome::Updated
    };
    Ok((outcome, None, changes))
}

/// An object without the fields that change on every write, for comparison.
fn comparable(object: DynamicObject) -> Value {
    let mut v = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "resourceVersion",
            "managedFields",
            "generation",
            "creationTimestamp",
            "uid",
        ] {
            meta.remove(field);
        }
    }
    v
}

/// JSON paths whose values differ, with old → new; Secret data values are masked.
fn diff(old: &Value, new: &Value, path: &str, secret: bool) -> Vec<String> {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    diff(
                        a.get(k).unwrap_or(&Value::Null),
                        b.get(k).unwrap_or(&Value::Null),
                        &format!("{path}.{k}"),
                        secret,
                    )
                })
                .collect()
        }
        (a, b) if a == b => Vec::new(),
        (a, b) => {
            let masked = secret && (path.starts_with(".data") || path.starts_with(".stringData"));
            let show = |v: &Value| {
                if masked {
                    "<masked>".to_string()
                } else {
                    v.to_string()
                }
            };
            vec![format!("{path}: {} -> {}", show(a), show(b))]
        }
    }
}

fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dry_run_diffs_mask_secret_values() {
        let old = json!({"data": {"tls.key": "b2xk"}, "metadata": {"labels": {"a": "1"}}});
        let new = json!({"data": {"tls.key": "bmV3"}, "metadata": {"labels": {"a": "2"}}});
        let changes = diff(&old, &new, "", true);
        assert_eq!(
            changes,
            vec![
                ".data.tls.key: <masked> -> <masked>",
                ".metadata.labels.a: \"1\" -> \"2\""
            ]
        );
        assert!(diff(&old, &old, "", true).is_empty());
    }
}
