//! Which objects a snapshot captures. Pure: takes the objects a source produced (before
//! normalisation, so owner references are still visible) and the user's selection.
//!
//! Rules, in the order they apply:
//! - only catalog kinds; CertificateRequest, Order and Challenge are runtime state and never
//!   captured; Certificates owned by an Ingress (cert-manager's ingress-shim) are recreated by
//!   cert-manager from the Ingress, so they stay out;
//! - the API server's own objects (`default/kubernetes` Service, kube-system, kube-public,
//!   kube-node-lease) stay out unless asked for;
//! - `--namespace` / `--exclude-namespace` limit namespaced objects; the label selector
//!   applies to every kind except Namespaces and Secrets, which follow what they hold or
//!   what references them;
//! - Secrets: only those referenced by a captured Ingress `tls[].secretName`, Certificate
//!   `spec.secretName` or Gateway listener `tls.certificateRefs` (data minimisation);
//! - EndpointSlices: only those of captured selector-less Services, managed by hand;
//! - cluster-scoped classes and ClusterIssuers: all of them, or with `--namespace` only the
//!   ones captured objects reference;
//! - Namespaces: exactly those holding captured objects (a minimal one is made when the
//!   source has none, so a restore can create it).
//!
//! References to Secrets and Services that the source lacks are warnings, not failures.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog::{self, CERT_MANAGER, CORE, DISCOVERY, GATEWAY, NETWORKING};
use crate::object::Object;
use crate::selector::LabelSelector;

/// What to do with Secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SecretsMode {
    /// Encrypt Secret data to the `--seal-to` recipients (the default).
    Sealed,
    /// Store Secret data in plaintext (must be asked for by name).
    Plaintext,
    /// Capture no Secrets at all.
    Skip,
}

/// The user's selection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub include_system: bool,
}

/// The outcome of selection.
#[derive(Debug, Default)]
pub struct Selected {
    /// In restore order (tier), then by identity.
    pub objects: Vec<Object>,
    pub warnings: Vec<String>,
    /// Why objects were left out, with counts (e.g. "not a routing kind: apps/Deployment").
    pub skipped: BTreeMap<String, usize>,
}

use crate::catalog::SYSTEM_NAMESPACES;
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const SLICE_CONTROLLER: &str = "endpointslice-controller.k8s.io";

/// Applies the selection rules in the module documentation to everything a source holds.
pub fn select(objects: Vec<Object>, selection: &Selection, secrets: SecretsMode) -> Selected {
    let (secret_objects, others): (Vec<Object>, Vec<Object>) = objects
        .into_iter()
        .partition(|o| o.group() == CORE && o.kind() == "Secret");
    let existing: BTreeSet<(String, String)> = secret_objects.iter().map(key_of).collect();
    let mut plan = plan(others, selection, secrets, Some(&existing));
    let mut captured = Vec::new();
    let mut captured_keys = BTreeSet::new();
    let mut unreferenced = 0;
    for secret in secret_objects {
        let key = key_of(&secret);
        let wanted = plan.wants_secret(&key.0, &key.1);
        if plan.accepts_secret(&secret) {
            captured_keys.insert(key);
            captured.push(secret);
        } else if !wanted {
            unreferenced += 1;
        }
    }
    plan.finish(&captured_keys, unreferenced);
    captured.extend(plan.objects);
    sort_for_restore(&mut captured);
    Selected {
        objects: captured,
        warnings: plan.warnings,
        skipped: plan.skipped,
    }
}

/// Whether the label selector chooses objects of `kind`. Namespaces and EndpointSlices follow
/// the routing that uses them, and every ReferenceGrant is read because a grant allows a
/// reference even when the selection leaves the grant out.
pub fn label_selector_applies(kind: &catalog::KindInfo) -> bool {
    !matches!(
        (kind.group, kind.kind),
        (CORE, "Namespace")
            | (CORE, "Secret")
            | (DISCOVERY, "EndpointSlice")
            | (GATEWAY, "ReferenceGrant")
    )
}

fn key_of(object: &Object) -> (String, String) {
    (
        object.namespace().unwrap_or("").to_string(),
        object.name().to_string(),
    )
}

/// Restore order: by tier, then by identity.
pub fn sort_for_restore(objects: &mut [Object]) {
    objects.sort_by(|a, b| {
        let tier = |o: &Object| o.catalog_kind().map(|k| k.tier).unwrap_or(usize::MAX);
        (tier(a), a.object_ref()).cmp(&(tier(b), b.object_ref()))
    });
}

