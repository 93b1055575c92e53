//! Live object → portable object. Pure functions, no I/O.
//!
//! Removes what a cluster adds at run time and what would be wrong or harmful on another
//! cluster: status, uid, resourceVersion, generation, timestamps, managedFields, selfLink,
//! deletion fields, owner references (their uids do not exist elsewhere, and the garbage
//! collector would delete the restored object), finalizers (their controllers may not exist
//! on the target), the kubectl last-applied annotation, and the cluster IPs and node ports
//! the cluster allocated. A cluster IP and node ports a user set explicitly stay; "explicit" is
//! judged from managedFields or the last-applied annotation, as Velero's service restore
//! action does. An object with neither is a hand-written manifest, where everything is
//! explicit — unless it carries a uid or resourceVersion: then it is a dump of a live object
//! (`kubectl get -o yaml` hides managedFields), nothing can be told apart, and allocations go
//! (with a warning, see `allocation_warning`).
//!
//! A field an admission plugin sets without a managedFields entry is kept when it decides
//! behaviour (an Ingress's `ingressClassName`, written by DefaultIngressClass).
//!
//! Fields nobody set — the API server's defaults — are pruned first, using managedFields
//! (see `managed`), so a snapshot of a cluster equals the manifests that populated it.
//!
//! Output is deterministic: object keys are sorted and nothing depends on time or order of
//! discovery.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::catalog::{CORE, DISCOVERY};
use crate::json_pointer::Pointer;
use crate::object::Object;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

const RUNTIME_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "generateName",
];

/// Normalises one object. See the module documentation for what is removed and why. Takes
/// the object by value: what is kept is moved, not copied.
pub fn normalize(object: Object) -> Object {
    let explicit = ExplicitPorts::of(&object);
    let admission_set = admission_set_fields(&object);
    let rules = match (object.group(), object.kind()) {
        (CORE, "Namespace") => KindRules::Namespace,
        (CORE, "Service") => KindRules::Service,
        (CORE, "Secret") => KindRules::Secret,
        (DISCOVERY, "EndpointSlice") => KindRules::EndpointSlice,
        _ => KindRules::None,
    };
    let mut out = Object(crate::managed::prune_to_managed(object.0));
    restore_admission_set_fields(admission_set, &mut out);
    let root = match out.0.as_object_mut() {
        Some(root) => root,
        None => return out,
    };
    root.remove("status");

    if let Some(metadata) = root.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in RUNTIME_METADATA {
            metadata.remove(*field);
        }
        remove_key_and_empty(metadata, "annotations", LAST_APPLIED);
        drop_if_empty(metadata, "labels");
    }

    match rules {
        KindRules::Namespace => normalize_namespace(root),
        KindRules::Service => normalize_service(root, &explicit),
        KindRules::Secret => normalize_secret(root),
        KindRules::EndpointSlice => normalize_endpoint_slice(root),
        KindRules::None => {}
    }
    out
}

/// Which kind's own rules apply, decided before the object is moved into pruning.
enum KindRules {
    Namespace,
    Service,
    Secret,
    EndpointSlice,
    None,
}

/// Fields an admission plugin writes without a managedFields entry, whose value decides
/// behaviour: pruned as "nobody set it", they would take the target's default instead of the
/// source's (the DefaultIngressClass plugin binds a class-less Ingress to the default class
/// when it is created; restored into a cluster with another default, it would be served by
/// another controller). Kept whenever the source has them.
const ADMISSION_SET_FIELDS: &[(&str, &str, &str, &str)] = &[(
    crate::catalog::NETWORKING,
    "Ingress",
    "spec",
    "ingressClassName",
)];

/// The admission-set fields `source` has, to put back after pruning: (parent, field, value).
fn admission_set_fields(source: &Object) -> Vec<(&'static str, &'static str, Value)> {
    ADMISSION_SET_FIELDS
        .iter()
        .filter(|(group, kind, _, _)| (source.group(), source.kind()) == (*group, *kind))
        .filter_map(|(_, _, parent, field)| {
            let value = source.0.get(*parent)?.get(*field)?;
            Some((*parent, *field, value.clone()))
        })
        .collect()
}

