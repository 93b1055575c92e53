//! API versions that Kubernetes or an add-on removed, met in manifests (`snapshot --from-dir`).
//! Pure. Each is either converted to its current version with a warning, as `kubectl convert`
//! does, or refused with the migration to run; never skipped silently, and never passed on to
//! fail at restore time with a "field not declared in schema" from the API server.
//!
//! - `extensions/v1beta1` and `networking.k8s.io/v1beta1` Ingress (removed in Kubernetes
//!   1.22) → `networking.k8s.io/v1`: `backend` becomes `defaultBackend`, each backend's
//!   `serviceName`/`servicePort` becomes `service.name`/`service.port.number|name`, and a path
//!   without `pathType` gets `ImplementationSpecific` (what v1beta1 meant).
//! - `networking.k8s.io/v1beta1` IngressClass → `networking.k8s.io/v1` (same fields).
//! - A Service's `spec.ipFamily` (removed in Kubernetes 1.20) → `spec.ipFamilies`.
//! - cert-manager's `v1alpha2`, `v1alpha3` and `v1beta1` (removed in cert-manager 1.7) are
//!   refused: their conversion is cert-manager's own (`cmctl convert`).

use serde_json::{Map, Value, json};

use crate::object::Object;

/// What became of an object.
#[derive(Debug, PartialEq, Eq)]
pub enum Converted {
    /// Nothing removed in it.
    Current,
    /// Converted; the warning says from what.
    Converted(String),
}

/// Converts `object` in place if it uses a removed API version or field; `Err` says why it
/// cannot be and what to do.
pub fn convert(object: &mut Object) -> Result<Converted, String> {
    let api_version = object.api_version().to_string();
    let kind = object.kind().to_string();
    match (api_version.as_str(), kind.as_str()) {
        ("extensions/v1beta1" | "networking.k8s.io/v1beta1", "Ingress") => {
            ingress_to_v1(&mut object.0);
            Ok(Converted::Converted(format!(
                "{} was written as {api_version}, which Kubernetes 1.22 removed; converted to \
                 networking.k8s.io/v1 as `kubectl convert` does (write v1 in the file)",
                object.object_ref()
            )))
        }
        ("networking.k8s.io/v1beta1", "IngressClass") => {
            object.0["apiVersion"] = json!("networking.k8s.io/v1");
            Ok(Converted::Converted(format!(
                "{} was written as networking.k8s.io/v1beta1, which Kubernetes 1.22 removed; \
                 converted to networking.k8s.io/v1 (same fields)",
                object.object_ref()
            )))
        }
        (
            "cert-manager.io/v1alpha2"
            | "cert-manager.io/v1alpha3"
            | "cert-manager.io/v1beta1"
            | "acme.cert-manager.io/v1alpha2"
            | "acme.cert-manager.io/v1alpha3"
            | "acme.cert-manager.io/v1beta1",
            _,
        ) => Err(format!(
            "{kind} {} is written as {api_version}, which cert-manager 1.7 removed; convert the \
             file to {}/v1 with `cmctl convert -f FILE` and snapshot again",
            object.name(),
            api_version.split('/').next().unwrap_or_default()
        )),
        ("v1", "Service") => Ok(service_ip_family(object)),
        _ => Ok(Converted::Current),
    }
}

fn ingress_to_v1(ingress: &mut Value) {
    ingress["apiVersion"] = json!("networking.k8s.io/v1");
    let Some(spec) = ingress.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(backend) = spec.remove("backend") {
        spec.insert("defaultBackend".into(), backend_to_v1(backend));
    }
    let rules = spec.get_mut("rules").and_then(Value::as_array_mut);
    for rule in rules.into_iter().flatten() {
        let paths = rule
            .pointer_mut("/http/paths")
            .and_then(Value::as_array_mut);
        for path in paths.into_iter().flatten().filter_map(Value::as_object_mut) {
            if let Some(backend) = path.remove("backend") {
                path.insert("backend".into(), backend_to_v1(backend));
            }
            path.entry("pathType")
                .or_insert_with(|| json!("ImplementationSpecific"));
        }
    }
}

