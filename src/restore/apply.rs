//! Applying objects to a cluster: server-side apply with field manager `routevault`, tier by
//! tier in restore order, objects within a tier concurrently (bounded), with the API server's
//! back-pressure honoured (see `k8s::retry`). Each object's outcome is reported: created,
//! updated, unchanged, skipped or failed (with the server's message).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::StreamExt;
use kube::Client;
use serde::Serialize;
use serde_json::Value;

use crate::catalog::RESTORE_TIERS;
use crate::k8s::discovery::ServedKind;
use crate::k8s::retry::with_retry;
use crate::object::Object;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    pub object: String,
    pub tier: String,
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
}

/// Applies `tiers` (objects grouped by restore tier, already transformed, apiVersions set to
/// what the target serves) in order. Returns every object's report and each tier's duration.
pub async fn apply_tiers(
    client: &Client,
    served: &BTreeMap<(String, String), ServedKind>,
    tiers: Vec<Vec<Object>>,
    options: ApplyOptions,
) -> (Vec<ObjectReport>, Vec<(String, u128)>) {
    let mut reports = Vec::new();
    let mut timings = Vec::new();
    let mut new_namespaces: Vec<String> = Vec::new();
    let mut failed_tier: Option<&str> = None;
    let total: u64 = tiers.iter().map(|t| t.len() as u64).sum();
    let bar = crate::progress::Progress::new().bar("applying", total);
    for (tier, objects) in tiers.into_iter().enumerate() {
        if objects.is_empty() {
            continue;
        }
        let tier_name = RESTORE_TIERS.get(tier).copied().unwrap_or("other");
        if let Some(failed) = failed_tier {
            // Later tiers depend on earlier ones: applying them would only add failures.
            reports.extend(objects.iter().map(|o| ObjectReport {
                object: o.object_ref().to_string(),
                tier: tier_name.to_string(),
                outcome: Outcome::Skipped,
                message: Some(format!("not attempted: tier {failed} failed")),
                changes: Vec::new(),
            }));
            continue;
        }
        let started = Instant::now();
        let new_namespaces_now = new_namespaces.clone();
        let results: Vec<ObjectReport> =
            futures::stream::iter(objects)
                .map(|object| {
                    let kind = served
                        .get(&(object.group().to_string(), object.kind().to_string()))
                        .cloned();
                    let new_namespaces = &new_namespaces_now;
                    async move {
                        apply_one(client, kind, object, tier_name, options, new_namespaces).await
                    }
                })
                .buffer_unordered(options.concurrency.max(1))
                .collect()
                .await;
        for report in &results {
            if report.tier == "namespaces" && report.outcome == Outcome::Created {
                new_namespaces.push(report.object.trim_start_matches("Namespace ").to_string());
            }
        }
        timings.push((tier_name.to_string(), started.elapsed().as_millis()));
        if results.iter().any(|r| r.outcome == Outcome::Failed) {
            failed_tier = Some(tier_name);
        }
        reports.extend(results);
    }
    bar.finish_and_clear();
    (reports, timings)
}

fn object_path(kind: &ServedKind, object: &Object) -> String {
    let root = if kind.info.group.is_empty() {
        format!("/api/{}", kind.version)
    } else {
        format!("/apis/{}/{}", kind.info.group, kind.version)
    };
    match object.namespace() {
        Some(ns) if kind.info.namespaced => format!(
            "{root}/namespaces/{ns}/{}/{}",
            kind.info.plural,
            object.name()
        ),
        _ => format!("{root}/{}/{}", kind.info.plural, object.name()),
    }
}