fn restore_admission_set_fields(fields: Vec<(&str, &str, Value)>, out: &mut Object) {
    let Some(root) = out.0.as_object_mut() else {
        return;
    };
    for (parent, field, value) in fields {
        let parent = root
            .entry(parent.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(parent) = parent.as_object_mut() {
            parent.entry(field.to_string()).or_insert(value);
        }
    }
}

/// Whether an object is a dump of a live object without its managedFields (`kubectl get -o
/// yaml` hides them): it carries a uid or resourceVersion, but nothing says who set what.
pub fn is_live_dump(object: &Object) -> bool {
    let metadata = &object.0["metadata"];
    metadata.get("managedFields").is_none()
        && object.annotation(LAST_APPLIED).is_none()
        && (metadata.get("uid").is_some() || metadata.get("resourceVersion").is_some())
}

/// A warning for a Service dumped from a live cluster without managedFields: its cluster IP
/// and node ports cannot be told from the ones the cluster allocated, so they are left out.
pub fn allocation_warning(object: &Object) -> Option<String> {
    if (object.group(), object.kind()) != (CORE, "Service") || !is_live_dump(object) {
        return None;
    }
    let spec = &object.0["spec"];
    let has_node_port = spec["ports"]
        .as_array()
        .is_some_and(|ports| ports.iter().any(|p| p.get("nodePort").is_some()));
    let has_ip = spec["clusterIP"].as_str().is_some_and(|ip| ip != "None");
    (has_node_port || has_ip).then(|| {
        format!(
            "{} looks like `kubectl get -o yaml` output (a uid or resourceVersion, no \
             managedFields): its cluster IP and node ports are taken as allocated and left out; \
             export with `kubectl get --show-managed-fields -o yaml` to keep the ones a user set",
            object.object_ref()
        )
    })
}

fn normalize_namespace(root: &mut Map<String, Value>) {
    if let Some(metadata) = root.get_mut("metadata").and_then(Value::as_object_mut) {
        remove_key_and_empty(metadata, "labels", NAMESPACE_NAME_LABEL);
    }
    if let Some(spec) = root.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("finalizers");
    }
    drop_if_empty(root, "spec");
}

fn normalize_service(root: &mut Map<String, Value>, explicit: &ExplicitPorts) {
    let Some(spec) = root.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    if !headless && !explicit.cluster_ip {
        spec.remove("clusterIP");
    }
    if !explicit.cluster_ip {
        spec.remove("clusterIPs");
    }
    if !explicit.health_check_node_port {
        spec.remove("healthCheckNodePort");
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            let key = port_key(port);
            if !port.contains_key("nodePort") {
                continue;
            }
            if !key.is_some_and(|k| explicit.node_ports.contains(&k)) {
                port.remove("nodePort");
            }
        }
    }
}

/// Folds `stringData` into `data`, as the API server does on write, so one form is captured.
fn normalize_secret(root: &mut Map<String, Value>) {
    let Some(Value::Object(string_data)) = root.remove("stringData") else {
        return;
    };
    let data = root
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            if let Value::String(text) = value {
                data.insert(key, Value::String(BASE64.encode(text.as_bytes())));
            }
        }
    }
}

fn normalize_endpoint_slice(root: &mut Map<String, Value>) {
    if let Some(endpoints) = root.get_mut("endpoints").and_then(Value::as_array_mut) {
        for endpoint in endpoints.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(target) = endpoint.get_mut("targetRef").and_then(Value::as_object_mut) {
                target.remove("uid");
                target.remove("resourceVersion");
            }
            // The API server writes an empty `conditions` (all unknown) into an atomic list,
            // where managedFields cannot tell it from the user's; empty means absent.
            drop_if_empty(endpoint, "conditions");
        }
    }
}

