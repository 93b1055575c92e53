//! Rewrites for cloning an environment: namespace map, hostname suffix rewrite, ingress-class
//! map, issuer map, and the subset filters (`--only`, `--namespace`). Pure functions, applied
//! to each object after unsealing and before applying or rendering.
//!
//! What each rewrite touches:
//! - namespace map: `metadata.namespace`, Namespace names, and references that cross
//!   namespaces: route `parentRefs`, `backendRefs` and mirror backends, ReferenceGrant `from`,
//!   Gateway and ListenerSet listener `certificateRefs`, a ListenerSet's `parentRef`, a
//!   Gateway's backend client certificate, Gateway namespace selectors on
//!   `kubernetes.io/metadata.name` (`allowedRoutes`, `allowedListeners`), ingress-nginx
//!   `namespace/name` Secret annotations, and ACME HTTP-01 `gatewayHTTPRoute.parentRefs`;
//!   a cloned Service's node ports and cluster IP are released (`keep_node_ports` keeps them);
//! - host rewrite (`FROM=TO`, a suffix, wildcard aware): Ingress rule and TLS hosts,
//!   Certificate `dnsNames` and `commonName`, Gateway and ListenerSet listener hostnames,
//!   route hostnames and HTTPRoute `urlRewrite.hostname`;
//! - ingress-class map: Ingress `ingressClassName` and the legacy class annotation, and the
//!   IngressClass objects themselves, so references stay consistent;
//! - issuer map: Certificate `issuerRef.name`, the cert-manager Ingress and Gateway
//!   annotations, and the Issuer/ClusterIssuer objects themselves.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::{self, CERT_MANAGER, CORE, GATEWAY, KindInfo, NETWORKING};
use crate::json_pointer::Pointer;
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
    /// Keep a cloned Service's node ports and cluster IP (by default a clone under a namespace
    /// map releases them, since its source usually holds them on the same cluster).
    pub keep_node_ports: bool,
}

/// What `Transform::keep` needs to know of an object: who it is, the cluster-scoped objects
/// it references and, for a cluster-scoped object, the Secrets it references.
#[derive(Debug, Clone)]
pub struct Sketch {
    kind: String,
    namespace: Option<String>,
    name: String,
    cluster_scoped: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
}