async fn apply_one(
    client: &Client,
    kind: Option<ServedKind>,
    mut object: Object,
    tier: &str,
    options: ApplyOptions,
    new_namespaces: &[String],
) -> ObjectReport {
    let name = object.object_ref().to_string();
    let report = |outcome, message: Option<String>| ObjectReport {
        object: name.clone(),
        tier: tier.to_string(),
        outcome,
        message,
        changes: Vec::new(),
    };
    let Some(kind) = kind else {
        return report(
            Outcome::Skipped,
            Some("kind not served by the target (--skip-missing-kinds)".into()),
        );
    };
    object.0["apiVersion"] = Value::String(kind.api_version());
    let path = object_path(&kind, &object);

    // A dry run cannot place objects in a namespace that the same dry run only pretended to create.
    if options.dry_run
        && object
            .namespace()
            .is_some_and(|ns| new_namespaces.iter().any(|n| n == ns))
    {
        return report(
            Outcome::Created,
            Some("would be created (with its new namespace)".into()),
        );
    }

    // Nothing can exist yet in a namespace this restore just created: skip the read, which
    // halves the requests of a DR restore into a fresh cluster.
    let in_new_namespace = object
        .namespace()
        .is_some_and(|ns| new_namespaces.iter().any(|n| n == ns));
    let live = if in_new_namespace {
        None
    } else {
        let get = || {
            client.request::<Value>(
                http::Request::get(&path)
                    .body(Vec::new())
                    .expect("valid request"),
            )
        };
        match with_retry(&path, get).await {
            Ok(live) => Some(live),
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(e) => return report(Outcome::Failed, Some(api_message(&e))),
        }
    };
    if live.is_some() {
        match options.existing {
            Existing::Skip => {
                return report(Outcome::Skipped, Some("exists (--existing skip)".into()));
            }
            Existing::Fail => {
                return report(
                    Outcome::Failed,
                    Some("exists on the target (--existing fail)".into()),
                );
            }
            Existing::Update => {}
        }
    }

    let mut url = format!("{path}?fieldManager={FIELD_MANAGER}&force=true");
    if options.dry_run {
        url.push_str("&dryRun=All");
    }
    let body = serde_json::to_vec(&object.0).expect("an object always serialises");
    let result = with_retry(&path, || {
        let request = http::Request::patch(&url)
            .header(http::header::CONTENT_TYPE, "application/apply-patch+yaml")
            .body(body.clone())
            .expect("valid request");
        client.request::<Value>(request)
    })
    .await;
    let applied = match result {
        Ok(applied) => applied,
        Err(e) => return report(Outcome::Failed, Some(api_message(&e))),
    };
    let Some(live) = live else {
        let mut r = report(Outcome::Created, None);
        if options.dry_run {
            r.message = Some("would be created".into());
        }
        return r;
    };
    let version = |v: &Value| {
        v.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if options.dry_run {
        let changes = diff(
            &comparable(&live),
            &comparable(&applied),
            "",
            object.kind() == "Secret",
        );
        let mut r = report(
            if changes.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Updated
            },
            None,
        );
        r.changes = changes;
        return r;
    }
    // Compare content, not resourceVersion: an apply that owns no field (a bare Namespace)
    // rewrites managedFields every time without changing anything.
    if version(&live) == version(&applied) || comparable(&live) == comparable(&applied) {
        report(Outcome::Unchanged, None)
    } else {
        report(Outcome::Updated, None)
    }
}

/// An object without the fields that change on every write, for a dry-run comparison.
fn comparable(value: &Value) -> Value {
    let mut v = value.clone();
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

/// Asks the API server (SelfSubjectAccessReview) whether the caller may get, create and patch
/// every (resource, namespace) the plan touches. Returns the denied ones as "verb resource in
/// namespace", so a restore without permission fails before it applies anything.
pub async fn denied_permissions(
    client: &Client,
    needs: &BTreeSet<(String, String, Option<String>)>,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let checks: Vec<(String, String, Option<String>, &str)> = needs
        .iter()
        .flat_map(|(group, resource, ns)| {
            ["get", "create", "patch"]
                .map(|verb| (group.clone(), resource.clone(), ns.clone(), verb))
        })
        .collect();
    let results: Vec<anyhow::Result<Option<String>>> = futures::stream::iter(checks)
        .map(|(group, resource, namespace, verb)| async move {
            let mut attributes =
                serde_json::json!({"group": group, "resource": resource, "verb": verb});
            if let Some(ns) = &namespace {
                attributes["namespace"] = Value::String(ns.clone());
            }
            let review = serde_json::json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes}
            });
            let body = serde_json::to_vec(&review)?;
            let answer: Value = with_retry("selfsubjectaccessreviews", || {
                let request =
                    http::Request::post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .body(body.clone())
                        .expect("valid request");
                client.request::<Value>(request)
            })
            .await?;
            let allowed = answer
                .pointer("/status/allowed")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let qualified = if group.is_empty() {
                resource.clone()
            } else {
                format!("{resource}.{group}")
            };
            Ok((!allowed).then(|| match namespace {
                Some(ns) => format!("{verb} {qualified} in namespace {ns}"),
                None => format!("{verb} {qualified} (cluster-wide)"),
            }))
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut denied = Vec::new();
    for result in results {
        if let Some(d) = result? {
            denied.push(d);
        }
    }
    denied.sort();
    Ok(denied)
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
