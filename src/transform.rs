//! Rewrites for cloning an environment: namespace map, hostname suffix rewrite, ingress-class
//! map, issuer map, and the subset filters (`--only`, `--namespace`). Pure functions, applied
//! to each object after unsealing and before applying or rendering.
//!
//! What each rewrite touches:
//! - namespace map: `metadata.namespace`, Namespace names, and references that cross
//!   namespaces (route `parentRefs` and `backendRefs`, ReferenceGrant `from`, Gateway listener
//!   `certificateRefs`);
//! - host rewrite (`FROM=TO`, a suffix, wildcard aware): Ingress rule and TLS hosts,
//!   Certificate `dnsNames` and `commonName`, Gateway listener hostnames, HTTPRoute and
//!   GRPCRoute hostnames;
//! - ingress-class map: Ingress `ingressClassName` and the legacy class annotation, and the
//!   IngressClass objects themselves, so references stay consistent;
//! - issuer map: Certificate `issuerRef.name`, the cert-manager Ingress annotations, and the
//!   Issuer/ClusterIssuer objects themselves.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::{self, CERT_MANAGER, CORE, GATEWAY, KindInfo, NETWORKING};
use crate::object::Object;

/// The rewrites and filters of one restore.
#[derive(Debug, Clone, Default)]
pub struct Transform {
    pub namespaces: BTreeMap<String, String>,
    /// (from, to) hostname suffixes, applied in order; the first that matches wins.
    pub hosts: Vec<(String, String)>,
    pub ingress_classes: BTreeMap<String, String>,
    pub issuers: BTreeMap<String, String>,
    /// Restore only these kinds (empty: all).
    pub only: Vec<&'static KindInfo>,
    /// Restore only objects of these (source) namespaces, plus the cluster-scoped objects and
    /// Namespaces they need (empty: all).
    pub only_namespaces: Vec<String>,
}

/// Parses one `FROM=TO` pair (both sides non-empty), as a command-line value parser.
pub fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
            Ok((from.trim().to_string(), to.trim().to_string()))
        }
        _ => Err(format!("{text:?} is not FROM=TO")),
    }
}

/// Parses an `--only` kind name (kind, plural or group/Kind, case-insensitive).
pub fn parse_kind(text: &str) -> Result<&'static KindInfo, String> {
    catalog::lookup_user_name(text.trim()).ok_or_else(|| {
        let known: Vec<&str> = catalog::KINDS.iter().map(|k| k.kind).collect();
        format!(
            "{text:?} is not a routing kind; known: {}",
            known.join(", ")
        )
    })
}

impl Transform {
    pub fn is_identity(&self) -> bool {
        self.namespaces.is_empty()
            && self.hosts.is_empty()
            && self.ingress_classes.is_empty()
            && self.issuers.is_empty()
    }

    /// Whether the object (with its source namespace) is in the restored subset.
    pub fn selects(&self, object: &Object) -> bool {
        let info = object.catalog_kind();
        if !self.only.is_empty()
            && !info.is_some_and(|i| {
                self.only
                    .iter()
                    .any(|o| o.kind == i.kind && o.group == i.group)
            })
        {
            return false;
        }
        if self.only_namespaces.is_empty() {
            return true;
        }
        match (object.group(), object.kind(), object.namespace()) {
            (CORE, "Namespace", _) => self.only_namespaces.iter().any(|n| n == object.name()),
            (_, _, Some(ns)) => self.only_namespaces.iter().any(|n| n == ns),
            (_, _, None) => true,
        }
    }

