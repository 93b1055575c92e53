//! Pure: the part of a cluster a snapshot speaks for — which namespaces and kinds — so that
//! `diff` can call a live object "extra" and `restore --prune` may delete it. Anything outside
//! the scope is never reported as extra and never deleted.
//!
//! - A cluster snapshot of every namespace covers the whole cluster (minus the namespaces it
//!   excluded, and the system namespaces unless it included them), cluster-scoped objects too.
//! - A cluster snapshot of named namespaces covers those namespaces.
//! - A snapshot of a folder covers the namespaces its objects are in: a build owns the
//!   namespaces it deploys to, not the rest of the cluster.
//!
//! Where the scope is a set of namespaces, cluster-scoped objects (classes, cluster issuers,
//! Namespaces of other namespaces) are compared when the snapshot holds them but are never
//! extra. A clone's scope is the target's: namespaces pass through `--namespace-map`; `--only`
//! and `--namespace` narrow it. Secrets, ConfigMaps and EndpointSlices are in scope only as
//! routing references them — the live capture decides that, as for a snapshot.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::artifact::Manifest;
use crate::catalog::{self, KindInfo};
use crate::object::Object;
use crate::select::{SecretsMode, Selection};
use crate::transform::Transform;

/// The namespaces and kinds a snapshot (as restored, through a transform) speaks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scope {
    /// None: every namespace but `excluded`.
    pub namespaces: Option<BTreeSet<String>>,
    pub excluded: BTreeSet<String>,
    pub include_system: bool,
    /// Qualified kinds (`networking.k8s.io/Ingress`).
    pub kinds: BTreeSet<String>,
}

