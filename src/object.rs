//! The portable object: a Kubernetes object as a JSON value, with the accessors every stage
//! needs, and the identity (`ObjectRef`) that names it in manifests, reports and errors.
//!
//! Objects stay dynamic (`serde_json::Value`): the kinds are data in the catalog, and
//! cert-manager and Gateway API objects have no Rust types here.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::{self, KindInfo};
use crate::json_pointer::Pointer;

/// A Kubernetes object. Keys are kept sorted (serde_json's default map), which makes every
/// serialisation of an object deterministic.
#[derive(Debug, Clone, PartialEq)]
pub struct Object(pub Value);

/// The identity of an object: group, kind, namespace and name. Ordered for stable output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = catalog::qualified(&self.group, &self.kind);
        write_identity(f, &kind, self.namespace.as_deref(), &self.name)
    }
}

impl ObjectRef {
    /// The namespace this object is in or, for a Namespace, is.
    #[cfg(test)]
    pub fn home_namespace(&self) -> Option<&str> {
        match &self.namespace {
            Some(ns) => Some(ns),
            None => (self.group.is_empty() && self.kind == "Namespace").then_some(&*self.name),
        }
    }
}

/// How every report, error and manifest reader spells an object: `Kind ns/name` (the kind
/// qualified by its group outside the core group), or `Kind name` when cluster-scoped.
pub fn write_identity(
    out: &mut impl fmt::Write,
    qualified_kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> fmt::Result {
    match namespace {
        Some(ns) => write!(out, "{qualified_kind} {ns}/{name}"),
        None => write!(out, "{qualified_kind} {name}"),
    }
}

/// A catalog object's identity as a big capture holds it, one per object: the kind is the
/// catalog's own entry and the namespace is shared by every object of that namespace (see
/// [`SharedNames`]), so an identity costs little more than its name, where an [`ObjectRef`]
/// owns four strings.
#[derive(Debug, Clone)]
pub struct HeldRef {
    pub kind: &'static KindInfo,
    pub namespace: Option<Arc<str>>,
    pub name: Box<str>,
}

impl HeldRef {
    /// The identity of `object`, of the catalog kind `kind`, its namespace taken from `names`.
    pub fn of(object: &Object, kind: &'static KindInfo, names: &mut SharedNames) -> Self {
        Self {
            kind,
            namespace: object.namespace().map(|ns| names.get(ns)),
            name: object.name().into(),
        }
    }

    pub fn to_object_ref(&self) -> ObjectRef {
        ObjectRef {
            group: self.kind.group.to_string(),
            kind: self.kind.kind.to_string(),
            namespace: self.namespace.as_deref().map(str::to_string),
            name: self.name.to_string(),
        }
    }

    /// The namespace this object is in or, for a Namespace, is.
    pub fn home_namespace(&self) -> Option<&str> {
        match &self.namespace {
            Some(ns) => Some(ns),
            None => {
                (self.kind.group.is_empty() && self.kind.kind == "Namespace").then_some(&*self.name)
            }
        }
    }
}

/// What identities are ordered and found by, borrowed: [`ObjectRef`]'s own order. A trait
/// object so that a set of [`HeldRef`]s can be searched with the strings of an object or an
/// [`ObjectRef`] as they are, without building (and allocating) a `HeldRef` per lookup.
trait IdentityKey {
    fn key(&self) -> (&str, &str, Option<&str>, &str);
}

impl IdentityKey for HeldRef {
    fn key(&self) -> (&str, &str, Option<&str>, &str) {
        (
            self.kind.group,
            self.kind.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }
}

/// An identity's four strings, borrowed from wherever they are.
struct BorrowedKey<'a>((&'a str, &'a str, Option<&'a str>, &'a str));

impl IdentityKey for BorrowedKey<'_> {
    fn key(&self) -> (&str, &str, Option<&str>, &str) {
        self.0
    }
}

impl<'a> std::borrow::Borrow<dyn IdentityKey + 'a> for HeldRef {
    fn borrow(&self) -> &(dyn IdentityKey + 'a) {
        self
    }
}

impl PartialEq for dyn IdentityKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for dyn IdentityKey + '_ {}

impl PartialOrd for dyn IdentityKey + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn IdentityKey + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for HeldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_identity(
            f,
            &self.kind.qualified(),
            self.namespace.as_deref(),
            &self.name,
        )
    }
}

