//! An artifact is data: every object it holds is checked against the routing catalog before
//! anything is written or applied, even when its signature is valid (a stolen or insider key
//! must not get code execution, files outside the target, system objects or non-routing kinds
//! through an artifact). Pure; the reader applies it to every entry of the manifest and to
//! every object member, so `verify` refuses exactly what `restore` would. The snapshot side
//! applies the same object rules before it writes, so a fresh snapshot always passes.

use serde_json::Value;

use super::format::Entry;
use crate::catalog::{self, CORE};
use crate::object::{Object, is_valid_name, is_valid_namespace};

/// Why an entry (identity only) is refused, or None.
pub fn entry_problem(entry: &Entry, include_system: bool) -> Option<String> {
    let (group, version) = catalog::split_api_version(&entry.api_version);
    let Some(info) = catalog::lookup_group_kind(group, &entry.kind) else {
        return Some(format!(
            "{:?} {:?} is not a routing kind this routevault restores",
            entry.api_version, entry.kind
        ));
    };
    if !is_api_version_shape(version) {
        return Some(format!(
            "apiVersion {:?} has no valid version (v1, v1beta1, ...)",
            entry.api_version
        ));
    }
    if !is_valid_name(&entry.name) {
        return Some(format!("name {:?} is not a valid object name", entry.name));
    }
    match (&entry.namespace, info.namespaced) {
        (Some(ns), true) if is_valid_namespace(ns) => {}
        (Some(ns), true) => return Some(format!("namespace {ns:?} is not a valid namespace")),
        (None, true) => return Some(format!("{} is namespaced but has no namespace", entry.kind)),
        (Some(_), false) => {
            return Some(format!(
                "{} is cluster-scoped but has a namespace",
                entry.kind
            ));
        }
        (None, false) => {}
    }
    if !include_system
        && catalog::is_system_object(group, &entry.kind, entry.namespace.as_deref(), &entry.name)
    {
        return Some(
            "a system object (kube-system, kube-public, kube-node-lease, default/kubernetes), \
             and the snapshot was not made with --include-system"
                .into(),
        );
    }
    None
}

/// Why an object's content is refused, or None. Its identity has been matched to its entry.
pub fn object_problem(object: &Object) -> Option<String> {
    match (object.group(), object.kind()) {
        (CORE, "Secret") => secret_problem(object),
        (CORE, "ConfigMap") => config_map_problem(object),
        _ => None,
    }
}

/// The one key a CA bundle ConfigMap holds for routing (Gateway API `caCertificateRefs`).
pub const CA_BUNDLE_KEY: &str = "ca.crt";

/// ConfigMaps: a CA bundle only — `data` with the single key `ca.crt`, a string, and no
/// `binaryData` — so that even a signed artifact cannot plant or overwrite configuration.
pub fn config_map_problem(config_map: &Object) -> Option<String> {
    if config_map.0.get("binaryData").is_some_and(|v| !v.is_null()) {
        return Some("a ConfigMap with binaryData is not a CA bundle".into());
    }
    match config_map.0.get("data") {
        Some(Value::Object(map)) => {
            if let Some(key) = map.keys().find(|k| *k != CA_BUNDLE_KEY) {
                return Some(format!(
                    "ConfigMap key {:?} is not routing data (a CA bundle holds only {CA_BUNDLE_KEY:?})",
                    crate::output::escape(key)
                ));
            }
            if map.values().any(|v| !v.is_string()) {
                return Some(format!("{CA_BUNDLE_KEY} is not a string"));
            }
            None
        }
        None | Some(Value::Null) => None,
        Some(_) => Some("data is not a map of strings".into()),
    }
}

/// Secrets: a routing type only (never a service-account token or registry credentials),
/// and data that is a map of strings.
pub fn secret_problem(secret: &Object) -> Option<String> {
    let kind = secret.0.get("type").map_or(Some("Opaque"), Value::as_str);
    match kind {
        Some(t) if catalog::ROUTING_SECRET_TYPES.contains(&t) => {}
        Some(t) => {
            return Some(format!(
                "Secret type {t:?} is not routing data (allowed: {})",
                catalog::ROUTING_SECRET_TYPES.join(", ")
            ));
        }
        None => return Some("Secret type is not a string".into()),
    }
    for field in ["data", "stringData"] {
        match secret.0.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                if let Some((key, _)) = map.iter().find(|(_, v)| !v.is_string()) {
                    return Some(format!(
                        "{field} key {:?} is not a string (a list, number or map cannot be \
                         Secret data); fix the manifest",
                        crate::output::escape(key)
                    ));
                }
            }
            Some(_) => return Some(format!("{field} is not a map of strings; fix the manifest")),
        }
    }
    None
}

