//! `restore --prune`: replace, not modify. After a restore has applied every object, the
//! routing objects in the snapshot's scope that the snapshot does not hold are deleted, in
//! reverse restore order (routes before Services before Secrets before classes), so the
//! cluster's routing is exactly the snapshot. Which objects are candidates is pure
//! (`candidates`); each is then read again and deleted only if it is still the same object
//! (uid precondition) and, unless `--prune-all`, if routevault applied it (field manager
//! `routevault`): what kubectl, Helm or a person created is reported and kept.

use std::collections::BTreeMap;

use futures::StreamExt;
use kube::Client;
use kube::api::{DeleteParams, Preconditions};

use crate::catalog::RESTORE_TIERS;
use crate::k8s::discovery::ServedKind;
use crate::k8s::list::api_for;
use crate::k8s::retry::with_retry;
use crate::object::{Identities, Object};
use crate::restore::apply::{FIELD_MANAGER, ObjectReport, Outcome};

/// How far a prune may go.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// Also objects that other field managers applied.
    pub all: bool,
    /// Also Namespaces.
    pub namespaces: bool,
    pub dry_run: bool,
    pub concurrency: usize,
}

/// The live objects (in scope already) that the snapshot does not hold, grouped by tier,
/// latest tier first; Namespaces only when asked. System objects (kube-system, the
/// `kubernetes` Service, ...) never, whatever the snapshot says: `include_system` is a claim of
/// the signed manifest, and a stolen signing key must not be able to delete them.
pub fn candidates(
    live: Vec<Object>,
    snapshot: &Identities,
    options: PruneOptions,
) -> Vec<(usize, Vec<Object>)> {
    let mut by_tier: BTreeMap<usize, Vec<Object>> = BTreeMap::new();
    for object in live {
        if snapshot.contains_object(&object) {
            continue;
        }
        if object.group().is_empty() && object.kind() == "Namespace" && !options.namespaces {
            continue;
        }
        if crate::catalog::is_system_object(
            object.group(),
            object.kind(),
            object.namespace(),
            object.name(),
        ) {
            continue;
        }
        let tier = object.catalog_kind().map(|k| k.tier).unwrap_or(usize::MAX);
        by_tier.entry(tier).or_default().push(object);
    }
    by_tier.into_iter().rev().collect()
}

/// After a restore: captures the live routing in `scope` (as `diff` does), and deletes what
/// `snapshot` does not hold. Returns a report per candidate.
pub async fn after_restore(
    connection: &crate::k8s::Connection,
    scope: &crate::scope::Scope,
    manifest: &crate::artifact::OpenedManifest,
    snapshot: &Identities,
    options: PruneOptions,
) -> anyhow::Result<Vec<ObjectReport>> {
    // Only what the snapshot does not hold is kept: the candidates, few unless the cluster
    // drifted far.
    let mut live = Vec::new();
    crate::diff::live_objects(connection, scope, manifest, &mut |object| {
        if scope.covers(&object) && !snapshot.contains_object(&object) {
            live.push(object);
        }
        Ok(())
    })
    .await?;
    let discovered = crate::k8s::discovery::discover(&connection.client).await?;
    let tiers = candidates(live, snapshot, options);
    Ok(prune(&connection.client, &discovered.served, tiers, options).await)
}

