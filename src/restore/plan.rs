//! The pure part of a restore into a cluster: which kinds the target lacks, which permissions
//! the objects need, and the order they are applied in (tiers). No I/O, so every rule is tested
//! on plain objects.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::{self, RESTORE_TIERS};
use crate::json_pointer::Pointer;
use crate::k8s::access::{Denied, Need};
use crate::k8s::discovery::ServedKind;
use crate::object::{Identities, Object};

/// A target's served kinds, by (group, kind).
pub type Served = BTreeMap<(String, String), ServedKind>;

/// What a restore's checks need to know about its objects, gathered as the objects stream
/// past, so that a restore never holds them all: where they go, what cluster-scoped objects
/// they reference and bring, and who they are (for `--prune`).
#[derive(Debug, Default)]
pub struct Outline {
    /// (group, kind, namespace) of every object.
    pub placements: BTreeSet<(String, String, Option<String>)>,
    /// (kind, name) of the classes and cluster issuers the objects reference.
    pub cluster_references: BTreeSet<(String, String)>,
    /// (kind, name) of the cluster-scoped objects themselves.
    pub cluster_objects: BTreeSet<(String, String)>,
    /// Every object, for `--prune` and `--wait`; empty unless asked for (`with_identities`):
    /// at a few hundred bytes per object, the one part of an outline that grows with the
    /// estate.
    pub identities: Identities,
    keep_identities: bool,
}

impl Outline {
    /// An outline that also keeps every object's identity.
    pub fn with_identities() -> Self {
        Self {
            keep_identities: true,
            ..Self::default()
        }
    }

    pub fn add(&mut self, object: &Object) {
        let (group, kind) = (object.group().to_string(), object.kind().to_string());
        let namespace = object.namespace().map(str::to_string);
        if namespace.is_none() {
            self.cluster_objects
                .insert((kind.clone(), object.name().to_string()));
        }
        self.placements.insert((group, kind, namespace));
        self.cluster_references
            .extend(crate::select::References::of(std::slice::from_ref(object)).cluster_scoped);
        if self.keep_identities {
            self.identities.insert(object);
        }
    }

    #[cfg(test)]
    pub fn of<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Self {
        let mut outline = Self::with_identities();
        for object in objects {
            outline.add(object);
        }
        outline
    }
}

/// The qualified kinds of the outlined objects that the target does not serve, sorted.
pub fn missing_kinds(outline: &Outline, served: &Served) -> BTreeSet<String> {
    outline
        .placements
        .iter()
        .filter(|(group, kind, _)| !served.contains_key(&(group.clone(), kind.clone())))
        .map(|(group, kind, _)| catalog::qualified(group, kind))
        .collect()
}

/// What to install so the target serves `missing`.
pub fn install_advice(missing: &BTreeSet<String>) -> String {
    let mut advice = Vec::new();
    if missing.iter().any(|k| k.starts_with("cert-manager.io/")) {
        advice.push("install cert-manager (its CRDs)");
    }
    if missing
        .iter()
        .any(|k| k.starts_with("gateway.networking.k8s.io/"))
    {
        advice.push("install the Gateway API CRDs");
    }
    if advice.is_empty() {
        "install them".to_string()
    } else {
        advice.join(" and ")
    }
}

/// Every (resource, namespace) the outlined objects write, as SelfSubjectAccessReviews ask
/// for them.
pub fn permission_needs(outline: &Outline, served: &Served) -> BTreeSet<Need> {
    outline
        .placements
        .iter()
        .filter_map(|(group, kind, namespace)| {
            let kind = served.get(&(group.clone(), kind.clone()))?;
            Some(Need {
                group: kind.info.group.to_string(),
                resource: kind.info.plural.to_string(),
                namespace: if kind.info.namespaced {
                    namespace.clone()
                } else {
                    None
                },
            })
        })
        .collect()
}

/// What `restore --wait` watches: every restored kind that has a readiness, across the
/// cluster (one watch per kind).
pub fn wait_needs(outline: &Outline, served: &Served) -> BTreeSet<Need> {
    permission_needs(outline, served)
        .into_iter()
        .filter(|need| {
            served.values().any(|k| {
                k.info.group == need.group
                    && k.info.plural == need.resource
                    && crate::readiness::is_waited_kind(k.info.group, k.info.kind)
            })
        })
        .map(|need| Need {
            namespace: None,
            ..need
        })
        .collect()
}