/// Selection without Secrets: what a source that streams Secrets (a live cluster, where
/// Secrets are the bulk) decides before reading them. `wants_secret` then decides each Secret
/// as it arrives, and `finish` records what was missing.
#[derive(Debug)]
pub struct Plan {
    /// Every captured object but Secrets, in restore order.
    pub objects: Vec<Object>,
    /// Secrets the captured objects reference, each with its first referrer.
    pub secret_refs: BTreeMap<(String, String), String>,
    pub warnings: Vec<String>,
    pub skipped: BTreeMap<String, usize>,
    secrets: SecretsMode,
    selection: Selection,
}

impl Plan {
    /// Whether the Secret `namespace/name` is to be captured.
    pub fn wants_secret(&self, namespace: &str, name: &str) -> bool {
        self.secrets != SecretsMode::Skip
            && namespace_selected(Some(namespace), &self.selection)
            && (self.selection.include_system || !SYSTEM_NAMESPACES.contains(&namespace))
            && self
                .secret_refs
                .contains_key(&(namespace.to_string(), name.to_string()))
    }

    /// Whether a Secret, now read, is captured: wanted by name, and routing data (a TLS or
    /// Opaque Secret with string data). A referenced Secret of another type (a service-account
    /// token named by mistake, or on purpose) is left out with a warning; malformed data is
    /// left out the same way, and named.
    pub fn accepts_secret(&mut self, secret: &Object) -> bool {
        let key = key_of(secret);
        if !self.wants_secret(&key.0, &key.1) {
            return false;
        }
        match crate::artifact::validate::secret_problem(secret) {
            None => true,
            Some(problem) => {
                let referrer = self.secret_refs.remove(&key).unwrap_or_default();
                self.warnings.push(format!(
                    "{referrer} references Secret {}/{}, which is left out: {problem}",
                    key.0, key.1
                ));
                bump(&mut self.skipped, 1, "Secret that is not routing data");
                false
            }
        }
    }

    /// Records referenced Secrets that were not found, and how many were left out.
    pub fn finish(&mut self, captured: &BTreeSet<(String, String)>, unreferenced: usize) {
        if self.secrets != SecretsMode::Skip {
            for (key, referrer) in &self.secret_refs {
                if !captured.contains(key) {
                    self.warnings.push(format!(
                        "{referrer} references Secret {}/{}, which is not in the source",
                        key.0, key.1
                    ));
                }
            }
        }
        if unreferenced > 0 {
            let reason = if self.secrets == SecretsMode::Skip {
                "Secret (--secrets skip)"
            } else {
                "Secret not referenced by captured routing (data minimisation)"
            };
            bump(&mut self.skipped, unreferenced, reason);
        }
        self.warnings.sort();
        self.warnings.dedup();
    }
}

/// Applies the selection rules in the module documentation to every object but Secrets
/// (`objects` must hold none). `existing_secrets`, when known, limits the namespaces captured
/// for referenced Secrets to those whose Secret exists.
pub fn plan(
    objects: Vec<Object>,
    selection: &Selection,
    secrets: SecretsMode,
    existing_secrets: Option<&BTreeSet<(String, String)>>,
) -> Plan {
    let mut skipped = BTreeMap::new();
    let mut warnings = Vec::new();
    let Sorted {
        mut namespaces,
        slices,
        grants,
        cluster_scoped,
        routing,
    } = sort_by_role(objects, selection, &mut skipped);

    let mut references = References::of(&routing);
    admit_granted_secrets(&mut references, &grants, &mut warnings, &mut skipped);
    let scoped = !selection.namespaces.is_empty();
    let mut captured = needed_cluster_scoped(cluster_scoped, &references, scoped, &mut skipped);
    warn_missing_services(&routing, &references, &mut warnings);
    captured.extend(hand_managed_slices(slices, &routing, &mut skipped));
    captured.extend(routing);

    let mut plan = Plan {
        objects: Vec::new(),
        secret_refs: references.secrets,
        warnings,
        skipped,
        secrets,
        selection: selection.clone(),
    };

    // Namespaces that hold captured objects, Secrets to come included.
    let mut held: BTreeSet<String> = captured
        .iter()
        .filter_map(|o| o.namespace().map(str::to_string))
        .collect();
    for (namespace, name) in plan.secret_refs.keys() {
        let exists =
            existing_secrets.is_none_or(|e| e.contains(&(namespace.clone(), name.clone())));
        if exists && plan.wants_secret(namespace, name) {
            held.insert(namespace.clone());
        }
    }
    let unused = namespaces.keys().filter(|ns| !held.contains(*ns)).count();
    if unused > 0 {
        bump(
            &mut plan.skipped,
            unused,
            "Namespace holding no captured object",
        );
    }
    for ns in held {
        let object = namespaces.remove(&ns).unwrap_or_else(|| {
            Object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        });
        captured.push(object);
    }
    sort_for_restore(&mut captured);
    plan.objects = captured;
    plan
}

