//! Removes a CRD's schema defaults from places managedFields cannot describe. Pure.
//!
//! Why: the API server fills a CRD's `default`s into objects as they are stored. Outside
//! atomic values, managedFields tell which fields a user set, and `managed` prunes the rest.
//! Inside an atomic list or map (most Gateway API lists: `parentRefs`, `rules`, `backendRefs`,
//! `matches`), the one who set the list owns all of it, defaults included: an HTTPRoute applied
//! with `backendRefs: [{name: web, port: 80}]` is stored as `[{group: "", kind: Service, name:
//! web, port: 80, weight: 1}]`. Kept, those defaults make a snapshot of a cluster differ from
//! the manifests that populated it, and restore one CRD version's defaults as if a user had
//! chosen them.
//!
//! Rule: inside an atomic value, a field whose value equals the default the served schema
//! declares for it is removed — the target's API server puts it back when the object is
//! applied, so nothing that changes behaviour is lost. Fields outside atomic values, and any
//! value that differs from its default, are never touched.

use serde_json::Value;

/// Strips schema defaults inside atomic values of `object` (see the module documentation).
/// `schema` is the served version's `openAPIV3Schema`.
pub fn strip_atomic_defaults(object: &mut Value, schema: &Value) {
    strip(object, schema, false);
}

/// Walks `value` with its `schema`; `atomic` is whether an enclosing value is atomic.
fn strip(value: &mut Value, schema: &Value, atomic: bool) {
    match value {
        Value::Object(map) => {
            let atomic = atomic || schema["x-kubernetes-map-type"] == "atomic";
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            let mut defaulted = Vec::new();
            for (key, field) in map.iter_mut() {
                let field_schema = match properties.and_then(|p| p.get(key)) {
                    Some(s) => s,
                    None if additional.is_object() => additional,
                    None => continue,
                };
                if atomic && field_schema.get("default") == Some(field) {
                    defaulted.push(key.clone());
                } else {
                    strip(field, field_schema, atomic);
                }
            }
            for key in defaulted {
                map.remove(&key);
            }
        }
        Value::Array(items) => {
            // A CRD list without a list type is atomic (structural schema rules).
            let list_type = schema["x-kubernetes-list-type"]
                .as_str()
                .unwrap_or("atomic");
            let atomic = atomic || list_type == "atomic";
            let item_schema = &schema["items"];
            for item in items {
                strip(item, item_schema, atomic);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shape of Gateway API v1.6's HTTPRoute schema, cut down to what the rule reads.
    fn route_schema() -> Value {
        let backend = json!({"type": "object", "properties": {
            "group": {"type": "string", "default": ""},
            "kind": {"type": "string", "default": "Service"},
            "name": {"type": "string"},
            "port": {"type": "integer"},
            "weight": {"type": "integer", "default": 1}}});
        json!({"type": "object", "properties": {
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {
                "parentRefs": {"type": "array", "x-kubernetes-list-type": "atomic", "items": backend.clone()},
                "granular": {"type": "array", "x-kubernetes-list-type": "map", "items": backend.clone()},
                "topWeight": {"type": "integer", "default": 1},
                "rules": {"type": "array", "items": {"type": "object", "properties": {
                    "backendRefs": {"type": "array", "items": backend},
                    "matches": {"type": "array", "default": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "items": {"type": "object", "properties": {"path": {"type": "object", "properties": {
                            "type": {"type": "string", "default": "PathPrefix"},
                            "value": {"type": "string", "default": "/"}}}}}}}}}}}}})
    }

    #[test]
    fn defaults_inside_atomic_lists_go_and_everything_else_stays() {
        let mut route = json!({"metadata": {"name": "r"}, "spec": {
            "parentRefs": [{"group": "", "kind": "Service", "name": "gw", "weight": 1}],
            "granular": [{"kind": "Service", "name": "kept", "weight": 1}],
            "topWeight": 1,
            "rules": [
                {"backendRefs": [{"group": "", "kind": "Service", "name": "web", "port": 80, "weight": 5}],
                 "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]},
                {"matches": [{"path": {"type": "Exact", "value": "/"}}],
                 "backendRefs": [{"group": "example.com", "kind": "Bucket", "name": "b"}]}]}});
        strip_atomic_defaults(&mut route, &route_schema());
        assert_eq!(
            route,
            json!({"metadata": {"name": "r"}, "spec": {
                "parentRefs": [{"name": "gw"}],
                "granular": [{"kind": "Service", "name": "kept", "weight": 1}],
                "topWeight": 1,
                "rules": [
                    {"backendRefs": [{"name": "web", "port": 80, "weight": 5}]},
                    {"matches": [{"path": {"type": "Exact"}}],
                     "backendRefs": [{"group": "example.com", "kind": "Bucket", "name": "b"}]}]}})
        );
    }

    #[test]
    fn an_empty_or_unrelated_schema_changes_nothing() {
        let original = json!({"spec": {"rules": [{"weight": 1}]}, "data": [1, 2]});
        for schema in [
            json!({}),
            json!(null),
            json!({"properties": {"spec": {"type": "string"}}}),
        ] {
            let mut object = original.clone();
            strip_atomic_defaults(&mut object, &schema);
            assert_eq!(object, original, "{schema}");
        }
    }
}
