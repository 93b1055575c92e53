//! The schemas a cluster serves for the catalog's CRD kinds (cert-manager, Gateway API): read
//! from each kind's CustomResourceDefinition, at the version routevault lists, so `defaults`
//! can tell a schema default from a value someone chose.
//!
//! Reading CRDs needs `get` on `customresourcedefinitions` (the snapshot ClusterRole grants it
//! for the catalog's CRDs by name). Without it, or when a CRD cannot be read, the kind's
//! defaults are kept and the snapshot says so: nothing is lost, the snapshot is only less
//! minimal.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};
use serde_json::Value;

use super::discovery::ServedKind;
use super::retry::with_retry;

/// How many CustomResourceDefinitions are read at once.
const CRDS_AT_ONCE: usize = 4;

/// Schemas by qualified kind (`group/Kind`), and why any optional kind has none.
#[derive(Debug, Default)]
pub struct Schemas {
    pub by_kind: BTreeMap<String, Value>,
    pub warnings: Vec<String>,
}

/// Reads the `openAPIV3Schema` of every served optional (CRD) kind at its served version.
/// The CRDs are read `CRDS_AT_ONCE` at a time: a cluster with cert-manager and Gateway API
/// serves fourteen, some of them hundreds of kilobytes, and every snapshot and `diff` starts
/// with them.
pub async fn served_schemas(client: &Client, kinds: &[ServedKind]) -> Schemas {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let api = &api;
    // In the kinds' order (`buffered`), so warnings come out in the same order every time.
    let fetched: Vec<_> = futures::stream::iter(kinds.iter().filter(|k| k.info.optional))
        .map(|kind| async move {
            let name = format!("{}.{}", kind.resource.plural, kind.resource.group);
            let crd = with_retry(&name, || api.get(&name)).await;
            (kind, name, crd)
        })
        .buffered(CRDS_AT_ONCE)
        .collect()
        .await;
    let mut schemas = Schemas::default();
    for (kind, name, crd) in fetched {
        let crd = match crd {
            Ok(crd) => crd,
            Err(error) => {
                schemas.warnings.push(format!(
                    "cannot read CustomResourceDefinition {name} ({}); {}'s schema defaults \
                     inside lists are kept in the snapshot (grant get on \
                     customresourcedefinitions, see docs/deploy/snapshot/clusterrole.yaml)",
                    reason(&error),
                    kind.info.qualified()
                ));
                continue;
            }
        };
        let schema = crd
            .spec
            .versions
            .iter()
            .find(|v| v.name == kind.resource.version)
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok());
        if let Some(schema) = schema {
            schemas.by_kind.insert(kind.info.qualified(), schema);
        }
    }
    schemas
}

/// The server's message for an API error, or the error itself.
fn reason(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} {}", status.code, status.message),
        other => other.to_string(),
    }
}