/// A source's objects by the role they play in selection.
#[derive(Default)]
struct Sorted {
    namespaces: BTreeMap<String, Object>,
    slices: Vec<Object>,
    /// Every ReferenceGrant of the source, selected or not: a grant allows a reference even
    /// when the selection leaves the grant itself out.
    grants: Vec<Object>,
    cluster_scoped: Vec<Object>,
    /// Namespaced routing objects the selection chose.
    routing: Vec<Object>,
}

/// Drops what is never captured or not selected (counted in `skipped`) and sorts the rest by
/// role.
fn sort_by_role(
    objects: Vec<Object>,
    selection: &Selection,
    skipped: &mut BTreeMap<String, usize>,
) -> Sorted {
    let selector = selection.selector.as_ref();
    let mut sorted = Sorted::default();
    for object in objects {
        let (group, kind) = (object.group(), object.kind());
        if catalog::NEVER_CAPTURED.contains(&(group, kind)) {
            let qualified = catalog::qualified(group, kind);
            bump(
                skipped,
                1,
                format!("runtime state, recreated by cert-manager: {qualified}"),
            );
            continue;
        }
        let Some(info) = object.catalog_kind() else {
            let qualified = catalog::qualified(group, kind);
            bump(skipped, 1, format!("not a routing kind: {qualified}"));
            continue;
        };
        if (info.group, info.kind) == (GATEWAY, "ReferenceGrant") {
            sorted.grants.push(object.clone());
        }
        if !selection.include_system && is_system(&object) {
            bump(skipped, 1, "the API server's own objects");
            continue;
        }
        if info.namespaced && !namespace_selected(object.namespace(), selection) {
            bump(skipped, 1, "outside the selected namespaces");
            continue;
        }
        match (info.group, info.kind) {
            (CORE, "Namespace") => {
                sorted.namespaces.insert(object.name().to_string(), object);
            }
            (DISCOVERY, "EndpointSlice") => sorted.slices.push(object),
            (CERT_MANAGER, "Certificate") if owned_by_ingress(&object) => {
                bump(skipped, 1, INGRESS_OWNED);
            }
            _ if selector.is_some_and(|s| !s.matches(&object.label_map())) => {
                bump(skipped, 1, "not matched by the label selector");
            }
            _ if info.namespaced => sorted.routing.push(object),
            _ => sorted.cluster_scoped.push(object),
        }
    }
    sorted
}

/// Secrets referenced across namespaces count as references only where a ReferenceGrant in
/// the Secret's namespace allows it, as the Gateway API decides.
fn admit_granted_secrets(
    references: &mut References,
    grants: &[Object],
    warnings: &mut Vec<String>,
    skipped: &mut BTreeMap<String, usize>,
) {
    for reference in std::mem::take(&mut references.cross_namespace_secrets) {
        if granted(grants, &reference) {
            references
                .secrets
                .entry((reference.namespace, reference.name))
                .or_insert(reference.referrer);
        } else {
            warnings.push(format!(
                "{} references Secret {}/{} in another namespace, and no ReferenceGrant there \
                 allows it; the Secret is left out (the Gateway API would refuse it too)",
                reference.referrer, reference.namespace, reference.name
            ));
            bump(
                skipped,
                1,
                "Secret in another namespace without a ReferenceGrant",
            );
        }
    }
}