    /// Applies every rewrite to one object.
    pub fn apply(&self, object: &mut Object) {
        if self.is_identity() {
            return;
        }
        let group = object.group().to_string();
        let kind = object.kind().to_string();
        let value = &mut object.0;

        // Namespaces.
        if let Some(ns) = value.pointer("/metadata/namespace").and_then(Value::as_str)
            && let Some(to) = self.namespaces.get(ns)
        {
            value["metadata"]["namespace"] = Value::String(to.clone());
        }
        match (group.as_str(), kind.as_str()) {
            (CORE, "Namespace") => rename(value, &self.namespaces),
            (GATEWAY, "HTTPRoute" | "GRPCRoute") => {
                map_each(value, "/spec/parentRefs", "namespace", &self.namespaces);
                for rule in array_mut(value, "/spec/rules") {
                    map_each(rule, "/backendRefs", "namespace", &self.namespaces);
                }
                rewrite_list(value, "/spec/hostnames", &self.hosts);
            }
            (GATEWAY, "ReferenceGrant") => {
                map_each(value, "/spec/from", "namespace", &self.namespaces)
            }
            (GATEWAY, "Gateway") => {
                for listener in array_mut(value, "/spec/listeners") {
                    map_each(
                        listener,
                        "/tls/certificateRefs",
                        "namespace",
                        &self.namespaces,
                    );
                    if let Some(host) = listener.get("hostname").and_then(Value::as_str) {
                        listener["hostname"] = Value::String(rewrite_host(host, &self.hosts));
                    }
                }
            }
            (NETWORKING, "Ingress") => {
                for rule in array_mut(value, "/spec/rules") {
                    if let Some(host) = rule.get("host").and_then(Value::as_str) {
                        rule["host"] = Value::String(rewrite_host(host, &self.hosts));
                    }
                }
                for tls in array_mut(value, "/spec/tls") {
                    rewrite_list(tls, "/hosts", &self.hosts);
                }
                map_at(value, "/spec/ingressClassName", &self.ingress_classes);
                map_at(
                    value,
                    "/metadata/annotations/kubernetes.io~1ingress.class",
                    &self.ingress_classes,
                );
                map_at(
                    value,
                    "/metadata/annotations/cert-manager.io~1issuer",
                    &self.issuers,
                );
                map_at(
                    value,
                    "/metadata/annotations/cert-manager.io~1cluster-issuer",
                    &self.issuers,
                );
            }
            (NETWORKING, "IngressClass") => rename(value, &self.ingress_classes),
            (CERT_MANAGER, "Certificate") => {
                rewrite_list(value, "/spec/dnsNames", &self.hosts);
                if let Some(cn) = value.pointer("/spec/commonName").and_then(Value::as_str) {
                    value["spec"]["commonName"] = Value::String(rewrite_host(cn, &self.hosts));
                }
                map_at(value, "/spec/issuerRef/name", &self.issuers);
            }
            (CERT_MANAGER, "Issuer" | "ClusterIssuer") => rename(value, &self.issuers),
            _ => {}
        }
    }
}

/// Rewrites a hostname by the first matching suffix rule: `FROM` itself, or any name ending in
/// `.FROM` (wildcards included: `*.FROM` → `*.TO`). Case-insensitive, as DNS is.
pub fn rewrite_host(host: &str, rules: &[(String, String)]) -> String {
    let lower = host.to_ascii_lowercase();
    for (from, to) in rules {
        let from = from.to_ascii_lowercase();
        if lower == from {
            return to.clone();
        }
        if let Some(prefix) = lower.strip_suffix(&format!(".{from}")) {
            return format!("{prefix}.{to}");
        }
    }
    host.to_string()
}

fn rename(value: &mut Value, map: &BTreeMap<String, String>) {
    map_at(value, "/metadata/name", map);
}

fn map_at(value: &mut Value, pointer: &str, map: &BTreeMap<String, String>) {
    if let Some(slot) = value.pointer_mut(pointer)
        && let Some(to) = slot.as_str().and_then(|s| map.get(s))
    {
        *slot = Value::String(to.clone());
    }
}

fn map_each(value: &mut Value, pointer: &str, field: &str, map: &BTreeMap<String, String>) {
    for item in array_mut(value, pointer) {
        if let Some(to) = item
            .get(field)
            .and_then(Value::as_str)
            .and_then(|s| map.get(s))
        {
            item[field] = Value::String(to.clone());
        }
    }
}