/// `v1`, `v2`, `v1beta1`, `v1alpha2`: Kubernetes' version shape.
fn is_api_version_shape(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || rest.starts_with('0') {
        return false;
    }
    let tail = &rest[digits..];
    if tail.is_empty() {
        return true;
    }
    let Some(number) = tail
        .strip_prefix("alpha")
        .or_else(|| tail.strip_prefix("beta"))
    else {
        return false;
    };
    !number.is_empty() && !number.starts_with('0') && number.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Entry {
        Entry {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(Into::into),
            name: name.into(),
            path: "objects/000001.yaml".into(),
            size: 0,
            sha256: String::new(),
            sealed: false,
            value_digests: Default::default(),
        }
    }

    #[test]
    fn only_catalog_kinds_with_valid_identity_pass() {
        let ok = [
            entry("v1", "Namespace", None, "shop"),
            entry("networking.k8s.io/v1", "Ingress", Some("shop"), "web"),
            entry(
                "gateway.networking.k8s.io/v1beta1",
                "HTTPRoute",
                Some("shop"),
                "r",
            ),
            entry(
                "gateway.networking.k8s.io/v1alpha2",
                "GRPCRoute",
                Some("shop"),
                "g",
            ),
        ];
        for e in &ok {
            assert_eq!(entry_problem(e, false), None, "{e:?}");
        }
        let refused = [
            entry("v1", "x/../../../../outside", Some("shop"), "a"),
            entry(
                "rbac.authorization.k8s.io/v1",
                "ClusterRoleBinding",
                None,
                "pwn",
            ),
            entry("v1", "Pod", Some("shop"), "p"),
            entry("networking.k8s.io/../../x", "Ingress", Some("shop"), "web"),
            entry("networking.k8s.io/v01", "Ingress", Some("shop"), "web"),
            entry("networking.k8s.io/v1gamma1", "Ingress", Some("shop"), "web"),
            entry("networking.k8s.io/v1", "Ingress", None, "web"),
            entry("v1", "Namespace", Some("shop"), "shop"),
            entry("v1", "Service", Some("Shop"), "web"),
            entry("v1", "Service", Some("shop"), "../web"),
            entry(
                "discovery.k8s.io/v1",
                "EndpointSlice",
                Some("kube-system"),
                "kube-dns",
            ),
            entry("v1", "Namespace", None, "kube-system"),
            entry("v1", "Service", Some("default"), "kubernetes"),
        ];
        for e in &refused {
            assert!(entry_problem(e, false).is_some(), "accepted {e:?}");
        }
        // System objects pass only for a snapshot made with --include-system.
        let dns = entry(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            Some("kube-system"),
            "kube-dns",
        );
        assert_eq!(entry_problem(&dns, true), None);
    }

    #[test]
    fn config_maps_are_ca_bundles_only() {
        let cm = |body: Value| {
            let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "ca", "namespace": "shop"}});
            o.as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            Object(o)
        };
        assert_eq!(
            object_problem(&cm(json!({"data": {"ca.crt": "PEM"}}))),
            None
        );
        assert_eq!(object_problem(&cm(json!({}))), None);
        for bad in [
            json!({"data": {"ca.crt": "PEM", "nginx.conf": "x"}}),
            json!({"data": {"ca.crt": 1}}),
            json!({"binaryData": {"ca.crt": "AA=="}}),
            json!({"data": ["ca.crt"]}),
        ] {
            assert!(object_problem(&cm(bad.clone())).is_some(), "{bad}");
        }
    }

    #[test]
    fn secrets_must_be_routing_types_with_string_data() {
        let secret = |body: Value| Object(body);
        let base = |extra: Value| {
            let mut v = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t", "namespace": "s"}});
            for (k, val) in extra.as_object().unwrap() {
                v[k] = val.clone();
            }
            secret(v)
        };
        assert_eq!(
            object_problem(&base(
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}})
            )),
            None
        );
        assert_eq!(object_problem(&base(json!({"data": {"a": "eA=="}}))), None);
        for bad in [
            json!({"type": "kubernetes.io/service-account-token"}),
            json!({"type": "kubernetes.io/dockerconfigjson"}),
            json!({"type": 7}),
            json!({"data": {"tls.key": ["a", "b"]}}),
            json!({"data": {"tls.key": 12}}),
            json!({"data": "eA=="}),
            json!({"stringData": {"x": {"y": 1}}}),
        ] {
            assert!(
                object_problem(&base(bad.clone())).is_some(),
                "accepted {bad}"
            );
        }
    }
}
