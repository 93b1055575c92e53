//! The routing kinds routevault captures and restores, the order they are restored in, the
//! references between them, and the objects controllers make at run time.
//!
//! The catalog is data, not code (as in Velero's restore priority list): a kind's group,
//! versions (preferred first), plural, scope, restore tier, and whether it comes from an
//! optional CRD; each reference's location, form and target (`REFERENCES`); each runtime
//! owner (`RUNTIME_OWNED`). Adding a kind or a reference is one entry. Everything else asks
//! the catalog rather than naming kinds itself.

use serde::Serialize;

/// One routing kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindInfo {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// Versions routevault knows, preferred first.
    pub versions: &'static [&'static str],
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// Index into [`RESTORE_TIERS`].
    pub tier: usize,
    /// Served only when an add-on's CRDs are installed (cert-manager, Gateway API).
    pub optional: bool,
}

impl KindInfo {
    /// `group/kind`, or just `kind` for the core group: the stable name used in manifests.
    pub fn qualified(&self) -> String {
        qualified(self.group, self.kind)
    }
}

/// `group/kind`, or `kind` for the core group.
pub fn qualified(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{group}/{kind}")
    }
}

pub const CORE: &str = "";
pub const NETWORKING: &str = "networking.k8s.io";
pub const DISCOVERY: &str = "discovery.k8s.io";
pub const CERT_MANAGER: &str = "cert-manager.io";
pub const ACME: &str = "acme.cert-manager.io";
pub const GATEWAY: &str = "gateway.networking.k8s.io";

/// Restore tiers, in order. Objects of one tier are applied before any of the next; within a
/// tier they may be applied concurrently.
pub const RESTORE_TIERS: &[&str] = &[
    "namespaces",
    "classes",
    "issuers",
    "secrets",
    "services",
    "endpointslices",
    "certificates",
    "gateways",
    "listenersets",
    "referencegrants",
    "routes",
    "policies",
];

const V1: &[&str] = &["v1"];
const GATEWAY_VERSIONS: &[&str] = &["v1", "v1beta1"];
const ALPHA_ROUTE_VERSIONS: &[&str] = &["v1", "v1alpha2"];

/// Every routing kind.
#[rustfmt::skip]
pub const KINDS: &[KindInfo] = &[
    KindInfo { group: CORE, versions: V1, kind: "Namespace", plural: "namespaces", namespaced: false, tier: 0, optional: false },
    KindInfo { group: NETWORKING, versions: V1, kind: "IngressClass", plural: "ingressclasses", namespaced: false, tier: 1, optional: false },
    KindInfo { group: GATEWAY, versions: GATEWAY_VERSIONS, kind: "GatewayClass", plural: "gatewayclasses", namespaced: false, tier: 1, optional: true },
    KindInfo { group: CERT_MANAGER, versions: V1, kind: "ClusterIssuer", plural: "clusterissuers", namespaced: false, tier: 1, optional: true },
    KindInfo { group: CERT_MANAGER, versions: V1, kind: "Issuer", plural: "issuers", namespaced: true, tier: 2, optional: true },
    KindInfo { group: CORE, versions: V1, kind: "Secret", plural: "secrets", namespaced: true, tier: 3, optional: false },
    KindInfo { group: CORE, versions: V1, kind: "ConfigMap", plural: "configmaps", namespaced: true, tier: 3, optional: false },
    KindInfo { group: CORE, versions: V1, kind: "Service", plural: "services", namespaced: true, tier: 4, optional: false },
    KindInfo { group: DISCOVERY, versions: V1, kind: "EndpointSlice", plural: "endpointslices", namespaced: true, tier: 5, optional: false },
    KindInfo { group: CERT_MANAGER, versions: V1, kind: "Certificate", plural: "certificates", namespaced: true, tier: 6, optional: true },
    KindInfo { group: GATEWAY, versions: GATEWAY_VERSIONS, kind: "Gateway", plural: "gateways", namespaced: true, tier: 7, optional: true },
    KindInfo { group: GATEWAY, versions: V1, kind: "ListenerSet", plural: "listenersets", namespaced: true, tier: 8, optional: true },
    KindInfo { group: GATEWAY, versions: GATEWAY_VERSIONS, kind: "ReferenceGrant", plural: "referencegrants", namespaced: true, tier: 9, optional: true },
    KindInfo { group: NETWORKING, versions: V1, kind: "Ingress", plural: "ingresses", namespaced: true, tier: 10, optional: false },
    KindInfo { group: GATEWAY, versions: GATEWAY_VERSIONS, kind: "HTTPRoute", plural: "httproutes", namespaced: true, tier: 10, optional: true },
    KindInfo { group: GATEWAY, versions: ALPHA_ROUTE_VERSIONS, kind: "GRPCRoute", plural: "grpcroutes", namespaced: true, tier: 10, optional: true },
    KindInfo { group: GATEWAY, versions: &["v1", "v1alpha3", "v1alpha2"], kind: "TLSRoute", plural: "tlsroutes", namespaced: true, tier: 10, optional: true },
    KindInfo { group: GATEWAY, versions: ALPHA_ROUTE_VERSIONS, kind: "TCPRoute", plural: "tcproutes", namespaced: true, tier: 10, optional: true },
    KindInfo { group: GATEWAY, versions: ALPHA_ROUTE_VERSIONS, kind: "UDPRoute", plural: "udproutes", namespaced: true, tier: 10, optional: true },
    KindInfo { group: GATEWAY, versions: &["v1", "v1alpha3"], kind: "BackendTLSPolicy", plural: "backendtlspolicies", namespaced: true, tier: 11, optional: true },
];

