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

use serde_json::{Map, Value};

/// Prunes `object` to the fields owned in its managedFields. Objects without managedFields
/// (hand-written manifests) are returned unchanged. `apiVersion`, `kind`, `metadata.name` and
/// `metadata.namespace` are always kept; so is a Secret's `data`, whose keys the server writes
/// itself when a manifest uses `stringData`. `metadata.managedFields` itself is kept for the
/// node-port rule in normalize, which removes it.
///
/// Takes the object by value and moves what it keeps: a snapshot normalises every object it
/// lists, and copying each tree was a fifth of its allocations (docs/performance.md).
pub fn prune_to_managed(mut object: Value) -> Value {
    // Taken out while the rest is pruned, so the rest can be moved while the field sets are
    // read; put back at the end.
    let Some(managed) = object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|metadata| metadata.remove("managedFields"))
    else {
        return object;
    };
    let field_sets: Vec<&Map<String, Value>> = managed
        .as_array()
        .into_iter()
        .flatten()
        // Status is runtime state, dropped by normalisation anyway.
        .filter(|entry| {
            entry
                .get("subresource")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
        .filter_map(|entry| entry.get("fieldsV1").and_then(Value::as_object))
        .collect();
    // One manager (the usual case) is read where it is; several are merged into a union.
    let merged;
    let owned: &Map<String, Value> = match field_sets.as_slice() {
        [only] => only,
        several => {
            let mut union = Map::new();
            for fields in several {
                merge(&mut union, fields);
            }
            merged = union;
            &merged
        }
    };
    let mut out = if owned.is_empty() {
        object
    } else {
        prune_root(object, owned)
    };
    drop(field_sets);
    if let Some(metadata) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("managedFields".into(), managed);
    }
    out
}

fn prune_root(object: Value, owned: &Map<String, Value>) -> Value {
    let Value::Object(root) = object else {
        return object;
    };
    let secret = root.get("kind").and_then(Value::as_str) == Some("Secret")
        && root.get("apiVersion").and_then(Value::as_str) == Some("v1");
    let mut out = Map::new();
    for (key, value) in root {
        let always = matches!(key.as_str(), "apiVersion" | "kind");
        if always || (secret && key == "data") {
            out.insert(key, value);
        } else if key == "metadata" {
            let kept = prune_metadata(value, owned_field(owned, "metadata"));
            out.insert(key, kept);
        } else if let Some(node) = owned_field(owned, &key)
            && let Some(kept) = prune(value, node)
        {
            out.insert(key, kept);
        }
    }
    Value::Object(out)
}

/// The FieldsV1 node of map field `key` (`f:<key>`), looked up without allocating for any
/// key of a sane length.
fn owned_field<'a>(node: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    const PREFIX: &[u8] = b"f:";
    let mut buffer = [0u8; 256];
    let len = PREFIX.len() + key.len();
    if len > buffer.len() {
        return node.get(&format!("f:{key}"));
    }
    buffer[..PREFIX.len()].copy_from_slice(PREFIX);
    buffer[PREFIX.len()..len].copy_from_slice(key.as_bytes());
    // An ASCII prefix and a whole str: always UTF-8.
    let name = std::str::from_utf8(&buffer[..len]).ok()?;
    node.get(name)
}

fn prune_metadata(metadata: Value, node: Option<&Value>) -> Value {
    let Value::Object(map) = metadata else {
        return metadata;
    };
    let node = node.and_then(Value::as_object);
    let mut out = Map::new();
    for (key, value) in map {
        if matches!(key.as_str(), "name" | "namespace") {
            out.insert(key, value);
            continue;
        }
        if let Some(child) = node.and_then(|n| owned_field(n, &key))
            && let Some(kept) = prune(value, child)
        {
            out.insert(key, kept);
        }
    }
    Value::Object(out)
}

/// The part of `value` that `node` owns, or None if nothing.
fn prune(value: Value, node: &Value) -> Option<Value> {
    let Some(node) = node.as_object() else {
        return Some(value);
    };
    let children = node.keys().any(|k| k != ".");
    if !children {
        return Some(value); // a leaf, or an atomic value owned whole
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child_value) in map {
                if let Some(child) = owned_field(node, &key)
                    && let Some(kept) = prune(child_value, child)
                {
                    out.insert(key, kept);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                if let Some(child) = list_element(node, &item, index)
                    && let Some(kept) = prune(item, child)
                {
                    out.push(kept);
                }
            }
            Some(Value::Array(out))
        }
        other => Some(other),
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
        let out = prune_to_managed(applied_service());
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
        let out = prune_to_managed(service);
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
        assert!(prune_to_managed(service)["spec"].get("type").is_none());
    }

    #[test]
    fn sets_and_atomic_lists() {
        let object = json!({
            "apiVersion": "x/v1", "kind": "X",
            "metadata": {"name": "a", "finalizers": ["keep", "drop"], "managedFields": [{
                "fieldsV1": {"f:metadata": {"f:finalizers": {"v:\"keep\"": {}}}, "f:spec": {"f:rules": {}}}}]},
            "spec": {"rules": [{"host": "a"}, {"host": "b"}], "defaulted": true}
        });
        let out = prune_to_managed(object);
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
        let out = prune_to_managed(secret.clone());
        assert_eq!(out["data"], secret["data"]);
        assert_eq!(out["type"], "kubernetes.io/tls");
        let plain = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"type": "ClusterIP"}});
        assert_eq!(prune_to_managed(plain.clone()), plain);
    }
}