impl PartialEq for HeldRef {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for HeldRef {}

impl PartialOrd for HeldRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HeldRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// The identities of many objects, held compactly ([`HeldRef`]s sharing their namespaces) in
/// [`ObjectRef`]'s order: what a restore keeps of every object for `--prune` and `--wait`
/// (about a third of a set of `ObjectRef`s).
#[derive(Debug, Default)]
pub struct Identities {
    names: SharedNames,
    held: BTreeSet<HeldRef>,
}

impl Identities {
    /// Records `object`'s identity. Only catalog kinds have one here: a verified artifact
    /// holds nothing else, and `--prune`, `--wait` and `diff` look at nothing else.
    pub fn insert(&mut self, object: &Object) {
        if let Some(kind) = object.catalog_kind() {
            self.held.insert(HeldRef::of(object, kind, &mut self.names));
        }
    }

    /// Whether `object`'s identity is held, looked up with the object's own strings (this runs
    /// once per live object in `--prune` and `diff --cluster`, so it allocates nothing).
    pub fn contains_object(&self, object: &Object) -> bool {
        let key = BorrowedKey((
            object.group(),
            object.kind(),
            object.namespace(),
            object.name(),
        ));
        self.held.contains(&key as &dyn IdentityKey)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.held.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// In [`ObjectRef`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = &HeldRef> {
        self.held.iter()
    }
}

/// Names many identities share (namespaces), each held once.
#[derive(Debug, Default)]
pub struct SharedNames(HashSet<Arc<str>>);

impl SharedNames {
    pub fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(name) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = name.into();
        self.0.insert(Arc::clone(&shared));
        shared
    }
}