/// The object a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefTarget {
    /// A Secret: captured when routing references it (data minimisation).
    Secret,
    /// A Service: its absence is warned about.
    Service,
    /// A ConfigMap (CA bundles of TLS validation): captured only when referenced.
    ConfigMap,
    /// A cluster-scoped routing kind (by kind name): captured under `--namespace` only when
    /// referenced.
    ClusterScoped(&'static str),
}

/// How a reference is written at its location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefForm {
    /// A string: the name, in the referrer's namespace.
    Name,
    /// `name` or `namespace/name` (ingress-nginx annotations).
    NamespacedName,
    /// An object `{group?, kind?, name, namespace?}` that counts when its group and kind (with
    /// these defaults, as the referring API defines them) are the target's.
    ObjectRef {
        default_group: &'static str,
        default_kind: &'static str,
    },
    /// Every `*SecretRef` / `secretRef` object with a `name` anywhere below the location:
    /// cert-manager's issuer credentials (ACME account and EAB keys, every DNS-01 provider's
    /// credentials, Vault and Venafi auth), so a new provider needs no new entry.
    SecretRefsWithin,
}

/// Where in the referring object a reference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefAt {
    /// A JSON pointer in which `*` stands for every element of an array.
    Path(&'static str),
    Annotation(&'static str),
}

/// One kind of reference from a routing object to an object it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    pub group: &'static str,
    pub kind: &'static str,
    pub at: RefAt,
    pub form: RefForm,
    pub target: RefTarget,
}

/// cert-manager resolves a ClusterIssuer's Secrets in its "cluster resource namespace", by
/// default the namespace it runs in, `cert-manager` (its `--cluster-resource-namespace` flag).
pub const CLUSTER_RESOURCE_NAMESPACE: &str = "cert-manager";

const SECRET_REF: RefForm = RefForm::ObjectRef {
    default_group: CORE,
    default_kind: "Secret",
};
const SERVICE_REF: RefForm = RefForm::ObjectRef {
    default_group: CORE,
    default_kind: "Service",
};
const ISSUER_REF: RefForm = RefForm::ObjectRef {
    default_group: CERT_MANAGER,
    default_kind: "Issuer",
};
const CONFIG_MAP_REF: RefForm = RefForm::ObjectRef {
    default_group: CORE,
    default_kind: "ConfigMap",
};
const CLUSTER_ISSUER: RefTarget = RefTarget::ClusterScoped("ClusterIssuer");

const fn at(
    group: &'static str,
    kind: &'static str,
    path: &'static str,
    form: RefForm,
    target: RefTarget,
) -> Reference {
    Reference {
        group,
        kind,
        at: RefAt::Path(path),
        form,
        target,
    }
}
const fn annotation(
    group: &'static str,
    kind: &'static str,
    key: &'static str,
    form: RefForm,
    target: RefTarget,
) -> Reference {
    Reference {
        group,
        kind,
        at: RefAt::Annotation(key),
        form,
        target,
    }
}

