//! Paginated LIST of one kind (limit + continue), with retries. Items come back with their
//! `apiVersion` and `kind` set (list responses leave them out). An expired continue token (410)
//! restarts the list; items already delivered are not delivered twice.

use std::collections::HashSet;

use anyhow::{Context, bail};
use kube::Client;
use serde_json::Value;

use super::discovery::ServedKind;
use super::retry::with_retry;

/// The URL path that lists `kind`, in `namespace` or across all namespaces.
pub fn list_path(kind: &ServedKind, namespace: Option<&str>) -> String {
    let root = if kind.info.group.is_empty() {
        format!("/api/{}", kind.version)
    } else {
        format!("/apis/{}/{}", kind.info.group, kind.version)
    };
    match namespace {
        Some(ns) if kind.info.namespaced => format!("{root}/namespaces/{ns}/{}", kind.info.plural),
        _ => format!("{root}/{}", kind.info.plural),
    }
}

/// Lists every object of `kind` page by page, handing each page to `on_page`. Returns how many
/// objects were delivered.
pub async fn list_pages(
    client: &Client,
    kind: &ServedKind,
    namespace: Option<&str>,
    page_size: usize,
    mut on_page: impl FnMut(Vec<Value>) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let path = list_path(kind, namespace);
    let api_version = kind.api_version();
    let mut delivered: HashSet<(String, String)> = HashSet::new();
    let mut token: Option<String> = None;
    let mut restarts = 0;
    loop {
        let mut url = format!("{path}?limit={page_size}");
        if let Some(t) = &token {
            url.push_str("&continue=");
            url.push_str(&urlencode(t));
        }
        let result = with_retry(&path, || {
            let request = http::Request::get(&url)
                .body(Vec::new())
                .expect("a valid request");
            client.request::<Value>(request)
        })
        .await;
        let page = match result {
            Ok(page) => page,
            Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() => {
                restarts += 1;
                if restarts > 5 {
                    bail!(
                        "listing {path}: the continue token kept expiring; the cluster changes faster than it can be listed"
                    );
                }
                tracing::warn!(path = %path, "continue token expired; listing again from the start");
                token = None;
                continue;
            }
            Err(kube::Error::Api(status)) if status.code == 403 => {
                bail!(
                    "permission denied: {} — routevault needs get and list on {} (see docs/deploy/snapshot/clusterrole.yaml)",
                    status.message,
                    qualified_resource(kind)
                );
            }
            Err(e) => return Err(e).with_context(|| format!("listing {path}")),
        };
        let mut items = Vec::new();
        if let Some(list) = page.get("items").and_then(Value::as_array) {
            for item in list {
                let mut item = item.clone();
                if let Some(map) = item.as_object_mut() {
                    map.insert("apiVersion".into(), Value::String(api_version.clone()));
                    map.insert("kind".into(), Value::String(kind.info.kind.to_string()));
                }
                let key = (
                    item.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    item.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
                if delivered.insert(key) {
                    items.push(item);
                }
            }
        }
        on_page(items)?;
        token = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(delivered.len());
        }
    }
}

/// `plural.group` (or just `plural` for the core group), as RBAC rules name resources.
pub fn qualified_resource(kind: &ServedKind) -> String {
    if kind.info.group.is_empty() {
        kind.info.plural.to_string()
    } else {
        format!("{}.{}", kind.info.plural, kind.info.group)
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn list_paths() {
        let ingress = ServedKind {
            info: catalog::lookup_user_name("Ingress").unwrap(),
            version: "v1".into(),
        };
        assert_eq!(
            list_path(&ingress, None),
            "/apis/networking.k8s.io/v1/ingresses"
        );
        assert_eq!(
            list_path(&ingress, Some("shop")),
            "/apis/networking.k8s.io/v1/namespaces/shop/ingresses"
        );
        let ns = ServedKind {
            info: catalog::lookup_user_name("Namespace").unwrap(),
            version: "v1".into(),
        };
        assert_eq!(list_path(&ns, Some("shop")), "/api/v1/namespaces");
        assert_eq!(qualified_resource(&ingress), "ingresses.networking.k8s.io");
        assert_eq!(urlencode("a b/+="), "a%20b%2F%2B%3D");
    }
}
