//! Whether a restored routing object is live, read from the status its controller publishes:
//! cert-manager's Certificates, Issuers and ClusterIssuers `Ready`; Gateways `Programmed`;
//! routes `Accepted` and `ResolvedRefs` for each parent they name; Ingresses with a
//! load-balancer address. A condition counts only when it was written for the object's
//! current generation: after a restore updates an object, its old `Ready` says nothing about
//! the new spec. Pure: `restore --wait` feeds it the objects its watches see.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::{CERT_MANAGER, GATEWAY, NETWORKING};

/// Where an object stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Readiness {
    Ready,
    /// Not live yet: the condition (or what is missing) and its reason and message.
    Pending {
        condition: String,
        reason: String,
        message: String,
    },
}

impl Readiness {
    fn pending(condition: &str, reason: &str, message: impl Into<String>) -> Self {
        Readiness::Pending {
            condition: condition.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

const ROUTES: [&str; 5] = ["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"];

/// Whether objects of this kind have a readiness `restore --wait` waits for; the others are
/// live once the API server has stored them.
pub fn is_waited_kind(group: &str, kind: &str) -> bool {
    match group {
        CERT_MANAGER => matches!(kind, "Certificate" | "Issuer" | "ClusterIssuer"),
        GATEWAY => kind == "Gateway" || ROUTES.contains(&kind),
        NETWORKING => kind == "Ingress",
        _ => false,
    }
}

/// The readiness of `object` (a kind for which [`is_waited_kind`] holds) from its status.
pub fn readiness(object: &Value) -> Readiness {
    let kind = object["kind"].as_str().unwrap_or_default();
    match (group_of(object), kind) {
        (CERT_MANAGER, _) => condition_true(object, &object["status"]["conditions"], "Ready"),
        (GATEWAY, "Gateway") => {
            condition_true(object, &object["status"]["conditions"], "Programmed")
        }
        (GATEWAY, route) if ROUTES.contains(&route) => route_readiness(object),
        (NETWORKING, "Ingress") => ingress_readiness(object),
        _ => Readiness::Ready,
    }
}

/// What the snapshot says may be expected of the restored routing: the IngressClasses whose
/// controller published a load-balancer address on the source cluster (after the restore's
/// class renames). None: not known (a snapshot of a folder, or an older artifact) — then every
/// Ingress waits for an address.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub addressed_ingress_classes: Option<BTreeSet<String>>,
}

/// [`readiness`], except that an Ingress of a class whose controller published no address on
/// the source is live once stored: its controller may never publish one (many do not), and
/// waiting for it would only time out.
pub fn readiness_expected(object: &Value, expectations: &Expectations) -> Readiness {
    if object["kind"] == "Ingress"
        && group_of(object) == NETWORKING
        && let Some(classes) = &expectations.addressed_ingress_classes
        && !classes.contains(ingress_class(object))
    {
        return Readiness::Ready;
    }
    readiness(object)
}

/// The API group of an object's `apiVersion` (empty for the core group, or when it names none).
fn group_of(object: &Value) -> &str {
    crate::catalog::split_api_version(object["apiVersion"].as_str().unwrap_or_default()).0
}

/// The class an Ingress names: `spec.ingressClassName`, else the older
/// `kubernetes.io/ingress.class` annotation, else "" (the cluster's default class).
pub fn ingress_class(ingress: &Value) -> &str {
    ingress["spec"]["ingressClassName"]
        .as_str()
        .or_else(|| ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"].as_str())
        .unwrap_or("")
}

/// Whether an Ingress, as listed from its cluster, carries a load-balancer address.
pub fn has_address(ingress: &Value) -> bool {
    ingress["status"]["loadBalancer"]["ingress"]
        .as_array()
        .is_some_and(|addresses| {
            addresses
                .iter()
                .any(|a| a["ip"].is_string() || a["hostname"].is_string())
        })
}

fn generation(object: &Value) -> Option<i64> {
    object["metadata"]["generation"].as_i64()
}

/// `wanted` is `True` in `conditions`, written for the object's current generation.
fn condition_true(object: &Value, conditions: &Value, wanted: &str) -> Readiness {
    let Some(condition) = conditions
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == wanted)
    else {
        return Readiness::pending(
            wanted,
            "NoCondition",
            format!("no {wanted} condition yet (is its controller running?)"),
        );
    };
    if let (Some(observed), Some(current)) =
        (condition["observedGeneration"].as_i64(), generation(object))
        && observed < current
    {
        return Readiness::pending(
            wanted,
            "Stale",
            format!("{wanted} was written for generation {observed}, the object is at {current}"),
        );
    }
    if condition["status"] == "True" {
        return Readiness::Ready;
    }
    Readiness::pending(
        wanted,
        condition["reason"].as_str().unwrap_or("Unknown"),
        condition["message"].as_str().unwrap_or_default(),
    )
}

/// A route is live when, for every parent it names, some controller has accepted it there and
/// resolved its references.
fn route_readiness(route: &Value) -> Readiness {
    let namespace = route["metadata"]["namespace"].as_str().unwrap_or_default();
    let statuses = route["status"]["parents"].as_array();
    for parent in route["spec"]["parentRefs"].as_array().into_iter().flatten() {
        let wanted = ParentKey::of(parent, namespace);
        let mine: Vec<&Value> = statuses
            .into_iter()
            .flatten()
            .filter(|s| ParentKey::of(&s["parentRef"], namespace) == wanted)
            .collect();
        if mine.is_empty() {
            return Readiness::pending(
                "Accepted",
                "NoParentStatus",
                format!(
                    "no controller has reported on parent {} yet (is its Gateway's controller running?)",
                    wanted.describe()
                ),
            );
        }
        let mut first_problem = None;
        let live = mine.iter().any(|status| {
            for condition in ["Accepted", "ResolvedRefs"] {
                if let Readiness::Pending {
                    condition,
                    reason,
                    message,
                } = condition_true(route, &status["conditions"], condition)
                {
                    first_problem.get_or_insert(Readiness::Pending {
                        condition,
                        reason,
                        message: format!("parent {}: {message}", wanted.describe()),
                    });
                    return false;
                }
            }
            true
        });
        if !live {
            return first_problem.expect("a status that is not live has a problem");
        }
    }
    Readiness::Ready
}

/// A parent reference with the Gateway API's defaults filled in, for matching a route's
/// `spec.parentRefs` with its `status.parents`.
#[derive(Debug, PartialEq, Eq)]
struct ParentKey<'a> {
    group: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    section: Option<&'a str>,
    port: Option<i64>,
}

impl<'a> ParentKey<'a> {
    fn of(reference: &'a Value, route_namespace: &'a str) -> Self {
        ParentKey {
            group: reference["group"].as_str().unwrap_or(GATEWAY),
            kind: reference["kind"].as_str().unwrap_or("Gateway"),
            namespace: reference["namespace"].as_str().unwrap_or(route_namespace),
            name: reference["name"].as_str().unwrap_or_default(),
            section: reference["sectionName"].as_str(),
            port: reference["port"].as_i64(),
        }
    }