impl Object {
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        self.0.at(pointer).and_then(Value::as_str)
    }
    pub fn api_version(&self) -> &str {
        self.str_at("/apiVersion").unwrap_or("")
    }
    pub fn kind(&self) -> &str {
        self.str_at("/kind").unwrap_or("")
    }
    pub fn group(&self) -> &str {
        catalog::split_api_version(self.api_version()).0
    }
    pub fn name(&self) -> &str {
        self.str_at("/metadata/name").unwrap_or("")
    }
    pub fn namespace(&self) -> Option<&str> {
        self.str_at("/metadata/namespace")
            .filter(|ns| !ns.is_empty())
    }
    pub fn catalog_kind(&self) -> Option<&'static KindInfo> {
        catalog::lookup(self.api_version(), self.kind())
    }
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            group: self.group().to_string(),
            kind: self.kind().to_string(),
            namespace: self.namespace().map(str::to_string),
            name: self.name().to_string(),
        }
    }

    /// Labels as (key, value) pairs.
    pub fn labels(&self) -> Map<String, Value> {
        self.0
            .at("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// The labels as strings, for selector matching (a non-string value matches nothing).
    pub fn label_map(&self) -> std::collections::BTreeMap<String, String> {
        self.0
            .at("/metadata/labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect()
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.0
            .at("/metadata/annotations")
            .and_then(Value::as_object)
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }

    /// `metadata`, created if missing.
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        object_field(&mut self.0, "metadata")
    }

    pub fn set_namespace(&mut self, namespace: &str) {
        self.metadata_mut()
            .insert("namespace".into(), Value::String(namespace.to_string()));
    }
}

/// The object-valued field `key` of `value`, created (or replaced, if not an object) on demand.
pub fn object_field<'a>(value: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    let map = value.as_object_mut().expect("just made an object");
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// Whether `name` is a valid Kubernetes object name for our purposes (a DNS-1123 subdomain):
/// lowercase alphanumerics, '-' and '.', starting and ending alphanumeric, at most 253 bytes.
/// Names become parts of file paths on restore, so this is also a safety check.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 253
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// Whether `name` is a valid namespace name (a DNS-1123 label).
pub fn is_valid_namespace(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && is_valid_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_and_identity() {
        let obj = Object(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}}
        }));
        assert_eq!(obj.group(), "networking.k8s.io");
        assert_eq!(
            obj.object_ref().to_string(),
            "networking.k8s.io/Ingress shop/web"
        );
        assert_eq!(obj.labels().get("app").unwrap(), "web");
        let ns =
            Object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}));
        assert_eq!(ns.object_ref().to_string(), "Namespace shop");
    }

    #[test]
    fn held_identities_read_as_object_refs_and_share_namespaces() {
        let mut names = SharedNames::default();
        let ingress = Object(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop"}
        }));
        let service = Object(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}}),
        );
        let class = Object(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}
        }));
        let mut held = Vec::new();
        for object in [&ingress, &service, &class] {
            let kind = object.catalog_kind().unwrap();
            let identity = HeldRef::of(object, kind, &mut names);
            assert_eq!(identity.to_object_ref(), object.object_ref());
            assert_eq!(identity.to_string(), object.object_ref().to_string());
            held.push(identity);
        }
        let (a, b) = (held[0].namespace.as_ref(), held[1].namespace.as_ref());
        assert!(
            Arc::ptr_eq(a.unwrap(), b.unwrap()),
            "one copy of a namespace"
        );
        assert!(held[2].namespace.is_none());
        assert!(!Arc::ptr_eq(&names.get("shop"), &names.get("shop-2")));
    }

    #[test]
    fn identities_are_held_in_object_ref_order_and_found_by_borrowed_key() {
        let object = |api_version: &str, kind: &str, ns: Option<&str>, name: &str| {
            let mut metadata = json!({"name": name});
            if let Some(ns) = ns {
                metadata["namespace"] = json!(ns);
            }
            Object(json!({"apiVersion": api_version, "kind": kind, "metadata": metadata}))
        };
        let objects = [
            object("networking.k8s.io/v1", "Ingress", Some("shop"), "web"),
            object("networking.k8s.io/v1", "Ingress", Some("blog"), "web"),
            object("v1", "Service", Some("shop"), "web"),
            object("v1", "Namespace", None, "shop"),
            object("networking.k8s.io/v1", "IngressClass", None, "nginx"),
            object(
                "gateway.networking.k8s.io/v1",
                "HTTPRoute",
                Some("shop"),
                "a",
            ),
            // No identity outside the catalog: no artifact holds such a kind.
            object("apps/v1", "Deployment", Some("shop"), "web"),
        ];
        let mut identities = Identities::default();
        for o in &objects {
            identities.insert(o);
        }
        identities.insert(&objects[0]);
        assert_eq!(identities.len(), 6);
        let mut expected: Vec<ObjectRef> = objects[..6].iter().map(Object::object_ref).collect();
        expected.sort();
        let held: Vec<ObjectRef> = identities.iter().map(HeldRef::to_object_ref).collect();
        assert_eq!(held, expected);
        for o in &objects[..6] {
            assert!(identities.contains_object(o), "{}", o.object_ref());
        }
        let kind = objects[6].catalog_kind();
        assert!(kind.is_none(), "a Deployment is outside the catalog");
        for absent in [
            object("apps/v1", "Deployment", Some("shop"), "web"),
            object("networking.k8s.io/v1", "Ingress", Some("shop"), "api"),
            object("networking.k8s.io/v1", "Ingress", None, "web"),
            object("v1", "Service", Some("blog"), "web"),
            object("v1", "Namespace", None, "blog"),
        ] {
            assert!(
                !identities.contains_object(&absent),
                "{}",
                absent.object_ref()
            );
        }
        let homes: Vec<Option<&str>> = identities.iter().map(HeldRef::home_namespace).collect();
        let expected_homes: Vec<Option<&str>> =
            expected.iter().map(ObjectRef::home_namespace).collect();
        assert_eq!(homes, expected_homes);
        assert!(homes.contains(&None), "an IngressClass is in no namespace");
        assert_eq!(
            homes.iter().filter(|h| **h == Some("shop")).count(),
            4,
            "the Namespace itself, its Ingress, Service and HTTPRoute: {homes:?}"
        );
    }

    #[test]
    fn names_that_could_escape_a_folder_are_invalid() {
        for bad in [
            "",
            "..",
            ".",
            "a/b",
            "../x",
            "A",
            "-a",
            "a-",
            "x\0y",
            &"a".repeat(254),
        ] {
            assert!(!is_valid_name(bad), "{bad:?} accepted");
        }
        for good in ["a", "web-1", "tls.example.com", "0"] {
            assert!(is_valid_name(good));
        }
        assert!(!is_valid_namespace("a.b"));
    }
}