/// Cluster-scoped kinds: all selected ones, or only referenced ones when scoped to namespaces.
fn needed_cluster_scoped(
    cluster_scoped: Vec<Object>,
    references: &References,
    scoped_to_namespaces: bool,
    skipped: &mut BTreeMap<String, usize>,
) -> Vec<Object> {
    let mut needed = Vec::new();
    for object in cluster_scoped {
        let referenced = references
            .cluster_scoped
            .contains(&(object.kind().to_string(), object.name().to_string()));
        if !scoped_to_namespaces || referenced {
            needed.push(object);
        } else {
            bump(
                skipped,
                1,
                "cluster-scoped and not referenced by the selected namespaces",
            );
        }
    }
    needed
}

/// Warns about Services that routing references but the source lacks.
fn warn_missing_services(routing: &[Object], references: &References, warnings: &mut Vec<String>) {
    let services: BTreeSet<(String, String)> = routing
        .iter()
        .filter(|o| o.group() == CORE && o.kind() == "Service")
        .map(key_of)
        .collect();
    for (key, referrer) in &references.services {
        if !services.contains(key) {
            warnings.push(format!(
                "{referrer} references Service {}/{}, which is not in the source or not selected",
                key.0, key.1
            ));
        }
    }
}

/// EndpointSlices of captured selector-less Services, maintained by hand (the controller
/// recreates the others).
fn hand_managed_slices(
    slices: Vec<Object>,
    routing: &[Object],
    skipped: &mut BTreeMap<String, usize>,
) -> Vec<Object> {
    let selectorless: BTreeSet<(String, String)> = routing
        .iter()
        .filter(|o| {
            o.group() == CORE
                && o.kind() == "Service"
                && o.0
                    .pointer("/spec/selector")
                    .is_none_or(|s| s.as_object().is_none_or(|m| m.is_empty()))
        })
        .map(key_of)
        .collect();
    let mut kept = Vec::new();
    for slice in slices {
        let labels = slice.labels();
        let service = labels
            .get(SERVICE_NAME_LABEL)
            .and_then(Value::as_str)
            .unwrap_or("");
        let by_controller =
            labels.get(MANAGED_BY_LABEL).and_then(Value::as_str) == Some(SLICE_CONTROLLER);
        let key = (
            slice.namespace().unwrap_or("").to_string(),
            service.to_string(),
        );
        if !by_controller && selectorless.contains(&key) {
            kept.push(slice);
        } else {
            bump(
                skipped,
                1,
                "EndpointSlice not of a captured selector-less Service",
            );
        }
    }
    kept
}

/// The skip reason for Certificates made by cert-manager's ingress-shim.
pub const INGRESS_OWNED: &str = "Certificate owned by an Ingress (recreated by cert-manager)";

fn bump(skipped: &mut BTreeMap<String, usize>, count: usize, reason: impl Into<String>) {
    *skipped.entry(reason.into()).or_insert(0) += count;
}

fn is_system(object: &Object) -> bool {
    catalog::is_system_object(
        object.group(),
        object.kind(),
        object.namespace(),
        object.name(),
    )
}

fn namespace_selected(namespace: Option<&str>, selection: &Selection) -> bool {
    let ns = namespace.unwrap_or("");
    (selection.namespaces.is_empty() || selection.namespaces.iter().any(|n| n == ns))
        && !selection.exclude_namespaces.iter().any(|n| n == ns)
}

/// Whether cert-manager's ingress-shim made this Certificate for an Ingress.
pub fn owned_by_ingress(object: &Object) -> bool {
    object
        .0
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| owners.iter().any(|o| o["kind"] == "Ingress"))
}

/// What captured routing objects point at: (namespace, name) of Secrets and Services, and
/// (kind, name) of cluster-scoped classes and issuers. Each with the first referrer, for
/// warnings.
#[derive(Debug, Default)]
pub struct References {
    pub secrets: BTreeMap<(String, String), String>,
    /// Gateway certificateRefs to a Secret in another namespace, not yet allowed.
    pub cross_namespace_secrets: Vec<CrossReference>,
    pub services: BTreeMap<(String, String), String>,
    pub cluster_scoped: BTreeSet<(String, String)>,
}

/// A Gateway's reference to a Secret in another namespace.
#[derive(Debug, Clone)]
pub struct CrossReference {
    pub from_namespace: String,
    pub namespace: String,
    pub name: String,
    pub referrer: String,
}