/// Removes `key` from the map-valued field `field`, and the field itself if that empties it.
fn remove_key_and_empty(parent: &mut Map<String, Value>, field: &str, key: &str) {
    if let Some(map) = parent.get_mut(field).and_then(Value::as_object_mut) {
        map.remove(key);
    }
    drop_if_empty(parent, field);
}

fn drop_if_empty(parent: &mut Map<String, Value>, field: &str) {
    let empty = match parent.get(field) {
        Some(Value::Object(map)) => map.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        parent.remove(field);
    }
}

/// A Service port's identity as managedFields keys it: (port, protocol).
type PortKey = (i64, String);

fn port_key(port: &Map<String, Value>) -> Option<PortKey> {
    let number = port.get("port")?.as_i64()?;
    let protocol = port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP");
    Some((number, protocol.to_string()))
}

/// Which node ports of a Service a user set, as opposed to ones the cluster allocated.
#[derive(Debug, Default)]
struct ExplicitPorts {
    node_ports: BTreeSet<PortKey>,
    health_check_node_port: bool,
    /// A user chose the cluster IP (kept, as explicit node ports are).
    cluster_ip: bool,
}

impl ExplicitPorts {
    fn of(object: &Object) -> Self {
        let managed = object
            .0
            .at("/metadata/managedFields")
            .and_then(Value::as_array);
        let last_applied = object
            .annotation(LAST_APPLIED)
            .and_then(|text| serde_json::from_str::<Value>(text).ok());

        if is_live_dump(object) {
            // Nothing tells a chosen value from an allocated one: take none as chosen.
            return Self::default();
        }
        if managed.is_none() && last_applied.is_none() {
            return Self::everything_in(object);
        }
        let mut explicit = Self::default();
        for entry in managed.into_iter().flatten() {
            if let Some(spec) = entry.at("/fieldsV1/f:spec").and_then(Value::as_object) {
                explicit.add_managed_spec(spec);
            }
        }
        if let Some(applied) = last_applied {
            explicit.add_spec_ports(&applied);
        }
        explicit
    }

    /// A manifest with no record of who set what: every port in it was written by hand.
    fn everything_in(object: &Object) -> Self {
        let mut explicit = Self::default();
        explicit.add_spec_ports(&object.0);
        explicit
    }

    fn add_spec_ports(&mut self, object: &Value) {
        if object.at("/spec/healthCheckNodePort").is_some() {
            self.health_check_node_port = true;
        }
        if object.at("/spec/clusterIP").is_some() {
            self.cluster_ip = true;
        }
        let ports = object.at("/spec/ports").and_then(Value::as_array);
        for port in ports.into_iter().flatten().filter_map(Value::as_object) {
            if port.contains_key("nodePort")
                && let Some(key) = port_key(port)
            {
                self.node_ports.insert(key);
            }
        }
    }