/// Every reference routevault follows, from the APIs' documentation: what a captured object
/// needs is captured with it (Secrets, classes, cluster issuers), and a missing Service is
/// warned about. Gateway API references across namespaces count only where a ReferenceGrant
/// allows them.
#[rustfmt::skip]
pub const REFERENCES: &[Reference] = &[
    // Ingress (networking.k8s.io/v1), with the annotations of cert-manager and ingress-nginx.
    at(NETWORKING, "Ingress", "/spec/tls/*/secretName", RefForm::Name, RefTarget::Secret),
    at(NETWORKING, "Ingress", "/spec/defaultBackend/service/name", RefForm::Name, RefTarget::Service),
    at(NETWORKING, "Ingress", "/spec/rules/*/http/paths/*/backend/service/name", RefForm::Name, RefTarget::Service),
    at(NETWORKING, "Ingress", "/spec/ingressClassName", RefForm::Name, RefTarget::ClusterScoped("IngressClass")),
    annotation(NETWORKING, "Ingress", "kubernetes.io/ingress.class", RefForm::Name, RefTarget::ClusterScoped("IngressClass")),
    annotation(NETWORKING, "Ingress", "cert-manager.io/cluster-issuer", RefForm::Name, CLUSTER_ISSUER),
    annotation(NETWORKING, "Ingress", "nginx.ingress.kubernetes.io/auth-secret", RefForm::NamespacedName, RefTarget::Secret),
    annotation(NETWORKING, "Ingress", "nginx.ingress.kubernetes.io/auth-tls-secret", RefForm::NamespacedName, RefTarget::Secret),
    annotation(NETWORKING, "Ingress", "nginx.ingress.kubernetes.io/proxy-ssl-secret", RefForm::NamespacedName, RefTarget::Secret),
    annotation(NETWORKING, "Ingress", "nginx.ingress.kubernetes.io/default-backend", RefForm::Name, RefTarget::Service),
    // cert-manager.
    at(CERT_MANAGER, "Certificate", "/spec/secretName", RefForm::Name, RefTarget::Secret),
    at(CERT_MANAGER, "Certificate", "/spec/keystores", RefForm::SecretRefsWithin, RefTarget::Secret),
    at(CERT_MANAGER, "Certificate", "/spec/issuerRef", ISSUER_REF, CLUSTER_ISSUER),
    at(CERT_MANAGER, "Issuer", "/spec/ca/secretName", RefForm::Name, RefTarget::Secret),
    at(CERT_MANAGER, "Issuer", "/spec", RefForm::SecretRefsWithin, RefTarget::Secret),
    at(CERT_MANAGER, "Issuer", "/spec/venafi/tpp/credentialsRef/name", RefForm::Name, RefTarget::Secret),
    at(CERT_MANAGER, "ClusterIssuer", "/spec/ca/secretName", RefForm::Name, RefTarget::Secret),
    at(CERT_MANAGER, "ClusterIssuer", "/spec", RefForm::SecretRefsWithin, RefTarget::Secret),
    at(CERT_MANAGER, "ClusterIssuer", "/spec/venafi/tpp/credentialsRef/name", RefForm::Name, RefTarget::Secret),
    // Gateway API v1.6 standard channel.
    at(GATEWAY, "Gateway", "/spec/gatewayClassName", RefForm::Name, RefTarget::ClusterScoped("GatewayClass")),
    at(GATEWAY, "Gateway", "/spec/listeners/*/tls/certificateRefs/*", SECRET_REF, RefTarget::Secret),
    at(GATEWAY, "Gateway", "/spec/tls/backend/clientCertificateRef", SECRET_REF, RefTarget::Secret),
    annotation(GATEWAY, "Gateway", "cert-manager.io/cluster-issuer", RefForm::Name, CLUSTER_ISSUER),
    at(GATEWAY, "ListenerSet", "/spec/listeners/*/tls/certificateRefs/*", SECRET_REF, RefTarget::Secret),
    at(GATEWAY, "HTTPRoute", "/spec/rules/*/backendRefs/*", SERVICE_REF, RefTarget::Service),
    at(GATEWAY, "HTTPRoute", "/spec/rules/*/filters/*/requestMirror/backendRef", SERVICE_REF, RefTarget::Service),
    at(GATEWAY, "HTTPRoute", "/spec/rules/*/backendRefs/*/filters/*/requestMirror/backendRef", SERVICE_REF, RefTarget::Service),
    at(GATEWAY, "GRPCRoute", "/spec/rules/*/backendRefs/*", SERVICE_REF, RefTarget::Service),
    at(GATEWAY, "TLSRoute", "/spec/rules/*/backendRefs/*", SERVICE_REF, RefTarget::Service),
    at(GATEWAY, "TCPRoute", "/spec/rules/*/backendRefs/*", SERVICE_REF, RefTarget::Service),
    at(GATEWAY, "UDPRoute", "/spec/rules/*/backendRefs/*", SERVICE_REF, RefTarget::Service),
    at(GATEWAY, "BackendTLSPolicy", "/spec/targetRefs/*", SERVICE_REF, RefTarget::Service),
    at(GATEWAY, "BackendTLSPolicy", "/spec/validation/caCertificateRefs/*", CONFIG_MAP_REF, RefTarget::ConfigMap),
    at(GATEWAY, "Gateway", "/spec/tls/frontend/default/validation/caCertificateRefs/*", CONFIG_MAP_REF, RefTarget::ConfigMap),
    at(GATEWAY, "Gateway", "/spec/tls/frontend/perPort/*/tls/validation/caCertificateRefs/*", CONFIG_MAP_REF, RefTarget::ConfigMap),
];

