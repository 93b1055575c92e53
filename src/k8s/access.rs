//! Asking the API server what the caller may do (SelfSubjectAccessReview, typed from
//! k8s-openapi), so a restore that cannot finish fails before it applies anything.

use std::collections::BTreeSet;

use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

use super::retry::with_retry;

/// A resource in a namespace (or cluster-wide) that a plan writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    pub group: String,
    pub resource: String,
    pub namespace: Option<String>,
}

/// What the caller may not do, one verb and resource at a time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Denied {
    pub verb: &'static str,
    /// `plural.group`, as RBAC rules name it.
    pub resource: String,
    pub namespace: Option<String>,
}

/// The verbs a restore uses on every resource it writes.
pub const RESTORE_VERBS: [&str; 3] = ["get", "create", "patch"];
/// With `--wait`: watch the restored objects' status across the cluster.
pub const WAIT_VERBS: [&str; 2] = ["list", "watch"];
/// With `--prune`: also read every object in scope and delete what the snapshot lacks.
pub const PRUNE_VERBS: [&str; 5] = ["get", "create", "patch", "list", "delete"];

/// Asks whether the caller may use every verb of `verbs` on every need; returns the denied
/// ones, sorted. Each resource and verb is asked cluster-wide first: allowed there, it is
/// allowed in every namespace, so a cluster admin's restore of hundreds of namespaces costs a
/// few reviews; only what is denied cluster-wide is asked namespace by namespace.
pub async fn denied(
    client: &Client,
    needs: &BTreeSet<Need>,
    verbs: &[&'static str],
    concurrency: usize,
) -> Result<Vec<Denied>, kube::Error> {
    let wide: BTreeSet<Need> = needs
        .iter()
        .map(|need| Need {
            namespace: None,
            ..need.clone()
        })
        .collect();
    let wide_checks = wide
        .iter()
        .flat_map(|need| verbs.iter().map(move |verb| (need, *verb)));
    let wide_denied = review(client, wide_checks, concurrency).await?;
    let denied_everywhere = |need: &Need, verb: &str| {
        wide_denied
            .iter()
            .any(|(n, v)| *v == verb && n.group == need.group && n.resource == need.resource)
    };
    // Cluster-scoped needs were asked as they are; namespaced ones denied cluster-wide are
    // asked in their namespaces.
    let mut denied: Vec<(&Need, &'static str)> = wide_denied
        .iter()
        .filter(|(need, _)| needs.contains(*need))
        .map(|(need, verb)| (*need, *verb))
        .collect();
    let narrow_checks = needs
        .iter()
        .filter(|need| need.namespace.is_some())
        .flat_map(|need| verbs.iter().map(move |verb| (need, *verb)))
        .filter(|(need, verb)| denied_everywhere(need, verb));
    denied.extend(review(client, narrow_checks, concurrency).await?);
    let mut denied: Vec<Denied> = denied
        .into_iter()
        .map(|(need, verb)| Denied {
            verb,
            resource: if need.group.is_empty() {
                need.resource.clone()
            } else {
                format!("{}.{}", need.resource, need.group)
            },
            namespace: need.namespace.clone(),
        })
        .collect();
    denied.sort();
    Ok(denied)
}

/// Asks one SelfSubjectAccessReview per check, `concurrency` at once; returns the denied
/// checks.
async fn review<'a>(
    client: &Client,
    checks: impl Iterator<Item = (&'a Need, &'static str)>,
    concurrency: usize,
) -> Result<Vec<(&'a Need, &'static str)>, kube::Error> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answers: Vec<Result<Option<(&Need, &'static str)>, kube::Error>> =
        futures::stream::iter(checks)
            .map(|(need, verb)| {
                let reviews = &reviews;
                async move {
                    let review = SelfSubjectAccessReview {
                        spec: SelfSubjectAccessReviewSpec {
                            resource_attributes: Some(ResourceAttributes {
                                group: Some(need.group.clone()),
                                resource: Some(need.resource.clone()),
                                namespace: need.namespace.clone(),
                                verb: Some(verb.to_string()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    let post = PostParams::default();
                    let answer = with_retry("selfsubjectaccessreviews", || {
                        reviews.create(&post, &review)
                    })
                    .await?;
                    let allowed = answer.status.is_some_and(|s| s.allowed);
                    Ok((!allowed).then_some((need, verb)))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut denied = Vec::new();
    for answer in answers {
        denied.extend(answer?);
    }
    Ok(denied)
}