/// Whether a ReferenceGrant in the Secret's namespace lets Gateways of `from_namespace`
/// refer to it (Gateway API: `from` Gateway in that namespace, `to` core Secret, any name or
/// this one).
pub fn granted(grants: &[Object], reference: &CrossReference) -> bool {
    grants.iter().any(|grant| {
        grant.namespace() == Some(reference.namespace.as_str())
            && array(&grant.0, "/spec/from").any(|from| {
                from["group"].as_str() == Some(GATEWAY)
                    && from["kind"].as_str() == Some("Gateway")
                    && from["namespace"].as_str() == Some(reference.from_namespace.as_str())
            })
            && array(&grant.0, "/spec/to").any(|to| {
                to["group"].as_str().unwrap_or("").is_empty()
                    && to["kind"].as_str() == Some("Secret")
                    && to["name"]
                        .as_str()
                        .is_none_or(|name| name == reference.name)
            })
    })
}

impl References {
    pub fn of(objects: &[Object]) -> Self {
        let mut refs = Self::default();
        for object in objects {
            let namespace = object.namespace().unwrap_or("");
            let referrer = object.object_ref().to_string();
            match (object.group(), object.kind()) {
                (NETWORKING, "Ingress") => refs.add_ingress(object, namespace, &referrer),
                (CERT_MANAGER, "Certificate") => refs.add_certificate(object, namespace, &referrer),
                (GATEWAY, "Gateway") => refs.add_gateway(object, namespace, &referrer),
                (GATEWAY, "HTTPRoute" | "GRPCRoute") => {
                    refs.add_route(object, namespace, &referrer)
                }
                _ => {}
            }
        }
        refs
    }

    fn add_secret(&mut self, namespace: &str, name: &str, referrer: &str) {
        self.secrets
            .entry((namespace.to_string(), name.to_string()))
            .or_insert_with(|| referrer.to_string());
    }

    fn add_service(&mut self, namespace: &str, name: &str, referrer: &str) {
        self.services
            .entry((namespace.to_string(), name.to_string()))
            .or_insert_with(|| referrer.to_string());
    }

    /// TLS Secrets, backend Services, the class (field or legacy annotation) and the
    /// cert-manager cluster issuer annotation.
    fn add_ingress(&mut self, ingress: &Object, namespace: &str, referrer: &str) {
        for tls in array(&ingress.0, "/spec/tls") {
            if let Some(name) = tls["secretName"].as_str() {
                self.add_secret(namespace, name, referrer);
            }
        }
        let mut backends: Vec<&Value> = Vec::new();
        backends.extend(ingress.0.pointer("/spec/defaultBackend"));
        for rule in array(&ingress.0, "/spec/rules") {
            for path in array(rule, "/http/paths") {
                backends.extend(path.get("backend"));
            }
        }
        for backend in backends {
            if let Some(name) = backend.pointer("/service/name").and_then(Value::as_str) {
                self.add_service(namespace, name, referrer);
            }
        }
        let class = ingress
            .str_at("/spec/ingressClassName")
            .or(ingress.annotation("kubernetes.io/ingress.class"));
        if let Some(class) = class {
            self.cluster_scoped
                .insert(("IngressClass".into(), class.into()));
        }
        if let Some(issuer) = ingress.annotation("cert-manager.io/cluster-issuer") {
            self.cluster_scoped
                .insert(("ClusterIssuer".into(), issuer.into()));
        }
    }

    /// The Secret it writes, and its ClusterIssuer.
    fn add_certificate(&mut self, certificate: &Object, namespace: &str, referrer: &str) {
        if let Some(name) = certificate.str_at("/spec/secretName") {
            self.add_secret(namespace, name, referrer);
        }
        if certificate.str_at("/spec/issuerRef/kind") == Some("ClusterIssuer")
            && let Some(name) = certificate.str_at("/spec/issuerRef/name")
        {
            self.cluster_scoped
                .insert(("ClusterIssuer".into(), name.into()));
        }
    }

    /// Listener certificate Secrets (those in another namespace only as cross references, for
    /// the caller to check against ReferenceGrants) and the GatewayClass.
    fn add_gateway(&mut self, gateway: &Object, namespace: &str, referrer: &str) {
        for listener in array(&gateway.0, "/spec/listeners") {
            for cert in array(listener, "/tls/certificateRefs") {
                let core = cert["group"].as_str().unwrap_or("").is_empty();
                let is_secret = cert["kind"].as_str().unwrap_or("Secret") == "Secret";
                let Some(name) = cert["name"].as_str().filter(|_| core && is_secret) else {
                    continue;
                };
                match cert["namespace"]
                    .as_str()
                    .filter(|other| *other != namespace)
                {
                    Some(other) => self.cross_namespace_secrets.push(CrossReference {
                        from_namespace: namespace.to_string(),
                        namespace: other.to_string(),
                        name: name.to_string(),
                        referrer: referrer.to_string(),
                    }),
                    None => self.add_secret(namespace, name, referrer),
                }
            }
        }
        if let Some(class) = gateway.str_at("/spec/gatewayClassName") {
            self.cluster_scoped
                .insert(("GatewayClass".into(), class.into()));
        }
    }