/// Objects that controllers make at run time and remake from what is captured: (owner group,
/// owner kind, owned kind or `None` for any, why). Detected by owner reference, before
/// normalisation strips owner references.
#[rustfmt::skip]
pub const RUNTIME_OWNED: &[(&str, &str, Option<&str>, &str)] = &[
    (NETWORKING, "Ingress", Some("Certificate"), "Certificate owned by an Ingress (recreated by cert-manager's ingress-shim)"),
    (GATEWAY, "Gateway", Some("Certificate"), "Certificate owned by a Gateway (recreated by cert-manager's gateway-shim)"),
    (ACME, "Challenge", None, "ACME HTTP-01 solver object owned by a Challenge (runtime state of cert-manager)"),
];

/// Kinds that belong to routing add-ons but are runtime state, never captured: cert-manager
/// recreates them from Certificates. Sources count them as skipped.
pub const NEVER_CAPTURED: &[(&str, &str)] = &[
    (CERT_MANAGER, "CertificateRequest"),
    (ACME, "Order"),
    (ACME, "Challenge"),
];

/// The API server's own namespaces: their objects are not an environment's routing.
pub const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// Secret types that routing references: TLS key pairs, and Opaque (hand-made TLS Secrets,
/// Gateway certificateRefs). Service-account tokens, registry credentials and the rest are
/// never captured nor restored.
pub const ROUTING_SECRET_TYPES: &[&str] = &["kubernetes.io/tls", "Opaque"];

/// Whether an object identity is one of the API server's own: a system Namespace, anything in
/// one, or the `default/kubernetes` Service. Snapshots leave these out unless
/// `--include-system`, and restores refuse them unless the snapshot says it was made so.
pub fn is_system_object(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> bool {
    match (group, kind, namespace) {
        (CORE, "Namespace", _) => SYSTEM_NAMESPACES.contains(&name),
        (CORE, "Service", Some("default")) => name == "kubernetes",
        _ => namespace.is_some_and(|ns| SYSTEM_NAMESPACES.contains(&ns)),
    }
}

/// Splits an apiVersion into (group, version); the core group is empty.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => (CORE, api_version),
    }
}

/// The catalog entry for an object's apiVersion and kind. Any version of a catalog group/kind
/// matches: the version is kept as written, and restore checks what the target serves.
pub fn lookup(api_version: &str, kind: &str) -> Option<&'static KindInfo> {
    let (group, _) = split_api_version(api_version);
    lookup_group_kind(group, kind)
}

/// The catalog entry for a group and kind. The kind is compared first: kinds mostly differ
/// in length or first letter, where groups are long and shared (this runs for every object of
/// a capture, a restore and a diff).
pub fn lookup_group_kind(group: &str, kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.kind == kind && k.group == group)
}

/// The name of the restore tier of a kind ("other" for a kind outside the catalog).
pub fn tier_name(group: &str, kind: &str) -> &'static str {
    lookup_group_kind(group, kind)
        .and_then(|k| RESTORE_TIERS.get(k.tier))
        .copied()
        .unwrap_or(OTHER_TIER)
}