fn rewrite_list(value: &mut Value, pointer: &str, rules: &[(String, String)]) {
    if rules.is_empty() {
        return;
    }
    for item in array_mut(value, pointer) {
        if let Some(host) = item.as_str() {
            *item = Value::String(rewrite_host(host, rules));
        }
    }
}

fn array_mut<'a>(value: &'a mut Value, pointer: &str) -> impl Iterator<Item = &'a mut Value> {
    value
        .pointer_mut(pointer)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn clone_transform() -> Transform {
        Transform {
            namespaces: [
                ("edge".into(), "stg-edge".into()),
                ("api".into(), "stg-api".into()),
            ]
            .into(),
            hosts: vec![("example.com".into(), "staging.example.net".into())],
            ingress_classes: [("nginx".into(), "nginx-internal".into())].into(),
            issuers: [("letsencrypt".into(), "letsencrypt-staging".into())].into(),
            ..Default::default()
        }
    }

    fn applied(value: Value) -> Value {
        let mut object = Object(value);
        clone_transform().apply(&mut object);
        object.0
    }

    #[test]
    fn hosts_rewrite_by_suffix_and_wildcard() {
        let rules = vec![("example.com".to_string(), "stg.example.net".to_string())];
        assert_eq!(rewrite_host("example.com", &rules), "stg.example.net");
        assert_eq!(
            rewrite_host("shop.example.com", &rules),
            "shop.stg.example.net"
        );
        assert_eq!(rewrite_host("*.Example.com", &rules), "*.stg.example.net");
        assert_eq!(rewrite_host("notexample.com", &rules), "notexample.com");
        assert_eq!(rewrite_host("example.com.evil", &rules), "example.com.evil");
    }

    #[test]
    fn ingress_hosts_class_and_issuer_annotations() {
        let out = applied(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "edge", "annotations": {
                "cert-manager.io/cluster-issuer": "letsencrypt", "kubernetes.io/ingress.class": "nginx"}},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["shop.example.com"], "secretName": "t"}],
                     "rules": [{"host": "shop.example.com"}, {"host": "other.org"}]}}),
        );
        assert_eq!(out["metadata"]["namespace"], "stg-edge");
        assert_eq!(out["spec"]["ingressClassName"], "nginx-internal");
        assert_eq!(
            out["metadata"]["annotations"]["kubernetes.io/ingress.class"],
            "nginx-internal"
        );
        assert_eq!(
            out["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
            "letsencrypt-staging"
        );
        assert_eq!(
            out["spec"]["tls"][0]["hosts"][0],
            "shop.staging.example.net"
        );
        assert_eq!(out["spec"]["rules"][0]["host"], "shop.staging.example.net");
        assert_eq!(out["spec"]["rules"][1]["host"], "other.org");
    }

    #[test]
    fn gateway_api_cross_namespace_references_follow_the_map() {
        let route = applied(
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "api"},
            "spec": {"parentRefs": [{"name": "public", "namespace": "edge"}, {"name": "other", "namespace": "elsewhere"}],
                     "hostnames": ["orders.example.com"],
                     "rules": [{"backendRefs": [{"name": "orders", "namespace": "api"}, {"name": "local"}]}]}}),
        );
        assert_eq!(route["metadata"]["namespace"], "stg-api");
        assert_eq!(route["spec"]["parentRefs"][0]["namespace"], "stg-edge");
        assert_eq!(route["spec"]["parentRefs"][1]["namespace"], "elsewhere");
        assert_eq!(
            route["spec"]["rules"][0]["backendRefs"][0]["namespace"],
            "stg-api"
        );
        assert!(
            route["spec"]["rules"][0]["backendRefs"][1]
                .get("namespace")
                .is_none()
        );
        assert_eq!(route["spec"]["hostnames"][0], "orders.staging.example.net");

        let grant = applied(
            json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": "g", "namespace": "certs"}, "spec": {"from": [{"kind": "Gateway", "namespace": "edge"}]}}),
        );
        assert_eq!(grant["spec"]["from"][0]["namespace"], "stg-edge");
        assert_eq!(grant["metadata"]["namespace"], "certs");

        let gateway = applied(
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "edge"},
            "spec": {"listeners": [{"hostname": "*.example.com", "tls": {"certificateRefs": [{"name": "c", "namespace": "api"}]}}]}}),
        );
        assert_eq!(
            gateway["spec"]["listeners"][0]["hostname"],
            "*.staging.example.net"
        );
        assert_eq!(
            gateway["spec"]["listeners"][0]["tls"]["certificateRefs"][0]["namespace"],
            "stg-api"
        );
    }

    #[test]
    fn certificates_issuers_namespaces_and_classes() {
        let cert = applied(
            json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c", "namespace": "edge"},
            "spec": {"commonName": "example.com", "dnsNames": ["example.com", "*.example.com"],
                     "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}}}),
        );
        assert_eq!(cert["spec"]["commonName"], "staging.example.net");
        assert_eq!(
            cert["spec"]["dnsNames"],
            json!(["staging.example.net", "*.staging.example.net"])
        );
        assert_eq!(cert["spec"]["issuerRef"]["name"], "letsencrypt-staging");
        let issuer = applied(
            json!({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "letsencrypt"}}),
        );
        assert_eq!(issuer["metadata"]["name"], "letsencrypt-staging");
        let ns =
            applied(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "edge"}}));
        assert_eq!(ns["metadata"]["name"], "stg-edge");
        let class = applied(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}),
        );
        assert_eq!(class["metadata"]["name"], "nginx-internal");
    }

    #[test]
    fn subsets_by_kind_and_namespace() {
        let t = Transform {
            only: vec![
                parse_kind("ingresses").unwrap(),
                parse_kind("Service").unwrap(),
            ],
            ..Default::default()
        };
        let ing = Object(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "a", "namespace": "x"}}),
        );
        let secret = Object(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "x"}}),
        );
        assert!(t.selects(&ing) && !t.selects(&secret));
        assert!(parse_kind("Deployment").unwrap_err().contains("Deployment"));
        let t = Transform {
            only_namespaces: vec!["x".into()],
            ..Default::default()
        };
        let other = Object(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "y"}}),
        );
        let class = Object(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "n"}}),
        );
        let ns =
            Object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}));
        assert!(t.selects(&ing) && !t.selects(&other) && t.selects(&class) && t.selects(&ns));
        assert_eq!(parse_pair("a=b").unwrap(), ("a".into(), "b".into()));
        assert!(parse_pair("a").is_err() && parse_pair("=b").is_err() && parse_pair("a=").is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeSet;

        const NAMESPACES: &[&str] = &["edge", "api", "other", "stg-edge"];
        const HOSTS: &[&str] = &[
            "example.com",
            "shop.example.com",
            "*.example.com",
            "EXAMPLE.com",
            "example.org",
            "notexample.com",
            "example.com.evil",
            "a.staging.example.net",
        ];
        const KINDS: &[(&str, &str)] = &[
            ("v1", "Namespace"),
            ("v1", "Service"),
            ("networking.k8s.io/v1", "Ingress"),
            ("networking.k8s.io/v1", "IngressClass"),
            ("cert-manager.io/v1", "Certificate"),
            ("cert-manager.io/v1", "ClusterIssuer"),
            ("gateway.networking.k8s.io/v1", "Gateway"),
            ("gateway.networking.k8s.io/v1", "HTTPRoute"),
            ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
        ];

        /// The paths (array indices as `*`) each kind's rewrites may change.
        fn allowed(kind: &str, path: &str) -> bool {
            let own: &[&str] = match kind {
                "Namespace" | "IngressClass" | "ClusterIssuer" => &["/metadata/name"],
                "Ingress" => &[
                    "/spec/rules/*/host",
                    "/spec/tls/*/hosts/*",
                    "/spec/ingressClassName",
                    "/metadata/annotations/kubernetes.io~1ingress.class",
                    "/metadata/annotations/cert-manager.io~1issuer",
                    "/metadata/annotations/cert-manager.io~1cluster-issuer",
                ],
                "Certificate" => &[
                    "/spec/dnsNames/*",
                    "/spec/commonName",
                    "/spec/issuerRef/name",
                ],
                "Gateway" => &[
                    "/spec/listeners/*/hostname",
                    "/spec/listeners/*/tls/certificateRefs/*/namespace",
                ],
                "HTTPRoute" => &[
                    "/spec/parentRefs/*/namespace",
                    "/spec/rules/*/backendRefs/*/namespace",
                    "/spec/hostnames/*",
                ],
                "ReferenceGrant" => &["/spec/from/*/namespace"],
                _ => &[],
            };
            path == "/metadata/namespace" || own.contains(&path)
        }

        /// Leaf paths whose values differ, with both values.
        fn changes(a: &Value, b: &Value, path: &str, out: &mut Vec<(String, Value, Value)>) {
            match (a, b) {
                (Value::Object(x), Value::Object(y)) => {
                    for key in x.keys().chain(y.keys()) {
                        let escaped = key.replace('~', "~0").replace('/', "~1");
                        changes(
                            x.get(key).unwrap_or(&Value::Null),
                            y.get(key).unwrap_or(&Value::Null),
                            &format!("{path}/{escaped}"),
                            out,
                        );
                    }
                }
                (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                    for (i, j) in x.iter().zip(y) {
                        changes(i, j, &format!("{path}/*"), out);
                    }
                }
                (x, y) if x != y => out.push((path.to_string(), x.clone(), y.clone())),
                _ => {}
            }
        }

        fn pick(values: &'static [&'static str]) -> impl Strategy<Value = String> {
            proptest::sample::select(values).prop_map(str::to_string)
        }

        prop_compose! {
            /// An object of a routing kind whose every reference field, and unrelated fields
            /// named like them, hold namespaces and hostnames from small pools.
            fn routing_object()(
                kind in proptest::sample::select(KINDS),
                names in proptest::collection::vec(pick(NAMESPACES), 4),
                hosts in proptest::collection::vec(pick(HOSTS), 3),
                class in pick(&["nginx", "traefik"]),
                issuer in pick(&["letsencrypt", "internal-ca"]),
                noise in "[a-z]{1,8}",
            ) -> Object {
                let (api_version, kind) = kind;
                let namespaced = !matches!(kind, "Namespace" | "IngressClass" | "ClusterIssuer");
                let mut metadata = json!({
                    "name": if namespaced { noise.clone() } else { names[0].clone() },
                    "labels": {"namespace": names[1], "host": hosts[0].replace('*', "w")},
                    "annotations": {
                        "kubernetes.io/ingress.class": class,
                        "cert-manager.io/cluster-issuer": issuer,
                        "example.com/namespace": names[2],
                    },
                });
                if namespaced {
                    metadata["namespace"] = json!(names[0]);
                }
                let spec = json!({
                    "ingressClassName": class,
                    "commonName": hosts[0],
                    "dnsNames": hosts,
                    "hostnames": hosts,
                    "issuerRef": {"name": issuer, "kind": "ClusterIssuer"},
                    "rules": [{"host": hosts[1], "backendRefs": [{"name": "b", "namespace": names[1]}]}],
                    "tls": [{"hosts": [hosts[2]], "secretName": "t"}],
                    "parentRefs": [{"name": "p", "namespace": names[2]}],
                    "from": [{"kind": "Gateway", "namespace": names[3]}],
                    "listeners": [{"hostname": hosts[2], "tls": {"certificateRefs": [{"name": "c", "namespace": names[3]}]}}],
                    "unrelated": {"namespace": names[1], "host": hosts[1], "name": issuer},
                });
                Object(json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}))
            }
        }

        fn transform(namespaces: &[(&str, &str)], hosts: &[(&str, &str)]) -> Transform {
            Transform {
                namespaces: namespaces
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                hosts: hosts
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                ingress_classes: [("nginx".into(), "nginx-internal".into())].into(),
                issuers: [("letsencrypt".into(), "letsencrypt-staging".into())].into(),
                ..Default::default()
            }
        }

        proptest! {
            /// Every rewrite changes only the fields its kind names, and each changed value is
            /// the map's (or the host rule's) image of the old one.
            #[test]
            fn rewrites_touch_only_their_fields(object in routing_object()) {
                let t = transform(&[("edge", "stg-edge"), ("api", "stg-api")], &[("example.com", "staging.example.net")]);
                let mut out = object.clone();
                t.apply(&mut out);
                let mut changed = Vec::new();
                changes(&object.0, &out.0, "", &mut changed);
                for (path, old, new) in changed {
                    prop_assert!(allowed(object.kind(), &path), "{} changed {path}", object.kind());
                    let old = old.as_str().unwrap();
                    let new = new.as_str().unwrap();
                    let image = [&t.namespaces, &t.ingress_classes, &t.issuers]
                        .iter()
                        .any(|map| map.get(old).is_some_and(|to| to == new))
                        || rewrite_host(old, &t.hosts) == new;
                    prop_assert!(image, "{path}: {old} -> {new}");
                }
            }

            /// The namespace map is total: every namespace field of a namespaced object that
            /// names a mapped namespace is rewritten, and none is left pointing at the source.
            #[test]
            fn the_namespace_map_is_total(object in routing_object()) {
                let t = transform(&[("edge", "stg-edge"), ("api", "stg-api")], &[]);
                let mut out = object.clone();
                t.apply(&mut out);
                let mut changed = Vec::new();
                changes(&object.0, &out.0, "", &mut changed);
                let rewritten: BTreeSet<String> = changed.into_iter().map(|c| c.0).collect();
                let mut must = vec!["/metadata/namespace"];
                match object.kind() {
                    "HTTPRoute" => must.extend(["/spec/parentRefs/*/namespace", "/spec/rules/*/backendRefs/*/namespace"]),
                    "ReferenceGrant" => must.push("/spec/from/*/namespace"),
                    "Gateway" => must.push("/spec/listeners/*/tls/certificateRefs/*/namespace"),
                    "Namespace" => must.push("/metadata/name"),
                    _ => {}
                }
                for path in must {
                    let pointer = path.replace('*', "0");
                    let before = object.0.pointer(&pointer).and_then(Value::as_str);
                    if let Some(source) = before.filter(|ns| t.namespaces.contains_key(*ns)) {
                        prop_assert!(rewritten.contains(path), "{path} kept {source}");
                        prop_assert_eq!(out.0.pointer(&pointer).and_then(Value::as_str), t.namespaces.get(source).map(String::as_str));
                    }
                }
            }

            /// Rewrites whose targets are not themselves sources are idempotent: restoring a
            /// clone's objects through the same map again changes nothing.
            #[test]
            fn disjoint_rewrites_are_idempotent(object in routing_object()) {
                let t = transform(&[("edge", "stg-edge"), ("api", "stg-api")], &[("example.com", "staging.example.net")]);
                let mut once = object.clone();
                t.apply(&mut once);
                let mut twice = once.clone();
                t.apply(&mut twice);
                prop_assert_eq!(once.0, twice.0);
            }

            /// Host rewriting is total and exact: a name is rewritten iff it is FROM or ends in
            /// `.FROM` (case-insensitively), and then it ends in TO with its prefix kept.
            #[test]
            fn host_rewrite_is_a_suffix_map(
                prefix in "(\\*\\.|[a-z]{1,5}\\.){0,2}",
                base in pick(&["example.com", "Example.COM", "example.org", "xexample.com"]),
            ) {
                let rules = vec![("example.com".to_string(), "stg.example.net".to_string())];
                let host = format!("{prefix}{base}");
                let out = rewrite_host(&host, &rules);
                let matches = base.eq_ignore_ascii_case("example.com");
                if matches {
                    prop_assert_eq!(out, format!("{}stg.example.net", prefix.to_ascii_lowercase()));
                } else {
                    prop_assert_eq!(out, host);
                }
            }
        }
    }
}