    /// Backend Services of HTTPRoutes and GRPCRoutes, in their namespace or another.
    fn add_route(&mut self, route: &Object, namespace: &str, referrer: &str) {
        for rule in array(&route.0, "/spec/rules") {
            for backend in array(rule, "/backendRefs") {
                let core = backend["group"].as_str().unwrap_or("").is_empty();
                let is_service = backend["kind"].as_str().unwrap_or("Service") == "Service";
                if let (true, true, Some(name)) = (core, is_service, backend["name"].as_str()) {
                    let target = backend["namespace"].as_str().unwrap_or(namespace);
                    self.add_service(target, name, referrer);
                }
            }
        }
    }
}

fn array<'a>(value: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Object {
        Object(v)
    }

    fn refs(selected: &Selected) -> Vec<String> {
        selected
            .objects
            .iter()
            .map(|o| o.object_ref().to_string())
            .collect()
    }

    fn sample() -> Vec<Object> {
        vec![
            obj(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}}),
            ),
            obj(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "empty"}})),
            obj(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                             "annotations": {"cert-manager.io/cluster-issuer": "le"}},
                "spec": {"ingressClassName": "nginx", "tls": [{"secretName": "web-tls"}, {"secretName": "gone-tls"}],
                         "rules": [{"http": {"paths": [{"backend": {"service": {"name": "web"}}},
                                                       {"backend": {"service": {"name": "missing"}}}]}}]}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                "spec": {"selector": {"app": "web"}}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "shop"}, "spec": {"ports": [{"port": 80}]}}),
            ),
            obj(
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "ext-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "ext"}}}),
            ),
            obj(
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "web-abc", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": "web-tls", "namespace": "shop"}, "data": {}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "db-password", "namespace": "shop"}, "data": {}}),
            ),
            obj(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": "web-tls", "namespace": "shop", "ownerReferences": [{"kind": "Ingress", "name": "web"}]}}),
            ),
            obj(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "metadata": {"name": "web-tls-1", "namespace": "shop"}}),
            ),
            obj(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}),
            ),
            obj(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}),
            ),
            obj(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "unused"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
            ),
        ]
    }

    #[test]
    fn captures_routing_and_only_what_it_references() {
        let out = select(sample(), &Selection::default(), SecretsMode::Sealed);
        assert_eq!(
            refs(&out),
            vec![
                "Namespace shop",
                "networking.k8s.io/IngressClass nginx",
                "networking.k8s.io/IngressClass unused",
                "Secret shop/web-tls",
                "Service shop/ext",
                "Service shop/web",
                "discovery.k8s.io/EndpointSlice shop/ext-1",
                "networking.k8s.io/Ingress shop/web",
            ]
        );
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("Secret shop/gone-tls")),
            "{:?}",
            out.warnings
        );
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("Service shop/missing")),
            "{:?}",
            out.warnings
        );
        assert_eq!(out.skipped["not a routing kind: apps/Deployment"], 1);
        assert_eq!(
            out.skipped["Secret not referenced by captured routing (data minimisation)"],
            1
        );
        assert_eq!(
            out.skipped["Certificate owned by an Ingress (recreated by cert-manager)"],
            1
        );
        assert_eq!(out.skipped["the API server's own objects"], 2);
    }

    #[test]
    fn namespace_scope_keeps_only_referenced_cluster_objects() {
        let selection = Selection {
            namespaces: vec!["shop".into()],
            ..Default::default()
        };
        let out = select(sample(), &selection, SecretsMode::Sealed);
        let r = refs(&out);
        assert!(r.contains(&"networking.k8s.io/IngressClass nginx".to_string()));
        assert!(!r.contains(&"networking.k8s.io/IngressClass unused".to_string()));
        let none = Selection {
            namespaces: vec!["other".into()],
            ..Default::default()
        };
        assert!(
            select(sample(), &none, SecretsMode::Sealed)
                .objects
                .is_empty()
        );
        let excluded = Selection {
            exclude_namespaces: vec!["shop".into()],
            ..Default::default()
        };
        let r = refs(&select(sample(), &excluded, SecretsMode::Sealed));
        assert!(r.iter().all(|r| !r.contains("shop")), "{r:?}");
    }

    #[test]
    fn selector_filters_routing_and_secrets_follow_references() {
        let selection = Selection {
            selector: Some(LabelSelector::parse("app=web").unwrap()),
            ..Default::default()
        };
        let r = refs(&select(sample(), &selection, SecretsMode::Sealed));
        assert_eq!(
            r,
            vec![
                "Namespace shop",
                "Secret shop/web-tls",
                "Service shop/web",
                "networking.k8s.io/Ingress shop/web"
            ]
        );
    }

    #[test]
    fn secrets_skip_captures_none() {
        let r = refs(&select(sample(), &Selection::default(), SecretsMode::Skip));
        assert!(r.iter().all(|r| !r.starts_with("Secret")));
    }

    #[test]
    fn gateway_certificate_refs_select_secrets_across_namespaces() {
        let objects = vec![
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "edge", "namespace": "infra"},
                "spec": {"gatewayClassName": "eg", "listeners": [{"name": "https", "tls": {"certificateRefs": [
                    {"name": "edge-tls"}, {"name": "shared", "namespace": "certs"}, {"kind": "ConfigMap", "name": "nope"}]}}]}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "edge-tls", "namespace": "infra"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shared", "namespace": "certs"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nope", "namespace": "infra"}}),
            ),
            // The Secret's namespace allows the Gateway's (without it: the test above).
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "g", "namespace": "certs"},
                "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra"}], "to": [{"group": "", "kind": "Secret"}]}}),
            ),
        ];
        let r = refs(&select(objects, &Selection::default(), SecretsMode::Sealed));
        assert!(r.contains(&"Secret infra/edge-tls".to_string()));
        assert!(r.contains(&"Secret certs/shared".to_string()));
        assert!(
            r.contains(&"Namespace certs".to_string()),
            "namespace made for the secret: {r:?}"
        );
        assert!(!r.contains(&"Secret infra/nope".to_string()));
    }

    #[test]
    fn cross_namespace_certificate_refs_need_a_reference_grant() {
        let gateway = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": "tenant-a"},
            "spec": {"gatewayClassName": "c", "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS",
                "tls": {"certificateRefs": [{"name": "shared", "namespace": "tenant-b"}, {"name": "own"}]}}]}});
        let secret = |ns: &str, name: &str| {
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": ns}, "data": {"tls.key": "eA=="}})
        };
        let grant = |to_name: Option<&str>| {
            let mut to = json!({"group": "", "kind": "Secret"});
            if let Some(name) = to_name {
                to["name"] = json!(name);
            }
            json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                "metadata": {"name": "allow-a", "namespace": "tenant-b"},
                "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "tenant-a"}],
                    "to": [to]}})
        };
        let captured = |extra: Vec<Value>| {
            let mut objects = vec![
                Object(gateway.clone()),
                Object(secret("tenant-b", "shared")),
                Object(secret("tenant-a", "own")),
            ];
            objects.extend(extra.into_iter().map(Object));
            let out = select(objects, &Selection::default(), SecretsMode::Sealed);
            let secrets: Vec<String> = out
                .objects
                .iter()
                .filter(|o| o.kind() == "Secret")
                .map(|o| o.object_ref().to_string())
                .collect();
            (secrets, out.warnings)
        };
        let (secrets, warnings) = captured(vec![]);
        assert_eq!(secrets, vec!["Secret tenant-a/own"]);
        assert!(
            warnings.iter().any(|w| w.contains("no ReferenceGrant")),
            "{warnings:?}"
        );
        let (secrets, _) = captured(vec![grant(None)]);
        assert_eq!(
            secrets,
            vec!["Secret tenant-a/own", "Secret tenant-b/shared"]
        );
        let (secrets, _) = captured(vec![grant(Some("shared"))]);
        assert!(secrets.contains(&"Secret tenant-b/shared".to_string()));
        let (secrets, _) = captured(vec![grant(Some("other"))]);
        assert_eq!(secrets, vec!["Secret tenant-a/own"]);
    }
}
