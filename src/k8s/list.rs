//! Paginated LIST of one kind through `kube::Api<DynamicObject>` (limit + continue), with
//! retries. Objects stay dynamic JSON: a backup must not drop fields that a compiled-in API
//! version does not know. Items come back with their `apiVersion` and `kind` set (list
//! responses leave them out). An expired continue token (410) restarts the list; items already
//! delivered are not delivered twice.

use std::collections::HashSet;

use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::ApiError;
use super::discovery::ServedKind;
use super::retry::with_retry;

/// An `Api` for `kind`, in `namespace` or across all namespaces (cluster-scoped kinds ignore
/// the namespace).
pub fn api_for(client: &Client, kind: &ServedKind, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) if kind.info.namespaced => {
            Api::namespaced_with(client.clone(), ns, &kind.resource)
        }
        _ => Api::all_with(client.clone(), &kind.resource),
    }
}

/// Lists every object of `kind` page by page, handing each page to `on_page`. Returns how many
/// objects were delivered. `label_selector` is sent to the server, which filters.
/// `on_page`'s own errors end the listing and are returned as they are.
pub async fn list_pages<E: From<ApiError>>(
    client: &Client,
    kind: &ServedKind,
    namespace: Option<&str>,
    page_size: u32,
    label_selector: Option<&str>,
    mut on_page: impl FnMut(Vec<Value>) -> Result<(), E>,
) -> Result<usize, E> {
    let api = api_for(client, kind, namespace);
    let what = match namespace {
        Some(ns) if kind.info.namespaced => format!("{} in namespace {ns}", kind.describe()),
        _ => kind.describe(),
    };
    let mut delivered: HashSet<(String, String)> = HashSet::new();
    let mut token: Option<String> = None;
    let mut restarts = 0;
    loop {
        let mut params = ListParams::default().limit(page_size);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        if let Some(selector) = label_selector {
            params = params.labels(selector);
        }
        let page = match with_retry(&what, || api.list(&params)).await {
            Ok(page) => page,
            Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() => {
                restarts += 1;
                if restarts > 5 {
                    return Err(ApiError::ContinueExpired { what }.into());
                }
                tracing::warn!(list = %what, "continue token expired; listing again from the start");
                token = None;
                continue;
            }
            Err(kube::Error::Api(status)) if status.code == 403 => {
                return Err(ApiError::ListForbidden {
                    message: status.message,
                    resource: kind.qualified_resource(),
                }
                .into());
            }
            Err(source) => return Err(ApiError::List { what, source }.into()),
        };
        let mut items = Vec::with_capacity(page.items.len());
        for item in page.items {
            let key = (
                item.metadata.namespace.clone().unwrap_or_default(),
                item.metadata.name.clone().unwrap_or_default(),
            );
            if !delivered.insert(key) {
                continue;
            }
            let mut value = serde_json::to_value(item).map_err(|source| ApiError::Encode {
                what: what.clone(),
                source,
            })?;
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".into(), kind.api_version().into());
                map.insert("kind".into(), kind.info.kind.into());
            }
            items.push(value);
        }
        on_page(items)?;
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(delivered.len());
        }
    }
}