/// The tier name of a kind outside the catalog (none is restored; reports still name one).
pub const OTHER_TIER: &str = "other";

/// The catalog entry for a qualified name (`group/Kind` or core `Kind`), or a plural, or a
/// kind name alone, case-insensitively: what users type in `--only`.
pub fn lookup_user_name(name: &str) -> Option<&'static KindInfo> {
    let lower = name.to_ascii_lowercase();
    KINDS.iter().find(|k| {
        k.qualified().to_ascii_lowercase() == lower
            || k.kind.to_ascii_lowercase() == lower
            || k.plural == lower
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_valid_tier_and_unique_name() {
        let mut names = std::collections::HashSet::new();
        for k in KINDS {
            assert!(k.tier < RESTORE_TIERS.len(), "{} has no tier", k.kind);
            assert!(
                names.insert(k.qualified()),
                "{} listed twice",
                k.qualified()
            );
            assert!(!k.versions.is_empty());
        }
    }

    #[test]
    fn every_reference_is_from_a_catalog_kind_to_a_catalog_kind() {
        for r in REFERENCES {
            assert!(
                lookup_group_kind(r.group, r.kind).is_some(),
                "{}/{} refers but is not in the catalog",
                r.group,
                r.kind
            );
            if let RefTarget::ClusterScoped(kind) = r.target {
                let info = KINDS.iter().find(|k| k.kind == kind).expect(kind);
                assert!(!info.namespaced, "{kind} is namespaced");
            }
            if let RefAt::Path(path) = r.at {
                assert!(path.starts_with('/'), "{path}");
            }
        }
        for (group, kind, owned, _) in RUNTIME_OWNED {
            assert!(!group.is_empty() && !kind.is_empty());
            assert!(owned.is_none_or(|k| KINDS.iter().any(|i| i.kind == k)));
        }
    }

    #[test]
    fn restore_order_follows_dependencies() {
        let tier = |g: &str, k: &str| lookup_group_kind(g, k).unwrap().tier;
        assert!(tier(CORE, "Namespace") < tier(NETWORKING, "IngressClass"));
        assert!(tier(CERT_MANAGER, "ClusterIssuer") < tier(CERT_MANAGER, "Issuer"));
        assert!(tier(CERT_MANAGER, "Issuer") < tier(CORE, "Secret"));
        assert!(tier(CORE, "Secret") < tier(CORE, "Service"));
        assert!(tier(CORE, "Service") < tier(DISCOVERY, "EndpointSlice"));
        assert!(tier(DISCOVERY, "EndpointSlice") < tier(CERT_MANAGER, "Certificate"));
        assert!(tier(CERT_MANAGER, "Certificate") < tier(GATEWAY, "Gateway"));
        assert!(tier(GATEWAY, "Gateway") < tier(GATEWAY, "ReferenceGrant"));
        assert!(tier(GATEWAY, "Gateway") < tier(GATEWAY, "ListenerSet"));
        assert!(tier(GATEWAY, "ReferenceGrant") < tier(NETWORKING, "Ingress"));
        assert!(tier(GATEWAY, "HTTPRoute") < tier(GATEWAY, "BackendTLSPolicy"));
        for route in ["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"] {
            assert_eq!(tier(NETWORKING, "Ingress"), tier(GATEWAY, route), "{route}");
        }
    }

    #[test]
    fn lookup_matches_any_version_of_a_known_group_kind() {
        assert_eq!(
            lookup("gateway.networking.k8s.io/v1beta1", "ReferenceGrant")
                .unwrap()
                .kind,
            "ReferenceGrant"
        );
        assert_eq!(lookup("v1", "Service").unwrap().plural, "services");
        assert!(lookup("apps/v1", "Deployment").is_none());
        assert!(lookup("v1", "Pod").is_none());
        assert_eq!(
            lookup("v1", "ConfigMap").unwrap().tier,
            lookup("v1", "Secret").unwrap().tier
        );
        assert_eq!(lookup_user_name("ingresses").unwrap().kind, "Ingress");
        assert_eq!(
            lookup_user_name("cert-manager.io/Certificate")
                .unwrap()
                .kind,
            "Certificate"
        );
    }
}
