//! The pure part of a restore into a cluster: which kinds the target lacks, which permissions
//! the objects need, and the order they are applied in (tiers). No I/O, so every rule is tested
//! on plain objects.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::{self, RESTORE_TIERS};
use crate::k8s::access::{Denied, Need};
use crate::k8s::discovery::ServedKind;
use crate::object::Object;

/// A target's served kinds, by (group, kind).
pub type Served = BTreeMap<(String, String), ServedKind>;

/// The qualified kinds of `objects` that the target does not serve, sorted.
pub fn missing_kinds(objects: &[Object], served: &Served) -> BTreeSet<String> {
    objects
        .iter()
        .filter(|o| !served.contains_key(&(o.group().to_string(), o.kind().to_string())))
        .map(|o| catalog::qualified(o.group(), o.kind()))
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

/// Every (resource, namespace) the objects write, as SelfSubjectAccessReviews ask for them.
pub fn permission_needs(objects: &[Object], served: &Served) -> BTreeSet<Need> {
    objects
        .iter()
        .filter_map(|o| {
            let kind = served.get(&(o.group().to_string(), o.kind().to_string()))?;
            Some(Need {
                group: kind.info.group.to_string(),
                resource: kind.info.plural.to_string(),
                namespace: if kind.info.namespaced {
                    o.namespace().map(str::to_string)
                } else {
                    None
                },
            })
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

/// Objects grouped by restore tier, in tier order; unknown kinds go last.
pub fn tiers(objects: Vec<Object>) -> Vec<Vec<Object>> {
    let mut tiers: Vec<Vec<Object>> = vec![Vec::new(); RESTORE_TIERS.len()];
    for object in objects {
        let tier = object
            .catalog_kind()
            .map(|k| k.tier)
            .unwrap_or(RESTORE_TIERS.len() - 1);
        tiers[tier].push(object);
    }
    tiers
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
                .pointer("/metadata/labels/kubernetes.io~1service-name")
                .and_then(serde_json::Value::as_str),
        )
    {
        needs.insert(format!("Service {namespace}/{service}"));
    }
    needs
}

/// The tier an object is restored in, by name.
pub fn tier_name(object: &Object) -> &'static str {
    object
        .catalog_kind()
        .and_then(|k| RESTORE_TIERS.get(k.tier))
        .copied()
        .unwrap_or("other")
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
        let missing = missing_kinds(&objects, &served(&["Service"]));
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
        assert!(missing_kinds(&objects[..1], &served(&["Service"])).is_empty());
    }

    #[test]
    fn permissions_are_asked_per_resource_and_namespace() {
        let objects = [
            obj("v1", "Namespace", None, "a"),
            obj("v1", "Service", Some("a"), "web"),
            obj("v1", "Service", Some("a"), "api"),
            obj("networking.k8s.io/v1", "Ingress", Some("b"), "web"),
        ];
        let needs = permission_needs(&objects, &served(&["Namespace", "Service", "Ingress"]));
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
        let objects = vec![
            obj("networking.k8s.io/v1", "Ingress", Some("a"), "web"),
            obj("v1", "Secret", Some("a"), "tls"),
            obj("v1", "Namespace", None, "a"),
        ];
        let tiers = tiers(objects);
        let order: Vec<&str> = tiers.iter().flatten().map(|o| o.kind()).collect();
        assert_eq!(order, ["Namespace", "Secret", "Ingress"]);
        assert_eq!(tier_name(&tiers[0][0]), "namespaces");
    }
}