impl Sketch {
    pub fn of(object: &Object) -> Self {
        let references = crate::select::References::of(std::slice::from_ref(object));
        let namespace = object.namespace().map(str::to_string);
        let secrets = if namespace.is_none() {
            references.secrets.into_keys().collect()
        } else {
            Vec::new()
        };
        Self {
            kind: object.kind().to_string(),
            name: object.name().to_string(),
            namespace,
            cluster_scoped: references.cluster_scoped.into_iter().collect(),
            secrets,
        }
    }
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
            // cert-manager's namespace may hold a needed ClusterIssuer's Secrets: `narrow`
            // decides.
            (CORE, "Namespace", _) => {
                self.only_namespaces.iter().any(|n| n == object.name())
                    || object.name() == catalog::CLUSTER_RESOURCE_NAMESPACE
            }
            (CORE, "Secret", Some(catalog::CLUSTER_RESOURCE_NAMESPACE)) => true,
            (_, _, Some(ns)) => self.only_namespaces.iter().any(|n| n == ns),
            (_, _, None) => true,
        }
    }

    /// With `--namespace`, keeps of what `selects` let through only what the selected
    /// namespaces need: their objects and Namespaces, the cluster-scoped objects they reference
    /// (classes, cluster issuers), and those cluster issuers' Secrets with their Namespace.
    /// Readers narrow with [`Self::keep`] on sketches instead, so as not to hold the objects.
    #[cfg(test)]
    pub fn narrow(&self, objects: Vec<Object>) -> Vec<Object> {
        if !self.narrows() {
            return objects;
        }
        let sketches: Vec<Sketch> = objects.iter().map(Sketch::of).collect();
        let keep = self.keep(&sketches);
        objects
            .into_iter()
            .zip(keep)
            .filter_map(|(object, keep)| keep.then_some(object))
            .collect()
    }

    /// Whether `narrow` drops anything (`--namespace` was given).
    pub fn narrows(&self) -> bool {
        !self.only_namespaces.is_empty()
    }

    /// `narrow`'s decision for each sketched object (what `selects` let through), so that a
    /// restore can narrow without holding the objects.
    pub fn keep(&self, sketches: &[Sketch]) -> Vec<bool> {
        let selected = |ns: &str| self.only_namespaces.iter().any(|n| n == ns);
        let in_scope = |o: &Sketch| {
            o.namespace.as_deref().is_some_and(selected)
                || (o.kind == "Namespace" && selected(&o.name))
        };
        let needed: std::collections::BTreeSet<&(String, String)> = sketches
            .iter()
            .filter(|o| in_scope(o))
            .flat_map(|o| &o.cluster_scoped)
            .collect();
        let is_needed_cluster_object = |o: &Sketch| {
            o.namespace.is_none()
                && o.kind != "Namespace"
                && needed.contains(&(o.kind.clone(), o.name.clone()))
        };
        let issuer_secrets: std::collections::BTreeSet<&(String, String)> = sketches
            .iter()
            .filter(|o| is_needed_cluster_object(o))
            .flat_map(|o| &o.secrets)
            .collect();
        sketches
            .iter()
            .map(|o| {
                in_scope(o)
                    || is_needed_cluster_object(o)
                    || (o.kind == "Secret"
                        && issuer_secrets
                            .contains(&(o.namespace.clone().unwrap_or_default(), o.name.clone())))
                    || (o.kind == "Namespace" && issuer_secrets.iter().any(|(ns, _)| *ns == o.name))
            })
            .collect()
    }

    /// Applies every rewrite to one object. Returns a note when the rewrite dropped something
    /// the report should mention (node ports released for a clone).
    pub fn apply(&self, object: &mut Object) -> Option<String> {
        if self.is_identity() {
            return None;
        }
        let group = object.group().to_string();
        let kind = object.kind().to_string();
        let value = &mut object.0;

        // Namespaces.
        if let Some(ns) = value.at("/metadata/namespace").and_then(Value::as_str)
            && let Some(to) = self.namespaces.get(ns)
        {
            value["metadata"]["namespace"] = Value::String(to.clone());
        }
        match (group.as_str(), kind.as_str()) {
            (CORE, "Namespace") => rename(value, &self.namespaces),
            (CORE, "Service") => {
                // Named as it lands, in its new namespace.
                let what = format!(
                    "Service {}/{}",
                    value["metadata"]["namespace"].as_str().unwrap_or(""),
                    value["metadata"]["name"].as_str().unwrap_or("")
                );
                return self.release_allocations(value, &what);
            }
            (GATEWAY, "HTTPRoute" | "GRPCRoute" | "TLSRoute" | "TCPRoute" | "UDPRoute") => {
                self.route(value)
            }
            (GATEWAY, "ReferenceGrant") => {
                map_each(value, "/spec/from", "namespace", &self.namespaces)
            }
            (GATEWAY, "Gateway") => self.gateway(value),
            (GATEWAY, "ListenerSet") => {
                map_at(value, "/spec/parentRef/namespace", &self.namespaces);
                self.listeners(value);
            }
            (NETWORKING, "Ingress") => self.ingress(value),
            (NETWORKING, "IngressClass") => rename(value, &self.ingress_classes),
            (CERT_MANAGER, "Certificate") => {
                rewrite_list(value, "/spec/dnsNames", &self.hosts);
                if let Some(cn) = value.at("/spec/commonName").and_then(Value::as_str) {
                    value["spec"]["commonName"] = Value::String(rewrite_host(cn, &self.hosts));
                }
                map_at(value, "/spec/issuerRef/name", &self.issuers);
            }
            (CERT_MANAGER, "Issuer" | "ClusterIssuer") => {
                // A ClusterIssuer is shared by every namespace: only its renamed copy (the
                // clone's own) may point at the clone; rewriting the shared one would move
                // the source's HTTP-01 solver onto the clone's Gateway.
                let cloned = kind == "Issuer"
                    || value
                        .at("/metadata/name")
                        .and_then(Value::as_str)
                        .is_some_and(|name| self.issuers.contains_key(name));
                rename(value, &self.issuers);
                // HTTP-01 through a Gateway: the solver's route attaches to these parents.
                for solver in array_mut(value, "/spec/acme/solvers").filter(|_| cloned) {
                    map_each(
                        solver,
                        "/http01/gatewayHTTPRoute/parentRefs",
                        "namespace",
                        &self.namespaces,
                    );
                }
            }
            _ => {}
        }
        None
    }

    /// Routes: parent and backend namespaces (mirrors included), hostnames, and the hostname
    /// an HTTPRoute rewrites requests to.
    fn route(&self, value: &mut Value) {
        map_each(value, "/spec/parentRefs", "namespace", &self.namespaces);
        for rule in array_mut(value, "/spec/rules") {
            map_each(rule, "/backendRefs", "namespace", &self.namespaces);
            for filter in array_mut(rule, "/filters") {
                self.route_filter(filter);
            }
            for backend in array_mut(rule, "/backendRefs") {
                for filter in array_mut(backend, "/filters") {
                    self.route_filter(filter);
                }
            }
        }
        rewrite_list(value, "/spec/hostnames", &self.hosts);
    }

    fn route_filter(&self, filter: &mut Value) {
        map_at(
            filter,
            "/requestMirror/backendRef/namespace",
            &self.namespaces,
        );
        if let Some(host) = filter.at("/urlRewrite/hostname").and_then(Value::as_str) {
            filter["urlRewrite"]["hostname"] = Value::String(rewrite_host(host, &self.hosts));
        }
    }

    /// Gateways: listeners, the backend client certificate, the issuer annotations, and the
    /// namespace selectors that name namespaces by `kubernetes.io/metadata.name` (a clone's
    /// Gateway must admit the clone's namespaces, not the source's).
    fn gateway(&self, value: &mut Value) {
        self.listeners(value);
        map_at(
            value,
            "/spec/tls/backend/clientCertificateRef/namespace",
            &self.namespaces,
        );
        for key in ["cert-manager.io~1issuer", "cert-manager.io~1cluster-issuer"] {
            map_at(
                value,
                &format!("/metadata/annotations/{key}"),
                &self.issuers,
            );
        }
        let mut selectors: Vec<&mut Value> = Vec::new();
        if let Some(listeners) = value
            .pointer_mut("/spec/listeners")
            .and_then(Value::as_array_mut)
        {
            for listener in listeners {
                selectors.extend(listener.pointer_mut("/allowedRoutes/namespaces/selector"));
            }
        }
        for selector in selectors {
            self.namespace_selector(selector);
        }
        if let Some(selector) = value.pointer_mut("/spec/allowedListeners/namespaces/selector") {
            self.namespace_selector(selector);
        }
    }

    fn namespace_selector(&self, selector: &mut Value) {
        map_at(
            selector,
            "/matchLabels/kubernetes.io~1metadata.name",
            &self.namespaces,
        );
        for expression in array_mut(selector, "/matchExpressions") {
            if expression["key"] == NAMESPACE_NAME_LABEL {
                for item in array_mut(expression, "/values") {
                    if let Some(to) = item.as_str().and_then(|ns| self.namespaces.get(ns)) {
                        *item = Value::String(to.clone());
                    }
                }
            }
        }
    }

    /// Listener hostnames and certificate namespaces (Gateways and ListenerSets).
    fn listeners(&self, value: &mut Value) {
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

    fn ingress(&self, value: &mut Value) {
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
        for key in ["cert-manager.io~1issuer", "cert-manager.io~1cluster-issuer"] {
            map_at(
                value,
                &format!("/metadata/annotations/{key}"),
                &self.issuers,
            );
        }
        // ingress-nginx annotations that name a Secret as `namespace/name`.
        for key in NAMESPACED_SECRET_ANNOTATIONS {
            let pointer = format!("/metadata/annotations/{}", key.replace('/', "~1"));
            if let Some(slot) = value.pointer_mut(&pointer)
                && let Some((ns, name)) = slot.as_str().and_then(|s| s.split_once('/'))
                && let Some(to) = self.namespaces.get(ns)
            {
                *slot = Value::String(format!("{to}/{name}"));
            }
        }
    }

    /// A clone under a namespace map usually lands beside its source, where the source's node
    /// ports and cluster IP are taken (the API server refuses the Service with 422): release
    /// them so the target allocates its own, unless `--keep-node-ports`.
    fn release_allocations(&self, value: &mut Value, what: &str) -> Option<String> {
        if self.namespaces.is_empty() || self.keep_node_ports {
            return None;
        }
        let spec = value.get_mut("spec").and_then(Value::as_object_mut)?;
        let mut released = Vec::new();
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(node_port) = port.as_object_mut().and_then(|p| p.remove("nodePort")) {
                released.push(format!("nodePort {node_port}"));
            }
        }
        if let Some(port) = spec.remove("healthCheckNodePort") {
            released.push(format!("healthCheckNodePort {port}"));
        }
        let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
        if !headless && let Some(ip) = spec.remove("clusterIP") {
            spec.remove("clusterIPs");
            released.push(format!("clusterIP {ip}"));
        }
        (!released.is_empty()).then(|| {
            format!(
                "{what}: released {} for the clone (--keep-node-ports keeps them)",
                released.join(", ")
            )
        })
    }
}