/// Denied permissions summarised per resource: `ingresses.networking.k8s.io (create, patch)`.
pub fn denied_summary(denied: &[Denied]) -> String {
    let mut by_resource: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for d in denied {
        by_resource.entry(&d.resource).or_default().insert(d.verb);
    }
    by_resource
        .iter()
        .map(|(resource, verbs)| {
            format!(
                "{resource} ({})",
                verbs.iter().copied().collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The index in [`RESTORE_TIERS`] of the tier an object is restored in; unknown kinds go last.
pub fn tier_of(object: &Object) -> usize {
    object
        .catalog_kind()
        .map(|k| k.tier)
        .unwrap_or(RESTORE_TIERS.len() - 1)
}

/// What an object needs to exist before it can work, as object references (the form
/// `ObjectRef` prints): its Namespace, the Secrets, Services, classes and cluster issuers it
/// references, and an EndpointSlice's Service. An object is held back only when one of these
/// failed; everything independent of a failure is still restored.
pub fn dependencies(object: &Object) -> BTreeSet<String> {
    let mut needs = BTreeSet::new();
    if let Some(namespace) = object.namespace() {
        needs.insert(format!("Namespace {namespace}"));
    }
    let references = crate::select::References::of(std::slice::from_ref(object));
    for (namespace, name) in references.secrets.keys() {
        needs.insert(format!("Secret {namespace}/{name}"));
    }
    for (namespace, name) in references.services.keys() {
        needs.insert(format!("Service {namespace}/{name}"));
    }
    for (namespace, name) in references.config_maps.keys() {
        needs.insert(format!("ConfigMap {namespace}/{name}"));
    }
    for cross in &references.cross_namespace {
        needs.insert(format!(
            "{} {}/{}",
            cross.to_kind, cross.namespace, cross.name
        ));
    }
    for (kind, name) in &references.cluster_scoped {
        if let Some(info) = catalog::KINDS.iter().find(|k| k.kind == kind) {
            needs.insert(format!("{} {name}", info.qualified()));
        }
    }
    if (object.group(), object.kind()) == (catalog::DISCOVERY, "EndpointSlice")
        && let (Some(namespace), Some(service)) = (
            object.namespace(),
            object
                .0
                .at("/metadata/labels/kubernetes.io~1service-name")
                .and_then(serde_json::Value::as_str),
        )
    {
        needs.insert(format!("Service {namespace}/{service}"));
    }
    needs
}

/// The tier an object is restored in, by name.
pub fn tier_name(object: &Object) -> &'static str {
    crate::catalog::tier_name(object.group(), object.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> Object {
        let mut metadata = json!({"name": name});
        if let Some(ns) = ns {
            metadata["namespace"] = json!(ns);
        }
        Object(json!({"apiVersion": api_version, "kind": kind, "metadata": metadata}))
    }

    fn served(kinds: &[&str]) -> Served {
        kinds
            .iter()
            .map(|k| {
                let info = catalog::lookup_user_name(k).unwrap();
                let kind = ServedKind::at(info, info.versions[0]);
                ((info.group.to_string(), info.kind.to_string()), kind)
            })
            .collect()
    }

    #[test]
    fn dependencies_name_namespace_references_and_slice_service() {
        let ingress = Object(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop", "annotations": {"cert-manager.io/cluster-issuer": "le"}},
            "spec": {"ingressClassName": "nginx", "tls": [{"secretName": "web-tls"}],
                     "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}),
        );
        assert_eq!(
            dependencies(&ingress).into_iter().collect::<Vec<_>>(),
            [
                "Namespace shop",
                "Secret shop/web-tls",
                "Service shop/web",
                "cert-manager.io/ClusterIssuer le",
                "networking.k8s.io/IngressClass nginx",
            ]
        );
        let slice = Object(
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "ext-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "ext"}}}),
        );
        assert!(dependencies(&slice).contains("Service shop/ext"));
        let namespace =
            Object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}));
        assert!(dependencies(&namespace).is_empty());
    }

    #[test]
    fn missing_kinds_name_what_to_install() {
        let objects = [
            obj("v1", "Service", Some("a"), "web"),
            obj("cert-manager.io/v1", "Certificate", Some("a"), "web"),
            obj(
                "gateway.networking.k8s.io/v1",
                "HTTPRoute",
                Some("a"),
                "web",
            ),
        ];
        let missing = missing_kinds(&Outline::of(&objects), &served(&["Service"]));
        assert_eq!(
            missing.iter().cloned().collect::<Vec<_>>(),
            [
                "cert-manager.io/Certificate",
                "gateway.networking.k8s.io/HTTPRoute"
            ]
        );
        assert_eq!(
            install_advice(&missing),
            "install cert-manager (its CRDs) and install the Gateway API CRDs"
        );
        assert!(missing_kinds(&Outline::of(&objects[..1]), &served(&["Service"])).is_empty());
    }

    #[test]
    fn a_wait_watches_each_kind_with_a_readiness_across_the_cluster() {
        let objects = [
            obj("v1", "Service", Some("a"), "web"),
            obj("networking.k8s.io/v1", "Ingress", Some("a"), "web"),
            obj("networking.k8s.io/v1", "Ingress", Some("b"), "web"),
            obj("cert-manager.io/v1", "Certificate", Some("b"), "web"),
        ];
        let needs = wait_needs(
            &Outline::of(&objects),
            &served(&["Service", "Ingress", "Certificate"]),
        );
        let resources: Vec<(&str, &str, Option<&str>)> = needs
            .iter()
            .map(|n| {
                (
                    n.group.as_str(),
                    n.resource.as_str(),
                    n.namespace.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            resources,
            [
                ("cert-manager.io", "certificates", None),
                ("networking.k8s.io", "ingresses", None)
            ]
        );
    }

    #[test]
    fn permissions_are_asked_per_resource_and_namespace() {
        let objects = [
            obj("v1", "Namespace", None, "a"),
            obj("v1", "Service", Some("a"), "web"),
            obj("v1", "Service", Some("a"), "api"),
            obj("networking.k8s.io/v1", "Ingress", Some("b"), "web"),
        ];
        let needs = permission_needs(
            &Outline::of(&objects),
            &served(&["Namespace", "Service", "Ingress"]),
        );
        let needs: Vec<(String, String, Option<String>)> = needs
            .into_iter()
            .map(|n| (n.group, n.resource, n.namespace))
            .collect();
        assert_eq!(
            needs,
            [
                ("".into(), "namespaces".into(), None),
                ("".into(), "services".into(), Some("a".into())),
                (
                    "networking.k8s.io".into(),
                    "ingresses".into(),
                    Some("b".into())
                ),
            ]
        );
        let denied = [
            Denied {
                verb: "patch",
                resource: "services".into(),
                namespace: Some("a".into()),
            },
            Denied {
                verb: "create",
                resource: "services".into(),
                namespace: Some("b".into()),
            },
            Denied {
                verb: "get",
                resource: "namespaces".into(),
                namespace: None,
            },
        ];
        assert_eq!(
            denied_summary(&denied),
            "namespaces (get); services (create, patch)"
        );
    }

    #[test]
    fn tiers_follow_the_catalog_order() {
        let objects = [
            obj("networking.k8s.io/v1", "Ingress", Some("a"), "web"),
            obj("v1", "Secret", Some("a"), "tls"),
            obj("v1", "Namespace", None, "a"),
        ];
        let mut ordered: Vec<&Object> = objects.iter().collect();
        ordered.sort_by_key(|o| tier_of(o));
        let order: Vec<&str> = ordered.iter().map(|o| o.kind()).collect();
        assert_eq!(order, ["Namespace", "Secret", "Ingress"]);
        assert_eq!(tier_name(ordered[0]), "namespaces");
        assert_eq!(
            tier_of(&obj("example.com/v1", "Widget", None, "w")),
            RESTORE_TIERS.len() - 1
        );
    }

    #[test]
    fn an_outline_keeps_what_the_checks_need_and_no_object() {
        let ingress = Object(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"ingressClassName": "nginx"}}),
        );
        let class = obj("networking.k8s.io/v1", "IngressClass", None, "nginx");
        let outline = Outline::of([&ingress, &class]);
        assert_eq!(outline.identities.len(), 2);
        assert!(
            outline
                .cluster_references
                .contains(&("IngressClass".into(), "nginx".into()))
        );
        assert!(
            outline
                .cluster_objects
                .contains(&("IngressClass".into(), "nginx".into()))
        );
        assert!(outline.placements.contains(&(
            "networking.k8s.io".into(),
            "Ingress".into(),
            Some("shop".into())
        )));
        assert!(outline.identities.contains_object(&ingress));
    }
}