    fn describe(&self) -> String {
        let mut text = format!("{} {}/{}", self.kind, self.namespace, self.name);
        if let Some(section) = self.section {
            text.push_str(&format!(" section {section}"));
        }
        if let Some(port) = self.port {
            text.push_str(&format!(" port {port}"));
        }
        text
    }
}

fn ingress_readiness(ingress: &Value) -> Readiness {
    if has_address(ingress) {
        return Readiness::Ready;
    }
    // Named as `ingress_class` reads it, so an Ingress classed by the older annotation names
    // its class too.
    let class = match ingress_class(ingress) {
        "" => "(the default class)",
        class => class,
    };
    Readiness::pending(
        "LoadBalancer",
        "NoAddress",
        format!(
            "no load-balancer address published yet (is the controller of IngressClass {class} \
             running, and does it publish status?)"
        ),
    )
}

/// A CertificateRequest that holds up its Certificate: cert-manager names a missing or
/// unready issuer only there, not in the Certificate's own conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StuckRequest {
    pub name: String,
    pub reason: String,
    pub message: String,
}

/// Why the issuance of Certificate `certificate` is stuck, from the newest of `requests` made
/// for it (cert-manager annotates each request with the Certificate's name and a revision
/// number); None when it has none or the newest is `Ready`.
pub fn stuck_request<'a>(
    certificate: &str,
    requests: impl IntoIterator<Item = &'a Value>,
) -> Option<StuckRequest> {
    let annotation = |request: &'a Value, key: &str| {
        request["metadata"]["annotations"][format!("cert-manager.io/{key}")].as_str()
    };
    let newest = requests
        .into_iter()
        .filter(|r| annotation(r, "certificate-name") == Some(certificate))
        .max_by_key(|r| {
            let revision =
                annotation(r, "certificate-revision").and_then(|v| v.parse::<u64>().ok());
            (
                revision,
                r["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default(),
            )
        })?;
    let ready = newest["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    let (reason, message) = match ready {
        Some(c) if c["status"] == "True" => return None,
        Some(c) => (
            c["reason"].as_str().unwrap_or("Unknown").to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        ),
        None => (
            "NoCondition".to_string(),
            "no Ready condition yet (is the controller of its issuer running?)".to_string(),
        ),
    };
    Some(StuckRequest {
        name: newest["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        reason,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Shapes as cert-manager v1.21 writes them (`kubectl get certificate -o yaml` after
    // issuance; docs: cert-manager.io/docs/usage/certificate/#inspecting-certificate-status).
    fn certificate(status: Value, generation: i64) -> Value {
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
               "metadata": {"name": "web", "namespace": "shop", "generation": generation},
               "spec": {"secretName": "web-tls", "issuerRef": {"name": "ca", "kind": "Issuer"}},
               "status": status})
    }

    #[test]
    fn a_certificate_is_ready_only_with_ready_true_for_its_generation() {
        let ready = json!({"conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
            "message": "Certificate is up to date and has not expired", "observedGeneration": 1}],
            "notAfter": "2027-02-25T00:00:00Z"});
        assert!(readiness(&certificate(ready.clone(), 1)).is_ready());
        // Written for an earlier spec: says nothing about this one.
        assert_eq!(
            readiness(&certificate(ready, 2)),
            Readiness::pending(
                "Ready",
                "Stale",
                "Ready was written for generation 1, the object is at 2"
            )
        );
        let issuing = json!({"conditions": [{"type": "Ready", "status": "False",
            "reason": "DoesNotExist", "message": "Issuing certificate as Secret does not exist",
            "observedGeneration": 1}, {"type": "Issuing", "status": "True"}]});
        assert_eq!(
            readiness(&certificate(issuing, 1)),
            Readiness::pending(
                "Ready",
                "DoesNotExist",
                "Issuing certificate as Secret does not exist"
            )
        );
        let Readiness::Pending { reason, .. } = readiness(&certificate(json!(null), 1)) else {
            panic!("no status is not ready");
        };
        assert_eq!(reason, "NoCondition");
    }

    #[test]
    fn issuers_and_cluster_issuers_wait_for_ready() {
        for kind in ["Issuer", "ClusterIssuer"] {
            assert!(is_waited_kind(CERT_MANAGER, kind));
            let issuer = json!({"apiVersion": "cert-manager.io/v1", "kind": kind,
                "metadata": {"name": "ca", "generation": 1},
                "status": {"conditions": [{"type": "Ready", "status": "False",
                    "reason": "ErrGetKeyPair", "message": "Error getting keypair for CA issuer: secrets \"ca-key-pair\" not found",
                    "observedGeneration": 1}]}});
            let Readiness::Pending {
                reason, message, ..
            } = readiness(&issuer)
            else {
                panic!("{kind} without its key pair is not ready");
            };
            assert_eq!(reason, "ErrGetKeyPair");
            assert!(message.contains("ca-key-pair"));
        }
    }

    // Gateway API v1.4 status shapes (gateway-api conformance reports, GEP-1364 conditions).
    #[test]
    fn a_gateway_is_ready_when_programmed() {
        let gateway = |programmed: &str| {
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": "edge", "namespace": "infra", "generation": 3},
                "status": {"conditions": [
                    {"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 3},
                    {"type": "Programmed", "status": programmed, "reason": "Pending",
                     "message": "waiting for an address", "observedGeneration": 3}]}})
        };
        assert!(readiness(&gateway("True")).is_ready());
        assert_eq!(
            readiness(&gateway("False")),
            Readiness::pending("Programmed", "Pending", "waiting for an address")
        );
    }

    fn route(parents: Value, statuses: Value) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "shop", "namespace": "shop", "generation": 1},
            "spec": {"parentRefs": parents, "hostnames": ["shop.example.com"]},
            "status": {"parents": statuses}})
    }

    fn parent_status(parent: Value, accepted: &str, resolved: &str) -> Value {
        json!({"parentRef": parent, "controllerName": "traefik.io/gateway-controller",
            "conditions": [
                {"type": "Accepted", "status": accepted, "reason": "NotAllowedByListeners",
                 "message": "no listener admits the route", "observedGeneration": 1},
                {"type": "ResolvedRefs", "status": resolved, "reason": "BackendNotFound",
                 "message": "service shop/web not found", "observedGeneration": 1}]})
    }

    #[test]
    fn a_route_is_ready_when_every_parent_accepted_it_and_resolved_its_refs() {
        let edge = json!({"name": "edge", "namespace": "infra"});
        let internal = json!({"name": "internal", "namespace": "infra", "sectionName": "https"});
        // The status repeats the reference with its defaults spelled out.
        let edge_status = json!({"group": "gateway.networking.k8s.io", "kind": "Gateway",
            "name": "edge", "namespace": "infra"});
        let both = route(
            json!([edge, internal]),
            json!([
                parent_status(edge_status.clone(), "True", "True"),
                parent_status(internal.clone(), "True", "True")
            ]),
        );
        assert!(readiness(&both).is_ready());

        let one_missing = route(
            json!([edge, internal]),
            json!([parent_status(edge_status.clone(), "True", "True")]),
        );
        let Readiness::Pending {
            reason, message, ..
        } = readiness(&one_missing)
        else {
            panic!("a parent without status is not ready");
        };
        assert_eq!(reason, "NoParentStatus");
        assert!(
            message.contains("Gateway infra/internal section https"),
            "{message}"
        );

        let unresolved = route(
            json!([edge]),
            json!([parent_status(edge_status.clone(), "True", "False")]),
        );
        assert_eq!(
            readiness(&unresolved),
            Readiness::pending(
                "ResolvedRefs",
                "BackendNotFound",
                "parent Gateway infra/edge: service shop/web not found"
            )
        );
        let refused = route(
            json!([edge]),
            json!([parent_status(edge_status, "False", "True")]),
        );
        let Readiness::Pending { condition, .. } = readiness(&refused) else {
            panic!("a route its Gateway refused is not ready");
        };
        assert_eq!(condition, "Accepted");
    }

    #[test]
    fn a_route_in_its_parents_namespace_matches_a_status_without_namespace() {
        let same = route(
            json!([{"name": "edge"}]),
            json!([parent_status(
                json!({"name": "edge", "namespace": "shop"}),
                "True",
                "True"
            )]),
        );
        assert!(readiness(&same).is_ready());
        let other_gateway = route(
            json!([{"name": "edge"}]),
            json!([parent_status(
                json!({"name": "edge", "namespace": "infra"}),
                "True",
                "True"
            )]),
        );
        assert!(!readiness(&other_gateway).is_ready());
    }

    #[test]
    fn an_ingress_is_ready_with_an_address() {
        let ingress = |status: Value| {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop", "generation": 1},
                "spec": {"ingressClassName": "traefik"}, "status": status})
        };
        assert!(
            readiness(&ingress(
                json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}})
            ))
            .is_ready()
        );
        assert!(
            readiness(&ingress(
                json!({"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}})
            ))
            .is_ready()
        );
        let Readiness::Pending { message, .. } = readiness(&ingress(json!({"loadBalancer": {}})))
        else {
            panic!("no address is not ready");
        };
        assert!(message.contains("IngressClass traefik"), "{message}");
        // Classed by the older annotation, or not at all: named as `ingress_class` reads it.
        let mut legacy = ingress(json!({"loadBalancer": {}}));
        legacy["spec"] = json!({});
        let Readiness::Pending { message, .. } = readiness(&legacy) else {
            panic!("no address is not ready");
        };
        assert!(
            message.contains("IngressClass (the default class)"),
            "{message}"
        );
        legacy["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": "nginx"});
        let Readiness::Pending { message, .. } = readiness(&legacy) else {
            panic!("no address is not ready");
        };
        assert!(message.contains("IngressClass nginx"), "{message}");
    }

    #[test]
    fn an_ingress_waits_for_an_address_only_where_its_class_published_one() {
        let no_address = |class: Value, annotation: Value| {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop",
                             "annotations": {"kubernetes.io/ingress.class": annotation}},
                "spec": {"ingressClassName": class}, "status": {"loadBalancer": {}}})
        };
        let traefik = no_address(json!("traefik"), json!(null));
        let legacy = no_address(json!(null), json!("nginx"));
        let default_class = no_address(json!(null), json!(null));
        assert_eq!(ingress_class(&traefik), "traefik");
        assert_eq!(ingress_class(&legacy), "nginx");
        assert_eq!(ingress_class(&default_class), "");
        let published = |classes: &[&str]| Expectations {
            addressed_ingress_classes: Some(classes.iter().map(|c| c.to_string()).collect()),
        };
        // Unknown (a folder's snapshot): every Ingress waits.
        for ingress in [&traefik, &legacy, &default_class] {
            assert!(!readiness_expected(ingress, &Expectations::default()).is_ready());
        }
        let traefik_only = published(&["traefik"]);
        assert!(!readiness_expected(&traefik, &traefik_only).is_ready());
        assert!(readiness_expected(&legacy, &traefik_only).is_ready());
        assert!(readiness_expected(&default_class, &traefik_only).is_ready());
        assert!(!readiness_expected(&default_class, &published(&[""])).is_ready());
        // Other kinds are not affected.
        let certificate = certificate(json!(null), 1);
        assert!(!readiness_expected(&certificate, &published(&[])).is_ready());
    }

    #[test]
    fn only_routing_kinds_with_a_status_are_waited_for() {
        assert!(is_waited_kind(GATEWAY, "HTTPRoute"));
        assert!(is_waited_kind(NETWORKING, "Ingress"));
        assert!(!is_waited_kind(NETWORKING, "IngressClass"));
        assert!(!is_waited_kind("", "Service"));
        assert!(!is_waited_kind("", "Secret"));
        assert!(!is_waited_kind(GATEWAY, "ReferenceGrant"));
    }

    // A request as cert-manager v1.21 leaves it when the ClusterIssuer does not exist
    // (`kubectl get certificaterequest -o yaml` on the bed).
    fn request(
        name: &str,
        certificate: &str,
        revision: &str,
        ready: Option<(&str, &str)>,
    ) -> Value {
        let mut conditions = vec![json!({"type": "Approved", "status": "True",
            "reason": "cert-manager.io", "message": "Certificate request has been approved by cert-manager.io"})];
        if let Some((status, reason)) = ready {
            conditions.push(json!({"type": "Ready", "status": status, "reason": reason,
                "message": "Referenced \"ClusterIssuer\" not found: clusterissuer.cert-manager.io \"letsencrypt-prod\" not found"}));
        }
        json!({"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
               "metadata": {"name": name, "namespace": "shop",
                            "creationTimestamp": "2026-11-27T14:44:23Z",
                            "annotations": {"cert-manager.io/certificate-name": certificate,
                                            "cert-manager.io/certificate-revision": revision}},
               "status": {"conditions": conditions}})
    }

    #[test]
    fn a_stuck_issuance_is_explained_by_the_newest_request_of_its_certificate() {
        let requests = [
            request("web-1", "web", "1", Some(("False", "Failed"))),
            request("web-10", "web", "10", Some(("False", "Pending"))),
            request("web-2", "web", "2", Some(("True", "Issued"))),
            request("api-1", "api", "11", Some(("False", "Denied"))),
        ];
        // Revision 10 is the newest (compared as a number, not as text).
        let stuck = stuck_request("web", &requests).expect("web is stuck");
        assert_eq!(stuck.name, "web-10");
        assert_eq!(stuck.reason, "Pending");
        assert!(
            stuck.message.contains("\"letsencrypt-prod\" not found"),
            "{stuck:?}"
        );
        // Issued: nothing holds it up; no request at all: nothing to say.
        assert_eq!(stuck_request("web", &requests[2..3]), None);
        assert_eq!(stuck_request("other", &requests), None);
        let unseen = [request("web-3", "web", "3", None)];
        assert_eq!(
            stuck_request("web", &unseen).map(|s| s.reason),
            Some("NoCondition".to_string())
        );
    }
}
