//! Everything a restore into a cluster checks before it changes anything: which kinds the
//! target serves, which referenced classes and cluster issuers neither the snapshot nor the
//! target provides, and whether the credentials may write every object. A preflight that fails
//! leaves the target untouched.

use kube::Client;
use thiserror::Error;

use super::plan::{self, Outline, Served};
use crate::catalog;
use crate::k8s::{access, discovery, list, retry::with_retry};

#[derive(Debug, Error)]
pub enum PreflightError {
    #[error(
        "{server} does not serve {kinds}: {advice} first, or pass --skip-missing-kinds to \
         restore the rest; nothing was applied"
    )]
    MissingKinds {
        server: String,
        kinds: String,
        advice: String,
    },
    #[error(
        "the credentials for {server} may not change {summary}; grant them (see \
         docs/deploy/restore/clusterrole.yaml); nothing was applied"
    )]
    Denied { server: String, summary: String },
    #[error("{what} on {server}: {source}")]
    Api {
        what: &'static str,
        server: String,
        #[source]
        source: kube::Error,
    },
    #[error("{server}: {source}")]
    Discovery {
        server: String,
        #[source]
        source: crate::k8s::ApiError,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct PreflightOptions {
    pub skip_missing_kinds: bool,
    /// Ask SelfSubjectAccessReviews (not for a dry run, which writes nothing).
    pub check_permissions: bool,
    /// Also check the verbs `--prune` needs (list, delete).
    pub prune: bool,
    /// Also check what `--wait` needs (list and watch of the waited kinds, cluster-wide).
    pub wait: bool,
    pub concurrency: usize,
}

/// What a passed preflight learnt about the target.
#[derive(Debug)]
pub struct Preflight {
    pub served: Served,
    pub warnings: Vec<String>,
}

pub async fn preflight(
    client: &Client,
    server: &str,
    outline: &Outline,
    options: PreflightOptions,
) -> Result<Preflight, PreflightError> {
    let discovered =
        discovery::discover(client)
            .await
            .map_err(|source| PreflightError::Discovery {
                server: server.to_string(),
                source,
            })?;
    let served: Served = discovered
        .served
        .into_iter()
        .map(|k| ((k.info.group.to_string(), k.info.kind.to_string()), k))
        .collect();
    let mut warnings = Vec::new();

    let missing = plan::missing_kinds(outline, &served);
    if !missing.is_empty() && !options.skip_missing_kinds {
        return Err(PreflightError::MissingKinds {
            server: server.to_string(),
            kinds: missing.iter().cloned().collect::<Vec<_>>().join(", "),
            advice: plan::install_advice(&missing),
        });
    }
    warnings.extend(
        missing
            .iter()
            .map(|kind| format!("{kind} is not served by the target; its objects are skipped")),
    );
    warnings.extend(unprovided_references(client, outline, &served).await);

    if options.check_permissions {
        let needs = plan::permission_needs(outline, &served);
        let verbs: &[&'static str] = if options.prune {
            &access::PRUNE_VERBS
        } else {
            &access::RESTORE_VERBS
        };
        let mut denied = access::denied(client, &needs, verbs, options.concurrency)
            .await
            .map_err(|source| PreflightError::Api {
                what: "asking which objects the credentials may write",
                server: server.to_string(),
                source,
            })?;
        if options.wait {
            let watched = plan::wait_needs(outline, &served);
            denied.extend(
                access::denied(client, &watched, &access::WAIT_VERBS, options.concurrency)
                    .await
                    .map_err(|source| PreflightError::Api {
                        what: "asking whether the credentials may watch the restored routing",
                        server: server.to_string(),
                        source,
                    })?,
            );
        }
        if !denied.is_empty() {
            return Err(PreflightError::Denied {
                server: server.to_string(),
                summary: plan::denied_summary(&denied),
            });
        }
    }
    Ok(Preflight { served, warnings })
}

/// Classes and cluster issuers that objects reference but neither the snapshot nor the target
/// provides: the routing would restore but not work. Warnings, since a controller may create
/// them later; a failed lookup is not a reason to stop either.
async fn unprovided_references(client: &Client, outline: &Outline, served: &Served) -> Vec<String> {
    let mut warnings = Vec::new();
    for (kind, name) in &outline.cluster_references {
        if outline
            .cluster_objects
            .contains(&(kind.clone(), name.clone()))
        {
            continue;
        }
        let Some(served_kind) = catalog::KINDS
            .iter()
            .find(|k| k.kind == kind)
            .and_then(|k| served.get(&(k.group.to_string(), k.kind.to_string())))
        else {
            continue;
        };
        let api = list::api_for(client, served_kind, None);
        if let Ok(None) = with_retry(name, || api.get_opt(name)).await {
            warnings.push(format!(
                "{kind} {name} is referenced but neither in the snapshot nor on the target"
            ));
        }
    }
    warnings
}