/// Deletes the candidates tier by tier (each tier's objects concurrently) and reports each.
pub async fn prune(
    client: &Client,
    served: &[ServedKind],
    tiers: Vec<(usize, Vec<Object>)>,
    options: PruneOptions,
) -> Vec<ObjectReport> {
    let mut reports = Vec::new();
    for (tier, objects) in tiers {
        let tier_name = RESTORE_TIERS
            .get(tier)
            .copied()
            .unwrap_or(crate::catalog::OTHER_TIER);
        let results: Vec<ObjectReport> = futures::stream::iter(objects)
            .map(|object| {
                let kind = served
                    .iter()
                    .find(|k| k.info.group == object.group() && k.info.kind == object.kind());
                prune_one(client, kind, object, tier_name, options)
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        reports.extend(results);
    }
    reports.sort_by(|a, b| {
        let tier = |r: &ObjectReport| RESTORE_TIERS.iter().position(|t| *t == r.tier);
        tier(b).cmp(&tier(a)).then(a.object.cmp(&b.object))
    });
    reports
}

async fn prune_one(
    client: &Client,
    kind: Option<&ServedKind>,
    object: Object,
    tier: &'static str,
    options: PruneOptions,
) -> ObjectReport {
    let identity = object.object_ref().to_string();
    let report = |outcome, message: String| ObjectReport {
        object: identity.clone(),
        tier,
        outcome,
        message: Some(message),
        changes: Vec::new(),
    };
    let Some(kind) = kind else {
        return report(Outcome::Failed, "kind not served by the target".into());
    };
    let api = api_for(client, kind, object.namespace());
    // The capture normalised managedFields and uid away: read the object as it is now.
    let live = match with_retry(&identity, || api.get_opt(object.name())).await {
        Ok(Some(live)) => live,
        Ok(None) => return report(Outcome::Unchanged, "already gone".into()),
        Err(e) => return report(Outcome::Failed, format!("reading it: {e}")),
    };
    let managers = managers_of(&live.metadata);
    if !options.all && !managers.iter().any(|m| m == FIELD_MANAGER) {
        let why = if managers.is_empty() {
            // A Namespace applied with nothing but its name owns no field, so records none.
            "no field manager owns any of its fields, so nothing shows routevault applied it"
                .to_string()
        } else {
            format!("applied by {}, not by routevault", managers.join(", "))
        };
        return report(
            Outcome::Skipped,
            format!("kept: not in the snapshot, but {why}; --prune-all deletes it"),
        );
    }
    let params = DeleteParams {
        dry_run: options.dry_run,
        preconditions: Some(Preconditions {
            uid: live.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let verb = if options.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    match with_retry(&identity, || api.delete(object.name(), &params)).await {
        Ok(_) => report(
            Outcome::Pruned,
            format!("{verb}: in the snapshot's scope but not in the snapshot"),
        ),
        Err(kube::Error::Api(status)) if status.code == 404 => {
            report(Outcome::Unchanged, "already gone".into())
        }
        Err(e) => report(Outcome::Failed, format!("deleting it: {e}")),
    }
}

/// The field managers that wrote the object, in the order the server lists them.
fn managers_of(metadata: &kube::api::ObjectMeta) -> Vec<String> {
    let mut managers: Vec<String> = Vec::new();
    for entry in metadata.managed_fields.iter().flatten() {
        if let Some(manager) = &entry.manager
            && !managers.contains(manager)
        {
            managers.push(manager.clone());
        }
    }
    managers
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(kind: &str, api: &str, namespace: Option<&str>, name: &str) -> Object {
        let mut o = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = namespace {
            o["metadata"]["namespace"] = json!(ns);
        }
        Object(o)
    }

    #[test]
    fn candidates_are_what_the_snapshot_lacks_routes_first_namespaces_only_when_asked() {
        let kept = object("Service", "v1", Some("shop"), "web");
        let live = vec![
            object("Namespace", "v1", None, "old"),
            object("Secret", "v1", Some("shop"), "old-tls"),
            kept.clone(),
            object("Service", "v1", Some("shop"), "old"),
            object("Ingress", "networking.k8s.io/v1", Some("shop"), "old"),
        ];
        let mut snapshot = Identities::default();
        snapshot.insert(&kept);
        let names = |tiers: &[(usize, Vec<Object>)]| -> Vec<String> {
            tiers
                .iter()
                .flat_map(|(_, objects)| objects.iter().map(|o| o.object_ref().to_string()))
                .collect()
        };
        let tiers = candidates(live.clone(), &snapshot, PruneOptions::default());
        assert_eq!(
            names(&tiers),
            vec![
                "networking.k8s.io/Ingress shop/old",
                "Service shop/old",
                "Secret shop/old-tls"
            ]
        );
        let with_namespaces = PruneOptions {
            namespaces: true,
            ..Default::default()
        };
        let tiers = candidates(live, &snapshot, with_namespaces);
        assert_eq!(names(&tiers).last().unwrap(), "Namespace old");

        // System objects are never candidates, even in a scope that includes them.
        let system = vec![
            object("Service", "v1", Some("kube-system"), "kube-dns"),
            object("Service", "v1", Some("default"), "kubernetes"),
            object("Namespace", "v1", None, "kube-system"),
        ];
        assert!(candidates(system, &snapshot, with_namespaces).is_empty());
    }
}