impl Scope {
    /// The scope of the snapshot `manifest` describes, whose objects (already transformed)
    /// are in, or are, `home_namespaces` (see `ObjectRef::home_namespace`).
    pub fn of<'a, E>(
        manifest: &Manifest<E>,
        home_namespaces: impl IntoIterator<Item = &'a str>,
        transform: &Transform,
    ) -> Self {
        let map = |ns: &String| transform.namespaces.get(ns).unwrap_or(ns).clone();
        let selection = &manifest.selection;
        let mut namespaces = if manifest.source.kind == "cluster" {
            (!selection.namespaces.is_empty()).then(|| {
                selection
                    .namespaces
                    .iter()
                    .map(map)
                    .collect::<BTreeSet<_>>()
            })
        } else {
            Some(home_namespaces.into_iter().map(str::to_string).collect())
        };
        if !transform.only_namespaces.is_empty() {
            let only: BTreeSet<String> = transform.only_namespaces.iter().map(map).collect();
            namespaces = Some(match namespaces {
                Some(all) => all.intersection(&only).cloned().collect(),
                None => only,
            });
        }
        let kinds = catalog::KINDS
            .iter()
            .filter(|k| {
                !(manifest.secrets == SecretsMode::Skip && k.group.is_empty() && k.kind == "Secret")
            })
            .filter(|k| {
                transform.only.is_empty()
                    || transform
                        .only
                        .iter()
                        .any(|o| o.group == k.group && o.kind == k.kind)
            })
            .map(KindInfo::qualified)
            .collect();
        Self {
            namespaces,
            excluded: selection.exclude_namespaces.iter().map(map).collect(),
            include_system: selection.include_system,
            kinds,
        }
    }

    /// Whether a live object not in the snapshot belongs to the snapshot's part of the
    /// cluster (and so is extra, and may be pruned).
    pub fn covers(&self, object: &Object) -> bool {
        let Some(info) = object.catalog_kind() else {
            return false;
        };
        if !self.kinds.contains(&info.qualified()) {
            return false;
        }
        if !self.include_system
            && catalog::is_system_object(
                object.group(),
                object.kind(),
                object.namespace(),
                object.name(),
            )
        {
            return false;
        }
        let namespace = match (object.namespace(), object.group(), object.kind()) {
            (Some(ns), _, _) => ns,
            (None, "", "Namespace") => object.name(),
            // Cluster-scoped routing (classes, cluster issuers) belongs to a snapshot of the
            // whole cluster only.
            (None, _, _) => return self.namespaces.is_none(),
        };
        if self.excluded.contains(namespace) {
            return false;
        }
        self.namespaces
            .as_ref()
            .is_none_or(|set| set.contains(namespace))
    }

    /// The selection that captures this scope from a live cluster (the snapshot's own, its
    /// namespaces through the transform), with its label selector.
    pub fn live_selection(&self, snapshot: &Selection) -> Selection {
        Selection {
            namespaces: self
                .namespaces
                .as_ref()
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default(),
            exclude_namespaces: self.excluded.iter().cloned().collect(),
            selector: snapshot.selector.clone(),
            include_system: self.include_system,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::SourceInfo;
    use serde_json::json;

    fn manifest(source: &str, namespaces: &[&str]) -> Manifest {
        serde_json::from_value(json!({
            "format": "routevault.dev/artifact", "format_version": 1, "id": "x", "env": "e",
            "created": "2026-11-27T00:00:00Z", "tool": {"name": "routevault", "version": "0"},
            "source": SourceInfo { kind: source.into(), ..Default::default() },
            "selection": {"namespaces": namespaces}, "secrets": "sealed", "entries": []
        }))
        .unwrap()
    }

    fn object(kind: &str, api: &str, namespace: Option<&str>, name: &str) -> Object {
        let mut o = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = namespace {
            o["metadata"]["namespace"] = json!(ns);
        }
        Object(o)
    }

    fn ingress(ns: &str) -> Object {
        object("Ingress", "networking.k8s.io/v1", Some(ns), "web")
    }

    #[test]
    fn a_folder_snapshot_covers_the_namespaces_it_holds_and_no_cluster_scoped_extras() {
        let objects = [ingress("shop"), object("Namespace", "v1", None, "blog")];
        let scope = Scope::of(
            &manifest("dir", &[]),
            objects
                .iter()
                .map(Object::object_ref)
                .collect::<Vec<_>>()
                .iter()
                .filter_map(crate::object::ObjectRef::home_namespace),
            &Transform::default(),
        );
        assert!(scope.covers(&ingress("shop")));
        assert!(scope.covers(&ingress("blog")));
        assert!(!scope.covers(&ingress("other")));
        assert!(!scope.covers(&object(
            "IngressClass",
            "networking.k8s.io/v1",
            None,
            "nginx"
        )));
        assert!(scope.covers(&object("Namespace", "v1", None, "shop")));
        assert!(!scope.covers(&object("Namespace", "v1", None, "other")));
    }

    #[test]
    fn a_whole_cluster_snapshot_covers_everything_routing_but_system_objects() {
        let scope = Scope::of(&manifest("cluster", &[]), [], &Transform::default());
        assert!(scope.covers(&ingress("anything")));
        assert!(scope.covers(&object(
            "IngressClass",
            "networking.k8s.io/v1",
            None,
            "nginx"
        )));
        assert!(!scope.covers(&ingress("kube-system")));
        assert!(!scope.covers(&object("Service", "v1", Some("default"), "kubernetes")));
        assert!(!scope.covers(&object("Deployment", "apps/v1", Some("shop"), "web")));
    }

    #[test]
    fn a_clone_scope_is_the_targets_namespaces_narrowed_by_only_and_namespace() {
        let transform = Transform {
            namespaces: [("shop".to_string(), "shop-staging".to_string())].into(),
            only: vec![crate::transform::parse_kind("Ingress").unwrap()],
            ..Default::default()
        };
        let scope = Scope::of(&manifest("cluster", &["shop", "blog"]), [], &transform);
        assert!(scope.covers(&ingress("shop-staging")));
        assert!(!scope.covers(&ingress("shop")));
        assert!(scope.covers(&ingress("blog")));
        assert!(!scope.covers(&object("Service", "v1", Some("blog"), "web")));
        let narrowed = Transform {
            only_namespaces: vec!["blog".into()],
            ..Default::default()
        };
        let scope = Scope::of(&manifest("cluster", &[]), [], &narrowed);
        assert!(scope.covers(&ingress("blog")));
        assert!(!scope.covers(&ingress("shop")));
    }

    #[test]
    fn secrets_are_out_of_scope_of_a_snapshot_without_them() {
        let mut m = manifest("cluster", &[]);
        m.secrets = SecretsMode::Skip;
        let scope = Scope::of(&m, [], &Transform::default());
        assert!(!scope.covers(&object("Secret", "v1", Some("shop"), "tls")));
    }
}