/// `{serviceName, servicePort}` → `{service: {name, port: {number | name}}}`; a `resource`
/// backend is the same in both versions.
fn backend_to_v1(backend: Value) -> Value {
    let Value::Object(mut old) = backend else {
        return backend;
    };
    let (Some(name), port) = (old.remove("serviceName"), old.remove("servicePort")) else {
        return Value::Object(old);
    };
    let mut service = Map::new();
    service.insert("name".into(), name);
    match port {
        Some(Value::Number(number)) => {
            service.insert("port".into(), json!({ "number": number }));
        }
        Some(Value::String(port_name)) => {
            service.insert("port".into(), json!({ "name": port_name }));
        }
        _ => {}
    }
    old.insert("service".into(), Value::Object(service));
    Value::Object(old)
}

fn service_ip_family(service: &mut Object) -> Converted {
    let what = service.object_ref().to_string();
    let Some(spec) = service.0.get_mut("spec").and_then(Value::as_object_mut) else {
        return Converted::Current;
    };
    let Some(family) = spec.remove("ipFamily") else {
        return Converted::Current;
    };
    spec.entry("ipFamilies").or_insert_with(|| json!([family]));
    Converted::Converted(format!(
        "{what} sets spec.ipFamily, which Kubernetes 1.20 removed; converted to spec.ipFamilies"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1beta1_ingress_becomes_v1_as_kubectl_convert_writes_it() {
        // The shape of the Kubernetes 1.18 documentation's Ingress examples.
        let mut ingress = Object(json!({
            "apiVersion": "extensions/v1beta1", "kind": "Ingress",
            "metadata": {"name": "simple-fanout", "namespace": "web",
                         "annotations": {"kubernetes.io/ingress.class": "nginx"}},
            "spec": {
                "backend": {"serviceName": "default-http", "servicePort": 80},
                "tls": [{"hosts": ["foo.bar.com"], "secretName": "foo-tls"}],
                "rules": [{"host": "foo.bar.com", "http": {"paths": [
                    {"path": "/foo", "backend": {"serviceName": "service1", "servicePort": 4200}},
                    {"path": "/bar", "pathType": "Prefix", "backend": {"serviceName": "service2", "servicePort": "http"}},
                    {"path": "/static", "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static"}}},
                ]}}],
            },
        }));
        let outcome = convert(&mut ingress).unwrap();
        assert!(
            matches!(&outcome, Converted::Converted(w) if w.contains("extensions/v1beta1") && w.contains("Ingress web/simple-fanout")),
            "{outcome:?}"
        );
        assert_eq!(
            ingress.0,
            json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "simple-fanout", "namespace": "web",
                             "annotations": {"kubernetes.io/ingress.class": "nginx"}},
                "spec": {
                    "defaultBackend": {"service": {"name": "default-http", "port": {"number": 80}}},
                    "tls": [{"hosts": ["foo.bar.com"], "secretName": "foo-tls"}],
                    "rules": [{"host": "foo.bar.com", "http": {"paths": [
                        {"path": "/foo", "pathType": "ImplementationSpecific",
                         "backend": {"service": {"name": "service1", "port": {"number": 4200}}}},
                        {"path": "/bar", "pathType": "Prefix",
                         "backend": {"service": {"name": "service2", "port": {"name": "http"}}}},
                        {"path": "/static", "pathType": "ImplementationSpecific",
                         "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static"}}},
                    ]}}],
                },
            })
        );
        assert_eq!(convert(&mut ingress).unwrap(), Converted::Current);
    }

    #[test]
    fn removed_cert_manager_versions_are_refused_with_the_migration() {
        let mut certificate = Object(
            json!({"apiVersion": "cert-manager.io/v1alpha2", "kind": "Certificate",
            "metadata": {"name": "web", "namespace": "shop"}}),
        );
        let err = convert(&mut certificate).unwrap_err();
        assert!(
            err.contains("Certificate web")
                && err.contains("cmctl convert")
                && err.contains("cert-manager.io/v1"),
            "{err}"
        );
    }

    #[test]
    fn a_removed_service_ip_family_becomes_ip_families() {
        let mut service = Object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": {"ipFamily": "IPv6", "ports": [{"port": 80}]}}));
        assert!(matches!(
            convert(&mut service).unwrap(),
            Converted::Converted(_)
        ));
        assert_eq!(
            service.0["spec"],
            json!({"ipFamilies": ["IPv6"], "ports": [{"port": 80}]})
        );
        let mut class = Object(
            json!({"apiVersion": "networking.k8s.io/v1beta1", "kind": "IngressClass",
            "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
        );
        assert!(matches!(
            convert(&mut class).unwrap(),
            Converted::Converted(_)
        ));
        assert_eq!(class.api_version(), "networking.k8s.io/v1");
    }
}
