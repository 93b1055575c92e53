//! Which routing kinds a cluster serves, at which version. The catalog's versions are tried in
//! its order (v1 first), then any other version the group serves (ReferenceGrant is often only
//! v1beta1). cert-manager and Gateway API are optional; their absence is recorded, not an error.

use std::collections::HashMap;

use anyhow::Context;
use kube::Client;

use super::retry::with_retry;
use crate::catalog::{self, KindInfo};

/// A catalog kind and the version this cluster serves it at.
#[derive(Debug, Clone)]
pub struct ServedKind {
    pub info: &'static KindInfo,
    pub version: String,
}

impl ServedKind {
    pub fn api_version(&self) -> String {
        self.info.api_version(&self.version)
    }
    /// `group/version/Kind`, as recorded in manifests.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.api_version(), self.info.kind)
    }
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub served: Vec<ServedKind>,
    pub absent: Vec<&'static KindInfo>,
}

pub async fn discover(client: &Client) -> anyhow::Result<Discovered> {
    let groups = with_retry("discovery", || client.list_api_groups())
        .await
        .context("listing the cluster's API groups")?;
    let mut versions_of: HashMap<String, Vec<String>> = HashMap::new();
    for group in &groups.groups {
        let mut versions: Vec<String> = Vec::new();
        if let Some(preferred) = &group.preferred_version {
            versions.push(preferred.version.clone());
        }
        for v in &group.versions {
            if !versions.contains(&v.version) {
                versions.push(v.version.clone());
            }
        }
        versions_of.insert(group.name.clone(), versions);
    }
    versions_of.insert(String::new(), vec!["v1".into()]);

    let mut resources: HashMap<String, Vec<String>> = HashMap::new();
    let mut out = Discovered::default();
    for info in catalog::KINDS {
        let served = versions_of.get(info.group).cloned().unwrap_or_default();
        let mut candidates: Vec<String> = info
            .versions
            .iter()
            .map(|v| v.to_string())
            .filter(|v| served.contains(v))
            .collect();
        candidates.extend(
            served
                .iter()
                .filter(|v| !info.versions.contains(&v.as_str()))
                .cloned(),
        );
        let mut found = None;
        for version in candidates {
            let api_version = info.api_version(&version);
            if !resources.contains_key(&api_version) {
                let list = if info.group.is_empty() {
                    with_retry("discovery", || client.list_core_api_resources(&version)).await
                } else {
                    with_retry("discovery", || {
                        client.list_api_group_resources(&api_version)
                    })
                    .await
                };
                let plurals = list
                    .with_context(|| format!("discovering {api_version}"))?
                    .resources
                    .into_iter()
                    .filter(|r| r.verbs.iter().any(|v| v == "list"))
                    .map(|r| r.name)
                    .collect();
                resources.insert(api_version.clone(), plurals);
            }
            if resources[&api_version].iter().any(|p| p == info.plural) {
                found = Some(version);
                break;
            }
        }
        match found {
            Some(version) => out.served.push(ServedKind { info, version }),
            None => out.absent.push(info),
        }
    }
    Ok(out)
}
