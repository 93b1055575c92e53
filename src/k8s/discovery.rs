//! Which routing kinds a cluster serves, at which version, through `kube::discovery` (the
//! aggregated discovery of Kubernetes 1.26+, two requests; per-group discovery on older
//! servers). The catalog's versions are preferred in its order (v1 first), then any other
//! version the group serves (ReferenceGrant is often only v1beta1). cert-manager and Gateway
//! API are optional; their absence is recorded, not an error.

use std::collections::BTreeSet;

use kube::Client;
use kube::core::ApiResource;
use kube::discovery::{ApiGroup, Discovery, verbs};

use super::ApiError;
use super::retry::with_retry;
use crate::catalog::{self, KindInfo};

/// A catalog kind and how this cluster serves it.
#[derive(Debug, Clone)]
pub struct ServedKind {
    pub info: &'static KindInfo,
    /// Group, version, kind and plural as the cluster serves them: what `kube::Api` needs.
    pub resource: ApiResource,
}

impl ServedKind {
    /// A catalog kind at `version`, without asking a cluster.
    #[cfg(test)]
    pub fn at(info: &'static KindInfo, version: &str) -> Self {
        Self {
            info,
            resource: ApiResource {
                group: info.group.to_string(),
                version: version.to_string(),
                api_version: if info.group.is_empty() {
                    version.to_string()
                } else {
                    format!("{}/{version}", info.group)
                },
                kind: info.kind.to_string(),
                plural: info.plural.to_string(),
            },
        }
    }

    pub fn api_version(&self) -> &str {
        &self.resource.api_version
    }

    /// `group/version/Kind`, as recorded in manifests.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.resource.api_version, self.info.kind)
    }

    /// `plural.group` (or just `plural` for the core group), as RBAC rules name resources.
    pub fn qualified_resource(&self) -> String {
        if self.info.group.is_empty() {
            self.info.plural.to_string()
        } else {
            format!("{}.{}", self.info.plural, self.info.group)
        }
    }
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub served: Vec<ServedKind>,
    pub absent: Vec<&'static KindInfo>,
}

pub async fn discover(client: &Client) -> Result<Discovered, ApiError> {
    let groups: BTreeSet<&str> = catalog::KINDS.iter().map(|k| k.group).collect();
    let groups: Vec<&str> = groups.into_iter().collect();
    let aggregated = with_retry("discovery", || {
        Discovery::new(client.clone())
            .filter(&groups)
            .run_aggregated()
    })
    .await;
    let discovery = match aggregated {
        Ok(discovery) => discovery,
        // Back-pressure and outages were retried already; asking again, group by group,
        // would only multiply the requests of an overloaded server.
        Err(err) if super::retry::classify(&err).is_some() => {
            return Err(ApiError::Discovery(err));
        }
        Err(kube::Error::Api(status)) if matches!(status.code, 401 | 403) => {
            return Err(ApiError::Discovery(kube::Error::Api(status)));
        }
        Err(err) => {
            // Servers before 1.26 answer the aggregated request with the legacy document,
            // which does not parse as the aggregated one.
            tracing::debug!(error = %err, "aggregated discovery failed; asking group by group");
            with_retry("discovery", || {
                Discovery::new(client.clone()).filter(&groups).run()
            })
            .await
            .map_err(ApiError::Discovery)?
        }
    };
    let mut out = Discovered::default();
    for info in catalog::KINDS {
        match discovery
            .get(info.group)
            .and_then(|group| served_version(group, info))
        {
            Some(resource) => out.served.push(ServedKind { info, resource }),
            None => out.absent.push(info),
        }
    }
    Ok(out)
}

/// The version `group` serves `info` at that can be listed: the catalog's versions first, in
/// its order, then the group's others in the server's order of preference.
fn served_version(group: &ApiGroup, info: &KindInfo) -> Option<ApiResource> {
    let served: Vec<&str> = group.versions().collect();
    let candidates = info
        .versions
        .iter()
        .copied()
        .filter(|v| served.contains(v))
        .chain(
            served
                .iter()
                .copied()
                .filter(|v| !info.versions.contains(v)),
        );
    for version in candidates {
        let found =
            group
                .versioned_resources(version)
                .into_iter()
                .find(|(resource, capabilities)| {
                    resource.plural == info.plural && capabilities.supports_operation(verbs::LIST)
                });
        if let Some((resource, _)) = found {
            return Some(resource);
        }
    }
    None
}
