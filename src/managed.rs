//! Keeps only the fields someone set: prunes an object to the union of the field sets its
//! `metadata.managedFields` record (server-side apply's FieldsV1). Pure.
//!
//! Why: the API server fills in defaults (a Service's `type`, `sessionAffinity`, `ipFamilies`,
//! a port's `protocol`, ...) that nobody owns. A backup that keeps them restores the defaults of
//! the source cluster's version as if a user had set them, and a snapshot of a cluster would
//! differ from the manifests that populated it. Pruning to owned fields makes the two the same.
//!
//! FieldsV1 in short: a map whose keys are `f:<field>` (a map field), `k:<json>` (an element of
//! an associative list, by its key fields), `v:<json>` (an element of a set), `i:<n>` (an
//! element by index) and `.` (the element itself). An empty map `{}` owns the whole value.

use crate::json_pointer::Pointer;
use serde_json::{Map, Value};

/// Prunes `object` to the fields owned in its managedFields. Objects without managedFields
/// (hand-written manifests) are returned unchanged. `apiVersion`, `kind`, `metadata.name` and
/// `metadata.namespace` are always kept; so is a Secret's `data`, whose keys the server writes
/// itself when a manifest uses `stringData`.
pub fn prune_to_managed(object: &Value) -> Value {
    let Some(entries) = object
        .at("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return object.clone();
    };
    let mut owned = Map::new();
    for entry in entries {
        // Status is runtime state, dropped by normalisation anyway.
        if entry
            .get("subresource")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            continue;
        }
        if let Some(fields) = entry.get("fieldsV1").and_then(Value::as_object) {
            merge(&mut owned, fields);
        }
    }
    if owned.is_empty() {
        return object.clone();
    }
    let Some(root) = object.as_object() else {
        return object.clone();
    };
    let mut out = Map::new();
    for (key, value) in root {
        let always = matches!(key.as_str(), "apiVersion" | "kind");
        let secret_data = key == "data"
            && root.get("kind") == Some(&Value::String("Secret".into()))
            && root.get("apiVersion") == Some(&Value::String("v1".into()));
        if always || secret_data {
            out.insert(key.clone(), value.clone());
        } else if key == "metadata" {
            out.insert(key.clone(), prune_metadata(value, owned.get("f:metadata")));
        } else if let Some(node) = owned.get(&format!("f:{key}"))
            && let Some(kept) = prune(value, node)
        {
            out.insert(key.clone(), kept);
        }
    }
    Value::Object(out)
}

fn prune_metadata(metadata: &Value, node: Option<&Value>) -> Value {
    let Some(map) = metadata.as_object() else {
        return metadata.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        if matches!(key.as_str(), "name" | "namespace" | "managedFields") {
            // managedFields stays for the node-port rule in normalize, which removes it.
            out.insert(key.clone(), value.clone());
            continue;
        }
        if let Some(child) = node.and_then(|n| n.get(format!("f:{key}")))
            && let Some(kept) = prune(value, child)
        {
            out.insert(key.clone(), kept);
        }
    }
    Value::Object(out)
}

/// The part of `value` that `node` owns, or None if nothing.
fn prune(value: &Value, node: &Value) -> Option<Value> {
    let Some(node) = node.as_object() else {
        return Some(value.clone());
    };
    let children = node.keys().any(|k| k != ".");
    if !children {
        return Some(value.clone()); // a leaf, or an atomic value owned whole
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child_value) in map {
                if let Some(child) = node.get(&format!("f:{key}"))
                    && let Some(kept) = prune(child_value, child)
                {
                    out.insert(key.clone(), kept);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                if let Some(child) = list_element(node, item, index)
                    && let Some(kept) = prune(item, child)
                {
                    out.push(kept);
                }
            }
            Some(Value::Array(out))
        }
        _ => Some(value.clone()),
    }
}

/// The FieldsV1 node that owns `item` of a list, if any.
fn list_element<'a>(node: &'a Map<String, Value>, item: &Value, index: usize) -> Option<&'a Value> {
    for (key, child) in node {
        if let Some(json) = key.strip_prefix("k:") {
            let Ok(Value::Object(wanted)) = serde_json::from_str::<Value>(json) else {
                continue;
            };
            if wanted
                .iter()
                .all(|(field, expected)| item.get(field) == Some(expected))
            {
                return Some(child);
            }
        } else if let Some(json) = key.strip_prefix("v:") {
            if serde_json::from_str::<Value>(json).ok().as_ref() == Some(item) {
                return Some(child);
            }
        } else if let Some(number) = key.strip_prefix("i:")
            && number.parse::<usize>() == Ok(index)
        {
            return Some(child);
        }
    }
    None
}

/// Union of two FieldsV1 trees.
fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge(existing, incoming),
            (Some(_), _) => {}
            (None, _) => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Service as kube-apiserver returns it after `kubectl apply --server-side` of
    /// `spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}`.
    fn applied_service() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {
                "name": "web", "namespace": "shop", "uid": "u", "resourceVersion": "9",
                "labels": {"app": "web"},
                "managedFields": [{
                    "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}},
                                 "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}}},
                                            "f:selector": {}}}
                }]
            },
            "spec": {
                "clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"], "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
                "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        })
    }

    #[test]
    fn server_defaults_are_pruned_and_user_fields_kept() {
        let out = prune_to_managed(&applied_service());
        assert_eq!(
            out["spec"],
            json!({"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "web"}})
        );
        assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(out["metadata"]["name"], "web");
        assert!(out["metadata"].get("uid").is_none());
        assert!(out.get("status").is_none());
    }

    #[test]
    fn fields_of_every_manager_are_kept() {
        let mut service = applied_service();
        service["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .push(json!({
                "manager": "kubectl-edit", "operation": "Update",
                "fieldsV1": {"f:spec": {"f:sessionAffinity": {}}}
            }));
        let out = prune_to_managed(&service);
        assert_eq!(out["spec"]["sessionAffinity"], "None");
        assert!(out["spec"].get("ipFamilies").is_none());
    }

    #[test]
    fn status_subresource_managers_do_not_count() {
        let mut service = applied_service();
        service["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .push(json!({
                "manager": "controller", "operation": "Update", "subresource": "status",
                "fieldsV1": {"f:spec": {"f:type": {}}}
            }));
        assert!(prune_to_managed(&service)["spec"].get("type").is_none());
    }

    #[test]
    fn sets_and_atomic_lists() {
        let object = json!({
            "apiVersion": "x/v1", "kind": "X",
            "metadata": {"name": "a", "finalizers": ["keep", "drop"], "managedFields": [{
                "fieldsV1": {"f:metadata": {"f:finalizers": {"v:\"keep\"": {}}}, "f:spec": {"f:rules": {}}}}]},
            "spec": {"rules": [{"host": "a"}, {"host": "b"}], "defaulted": true}
        });
        let out = prune_to_managed(&object);
        assert_eq!(out["metadata"]["finalizers"], json!(["keep"]));
        assert_eq!(
            out["spec"],
            json!({"rules": [{"host": "a"}, {"host": "b"}]})
        );
    }

    #[test]
    fn secret_data_is_kept_whole_and_unmanaged_objects_unchanged() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "t", "managedFields": [{"fieldsV1": {"f:stringData": {}, "f:type": {}}}]},
            "data": {"tls.crt": "Yw==", "tls.key": "aw=="}});
        let out = prune_to_managed(&secret);
        assert_eq!(out["data"], secret["data"]);
        assert_eq!(out["type"], "kubernetes.io/tls");
        let plain = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"type": "ClusterIP"}});
        assert_eq!(prune_to_managed(&plain), plain);
    }
}