    fn add_managed_spec(&mut self, spec: &Map<String, Value>) {
        if spec.contains_key("f:healthCheckNodePort") {
            self.health_check_node_port = true;
        }
        if spec.contains_key("f:clusterIP") {
            self.cluster_ip = true;
        }
        let Some(ports) = spec.get("f:ports").and_then(Value::as_object) else {
            return;
        };
        for (key, fields) in ports {
            let Some(json_key) = key.strip_prefix("k:") else {
                continue;
            };
            let owns_node_port = fields
                .as_object()
                .is_some_and(|f| f.contains_key("f:nodePort"));
            if !owns_node_port {
                continue;
            }
            if let Ok(Value::Object(identity)) = serde_json::from_str::<Value>(json_key)
                && let Some(key) = port_key(&identity)
            {
                self.node_ports.insert(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn norm(value: Value) -> Value {
        normalize(Object(value)).0
    }

    fn live_metadata(name: &str) -> Value {
        json!({
            "name": name, "namespace": "shop", "uid": "1f3c", "resourceVersion": "812",
            "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z", "selfLink": "/x",
            "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "9"}],
            "finalizers": ["service.kubernetes.io/load-balancer-cleanup"],
            "annotations": {LAST_APPLIED: "{}"},
            "labels": {"app": "web"},
        })
    }

    #[test]
    fn runtime_metadata_and_status_are_removed_and_user_metadata_kept() {
        let out = norm(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": live_metadata("web"),
            "spec": {"rules": [{"host": "shop.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
        }));
        assert_eq!(
            out,
            json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                "spec": {"rules": [{"host": "shop.example.com"}]},
            })
        );
    }

    #[test]
    fn cluster_ip_service_loses_its_allocated_ip() {
        // A `kubectl get -o yaml` dump: a uid, no managedFields, so nothing is explicit.
        let dump = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "uid": "5d1e", "resourceVersion": "77"},
            "spec": {"type": "NodePort", "clusterIP": "10.0.0.12", "clusterIPs": ["10.0.0.12"],
                     "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080, "nodePort": 31000}]},
        });
        let out = norm(dump.clone());
        assert_eq!(
            out["spec"],
            json!({"type": "NodePort", "selector": {"app": "web"},
                                       "ports": [{"port": 80, "targetPort": 8080}]})
        );
        let warning = allocation_warning(&Object(dump)).unwrap();
        assert!(
            warning.contains("Service shop/web") && warning.contains("--show-managed-fields"),
            "{warning}"
        );
    }

    #[test]
    fn a_cluster_ip_a_user_chose_is_kept() {
        // Hand-written manifest: every value in it was chosen.
        let manifest = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns", "namespace": "shop"},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": "UDP"}]},
        });
        assert_eq!(norm(manifest.clone())["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(allocation_warning(&Object(manifest)), None);
        // Live object whose managedFields say a user applied the cluster IP.
        let live = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "dns", "namespace": "shop", "uid": "1",
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {
                    "f:spec": {"f:clusterIP": {}, "f:ports": {"k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}, "f:protocol": {}}}}}}]},
            "spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "type": "ClusterIP",
                     "ports": [{"port": 53, "protocol": "UDP"}]},
        });
        assert_eq!(
            norm(live)["spec"],
            json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": "UDP"}]})
        );
    }

    #[test]
    fn an_admission_set_ingress_class_is_kept() {
        // The DefaultIngressClass plugin wrote the class; no managedFields entry owns it.
        let live = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop",
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {
                    "f:spec": {"f:rules": {}}}}]},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com"}]},
        });
        assert_eq!(
            norm(live)["spec"],
            json!({"ingressClassName": "nginx", "rules": [{"host": "shop.example.com"}]})
        );
    }

    #[test]
    fn headless_service_keeps_none() {
        let out = norm(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "shop", "uid": "3"},
            "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432}]},
        }));
        assert_eq!(out["spec"]["clusterIP"], "None");
        assert!(out["spec"].get("clusterIPs").is_none());
    }

    fn node_port_service(managed_fields: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "edge", "namespace": "shop", "managedFields": managed_fields},
            "spec": {"type": "NodePort", "clusterIP": "10.0.0.7",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                               {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 31553}]},
        })
    }

    #[test]
    fn node_port_service_keeps_explicit_ports_and_drops_allocated_ones() {
        // The user set the nodePort of port 80/TCP; the cluster allocated 53/UDP's.
        let managed = json!([{
            "manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:type": {}, "f:ports": {
                "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:nodePort": {}, "f:port": {}},
                "k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}}}}}
        }]);
        let out = norm(node_port_service(managed));
        let ports = out["spec"]["ports"].as_array().unwrap();
        assert_eq!(ports[0]["nodePort"], 30080);
        assert!(
            ports[1].get("nodePort").is_none(),
            "allocated port kept: {out}"
        );
        assert!(out["spec"].get("clusterIP").is_none());
    }

    #[test]
    fn node_ports_in_last_applied_are_explicit() {
        let mut service = node_port_service(Value::Null);
        service["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        service["metadata"]["annotations"] = json!({LAST_APPLIED:
            r#"{"spec":{"ports":[{"port":53,"protocol":"UDP","nodePort":31553}]}}"#});
        let out = norm(service);
        let ports = out["spec"]["ports"].as_array().unwrap();
        assert!(ports[0].get("nodePort").is_none());
        assert_eq!(ports[1]["nodePort"], 31553);
        assert!(out["metadata"].get("annotations").is_none());
    }

    #[test]
    fn hand_written_manifest_node_ports_are_all_explicit() {
        let mut service = node_port_service(Value::Null);
        service["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        let out = norm(service);
        assert_eq!(out["spec"]["ports"][0]["nodePort"], 30080);
        assert_eq!(out["spec"]["ports"][1]["nodePort"], 31553);
    }

    #[test]
    fn load_balancer_with_local_policy_drops_allocated_health_check_port() {
        let managed = json!([{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {
            "f:type": {}, "f:externalTrafficPolicy": {},
            "f:ports": {"k:{\"port\":443,\"protocol\":\"TCP\"}": {"f:port": {}}}}}}]);
        let out = norm(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "lb", "namespace": "shop", "managedFields": managed},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "clusterIP": "10.0.0.9",
                     "healthCheckNodePort": 32100,
                     "ports": [{"port": 443, "protocol": "TCP", "nodePort": 30443}]},
            "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}},
        }));
        // The protocol was defaulted by the server (nobody owns it), so it goes too.
        assert_eq!(
            out["spec"],
            json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 443}]})
        );
        assert!(out.get("status").is_none());
    }

    #[test]
    fn explicit_health_check_node_port_stays() {
        let managed =
            json!([{"manager": "m", "fieldsV1": {"f:spec": {"f:healthCheckNodePort": {}}}}]);
        let out = norm(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "lb", "namespace": "s", "managedFields": managed},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 32100}}));
        assert_eq!(out["spec"]["healthCheckNodePort"], 32100);
    }

    #[test]
    fn namespace_loses_server_label_and_finalizer() {
        let out = norm(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "shop", "uid": "u", "labels": {NAMESPACE_NAME_LABEL: "shop"}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
        assert_eq!(
            out,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        );
    }

    #[test]
    fn secret_string_data_is_folded_into_data() {
        let out = norm(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "t", "namespace": "s"},
            "data": {"tls.crt": "Y2VydA=="}, "stringData": {"tls.key": "key"}}),
        );
        assert_eq!(
            out["data"],
            json!({"tls.crt": "Y2VydA==", "tls.key": "a2V5"})
        );
        assert!(out.get("stringData").is_none());
    }

    #[test]
    fn endpoint_slice_target_refs_lose_uids_and_empty_conditions() {
        let out = norm(
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "ext-1", "namespace": "s"}, "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["192.0.2.10"], "conditions": {},
                 "targetRef": {"kind": "Pod", "name": "p", "uid": "u", "resourceVersion": "1"}},
                {"addresses": ["192.0.2.11"], "conditions": {"ready": true}}]}),
        );
        assert_eq!(
            out["endpoints"][0],
            json!({"addresses": ["192.0.2.10"], "targetRef": {"kind": "Pod", "name": "p"}})
        );
        assert_eq!(out["endpoints"][1]["conditions"], json!({"ready": true}));
    }

    #[test]
    fn normalisation_is_idempotent_and_deterministic() {
        let input = node_port_service(json!([]));
        let once = norm(input.clone());
        assert_eq!(norm(once.clone()), once);
        let text = crate::yaml::to_string(&once);
        assert_eq!(text, crate::yaml::to_string(&norm(input)));
    }
}