/// The label the API server puts on every Namespace with its name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// ingress-nginx annotations whose value is a Secret as `namespace/name`.
pub const NAMESPACED_SECRET_ANNOTATIONS: &[&str] = &[
    "nginx.ingress.kubernetes.io/auth-secret",
    "nginx.ingress.kubernetes.io/auth-tls-secret",
    "nginx.ingress.kubernetes.io/proxy-ssl-secret",
];

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
    fn a_clone_releases_node_ports_and_cluster_ip_unless_kept() {
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "edge", "namespace": "edge"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.40", "healthCheckNodePort": 32000,
                     "ports": [{"port": 443, "nodePort": 30443}, {"port": 80}]}});
        let mut object = Object(service.clone());
        let note = clone_transform().apply(&mut object).unwrap();
        assert_eq!(
            object.0["spec"],
            json!({"type": "LoadBalancer", "ports": [{"port": 443}, {"port": 80}]})
        );
        assert_eq!(object.namespace(), Some("stg-edge"));
        assert!(
            note.contains("Service stg-edge/edge") && note.contains("nodePort 30443"),
            "{note}"
        );
        assert!(
            note.contains("clusterIP \"10.96.0.40\"") && note.contains("--keep-node-ports"),
            "{note}"
        );
        let keep = Transform {
            keep_node_ports: true,
            ..clone_transform()
        };
        let mut kept = Object(service.clone());
        assert_eq!(keep.apply(&mut kept), None);
        assert_eq!(kept.0["spec"], service["spec"]);
        // Not a clone (no namespace map): a DR restore keeps what the snapshot holds.
        let dr = Transform {
            namespaces: BTreeMap::new(),
            ..clone_transform()
        };
        let mut same = Object(service.clone());
        assert_eq!(dr.apply(&mut same), None);
        assert_eq!(same.0["spec"], service["spec"]);
    }

    #[test]
    fn a_shared_cluster_issuer_keeps_its_solver_parents_and_its_renamed_copy_follows_the_clone() {
        let issuer = |name: &str| {
            json!({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": name},
                "spec": {"acme": {"solvers": [{"http01": {"gatewayHTTPRoute": {"parentRefs": [
                    {"name": "public", "namespace": "edge", "kind": "Gateway"}]}}}]}}})
        };
        let shared = applied(issuer("internal-ca"));
        assert_eq!(shared, issuer("internal-ca"));
        let copy = applied(issuer("letsencrypt"));
        assert_eq!(copy["metadata"]["name"], "letsencrypt-staging");
        assert_eq!(
            copy["spec"]["acme"]["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"][0]["namespace"],
            "stg-edge"
        );
    }

    #[test]
    fn namespaced_secret_annotations_follow_the_namespace_map() {
        let out = applied(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "mtls", "namespace": "edge", "annotations": {
                "nginx.ingress.kubernetes.io/auth-tls-secret": "edge/client-ca",
                "nginx.ingress.kubernetes.io/auth-secret": "basic-auth",
                "nginx.ingress.kubernetes.io/auth-tls-verify-client": "on"}}}),
        );
        assert_eq!(
            out["metadata"]["annotations"],
            json!({"nginx.ingress.kubernetes.io/auth-tls-secret": "stg-edge/client-ca",
                   "nginx.ingress.kubernetes.io/auth-secret": "basic-auth",
                   "nginx.ingress.kubernetes.io/auth-tls-verify-client": "on"})
        );
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
    }

    #[test]
    fn a_namespace_restore_keeps_only_the_cluster_objects_it_needs() {
        let t = Transform {
            only_namespaces: vec!["shop".into()],
            ..Default::default()
        };
        let objects: Vec<Object> = [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}}),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "traefik"}}),
            json!({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "ca"},
                   "spec": {"ca": {"secretName": "ca-key-pair"}}}),
            json!({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "le"},
                   "spec": {"acme": {"privateKeySecretRef": {"name": "le-account"}}}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ca-key-pair", "namespace": "cert-manager"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "le-account", "namespace": "cert-manager"}}),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop",
                   "annotations": {"cert-manager.io/cluster-issuer": "ca"}}, "spec": {"ingressClassName": "nginx"}}),
        ]
        .into_iter()
        .map(Object)
        .filter(|o| t.selects(o))
        .collect();
        let kept: Vec<String> = t
            .narrow(objects)
            .iter()
            .map(|o| o.object_ref().to_string())
            .collect();
        assert_eq!(
            kept,
            [
                "Namespace shop",
                "Namespace cert-manager",
                "networking.k8s.io/IngressClass nginx",
                "cert-manager.io/ClusterIssuer ca",
                "Secret cert-manager/ca-key-pair",
                "networking.k8s.io/Ingress shop/web",
            ]
        );
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
            ("gateway.networking.k8s.io/v1", "ListenerSet"),
            ("gateway.networking.k8s.io/v1", "TLSRoute"),
            ("cert-manager.io/v1", "Issuer"),
        ];

        /// The paths (array indices as `*`) each kind's rewrites may change.
        fn allowed(kind: &str, path: &str) -> bool {
            let own: &[&str] = match kind {
                "Namespace" | "IngressClass" => &["/metadata/name"],
                "ClusterIssuer" | "Issuer" => &[
                    "/metadata/name",
                    "/spec/acme/solvers/*/http01/gatewayHTTPRoute/parentRefs/*/namespace",
                ],
                "Ingress" => &[
                    "/spec/rules/*/host",
                    "/spec/tls/*/hosts/*",
                    "/spec/ingressClassName",
                    "/metadata/annotations/kubernetes.io~1ingress.class",
                    "/metadata/annotations/cert-manager.io~1issuer",
                    "/metadata/annotations/cert-manager.io~1cluster-issuer",
                    "/metadata/annotations/nginx.ingress.kubernetes.io~1auth-tls-secret",
                ],
                "Certificate" => &[
                    "/spec/dnsNames/*",
                    "/spec/commonName",
                    "/spec/issuerRef/name",
                ],
                "Gateway" => &[
                    "/spec/listeners/*/hostname",
                    "/spec/listeners/*/tls/certificateRefs/*/namespace",
                    "/spec/listeners/*/allowedRoutes/namespaces/selector/matchLabels/kubernetes.io~1metadata.name",
                    "/spec/allowedListeners/namespaces/selector/matchExpressions/*/values/*",
                    "/spec/tls/backend/clientCertificateRef/namespace",
                    "/metadata/annotations/cert-manager.io~1cluster-issuer",
                ],
                "ListenerSet" => &[
                    "/spec/listeners/*/hostname",
                    "/spec/listeners/*/tls/certificateRefs/*/namespace",
                    "/spec/parentRef/namespace",
                ],
                "HTTPRoute" | "TLSRoute" => &[
                    "/spec/parentRefs/*/namespace",
                    "/spec/rules/*/backendRefs/*/namespace",
                    "/spec/rules/*/filters/*/urlRewrite/hostname",
                    "/spec/rules/*/filters/*/requestMirror/backendRef/namespace",
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
                        "nginx.ingress.kubernetes.io/auth-tls-secret": format!("{}/ca", names[3]),
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
                    "rules": [{"host": hosts[1], "backendRefs": [{"name": "b", "namespace": names[1]}],
                               "filters": [{"urlRewrite": {"hostname": hosts[0]}},
                                           {"requestMirror": {"backendRef": {"name": "m", "namespace": names[2]}}}]}],
                    "parentRef": {"name": "gw", "namespace": names[0]},
                    "allowedListeners": {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [names[2], names[3]]}]}}},
                    "acme": {"solvers": [{"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw", "namespace": names[3]}]}}}]},
                    "tls": [{"hosts": [hosts[2]], "secretName": "t"}],
                    "parentRefs": [{"name": "p", "namespace": names[2]}],
                    "from": [{"kind": "Gateway", "namespace": names[3]}],
                    "listeners": [{"hostname": hosts[2], "tls": {"certificateRefs": [{"name": "c", "namespace": names[3]}]},
                                   "allowedRoutes": {"namespaces": {"from": "Selector",
                                       "selector": {"matchLabels": {"kubernetes.io/metadata.name": names[1]}}}}}],
                    "unrelated": {"namespace": names[1], "host": hosts[1], "name": issuer},
                });
                let mut spec = spec;
                if kind == "Gateway" {
                    // A Gateway's `tls` is an object (backend client certificate), an
                    // Ingress's a list.
                    spec["tls"] = json!({"backend": {"clientCertificateRef": {"name": "client", "namespace": names[1]}}});
                }
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
                    let mapped = |old: &str, new: &str| {
                        [&t.namespaces, &t.ingress_classes, &t.issuers]
                            .iter()
                            .any(|map| map.get(old).is_some_and(|to| to == new))
                    };
                    // `namespace/name` annotations: the namespace part is mapped.
                    let namespaced_name = match (old.split_once('/'), new.split_once('/')) {
                        (Some((a, x)), Some((b, y))) => x == y && mapped(a, b),
                        _ => false,
                    };
                    let image = mapped(old, new) || namespaced_name || rewrite_host(old, &t.hosts) == new;
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
                    "HTTPRoute" => must.extend([
                        "/spec/parentRefs/*/namespace",
                        "/spec/rules/*/backendRefs/*/namespace",
                        "/spec/rules/*/filters/*/requestMirror/backendRef/namespace",
                    ]),
                    "ReferenceGrant" => must.push("/spec/from/*/namespace"),
                    "Gateway" => must.extend([
                        "/spec/listeners/*/tls/certificateRefs/*/namespace",
                        "/spec/listeners/*/allowedRoutes/namespaces/selector/matchLabels/kubernetes.io~1metadata.name",
                        "/spec/allowedListeners/namespaces/selector/matchExpressions/*/values/*",
                        "/spec/tls/backend/clientCertificateRef/namespace",
                    ]),
                    "ListenerSet" => must.extend(["/spec/parentRef/namespace", "/spec/listeners/*/tls/certificateRefs/*/namespace"]),
                    "TLSRoute" => must.extend(["/spec/parentRefs/*/namespace", "/spec/rules/*/backendRefs/*/namespace"]),
                    "Issuer" => must.push("/spec/acme/solvers/*/http01/gatewayHTTPRoute/parentRefs/*/namespace"),
                    "ClusterIssuer" if t.issuers.contains_key(object.name()) => {
                        must.push("/spec/acme/solvers/*/http01/gatewayHTTPRoute/parentRefs/*/namespace")
                    }
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
