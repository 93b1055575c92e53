//! Which objects a snapshot captures. Pure: takes the objects a source produced (before
//! normalisation, so owner references are still visible) and the user's selection.
//!
//! Rules, in the order they apply:
//! - only catalog kinds; CertificateRequest, Order and Challenge are runtime state and never
//!   captured, nor are objects a controller owns and remakes (`catalog::RUNTIME_OWNED`:
//!   Certificates of cert-manager's ingress-shim and gateway-shim, ACME HTTP-01 solvers);
//! - the API server's own objects and everything in its system namespaces (kube-system,
//!   kube-public, kube-node-lease) stay out unless asked for;
//! - `--namespace` / `--exclude-namespace` limit namespaced objects; the label selector
//!   applies to every kind except Namespaces, Secrets, ConfigMaps, EndpointSlices and
//!   ReferenceGrants, which follow what they hold or what references them;
//! - Secrets and ConfigMaps: only those captured routing references (`catalog::REFERENCES`,
//!   data minimisation), cluster issuers' included; a Gateway API reference into another
//!   namespace counts only where a ReferenceGrant there allows it;
//! - EndpointSlices: only those of captured selector-less Services, managed by hand;
//! - cluster-scoped classes and ClusterIssuers: all of them, or with `--namespace` only the
//!   ones captured objects reference;
//! - Namespaces: those holding captured objects, and those a captured Gateway admits routes
//!   or ListenerSets from by label (a minimal one is made when the source has none, so a
//!   restore can create it).
//!
//! References to Secrets, ConfigMaps and Services that the source lacks are warnings, not
//! failures.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog::{self, CORE, DISCOVERY, GATEWAY, RefAt, RefForm, RefTarget};
use crate::json_pointer::Pointer;
use crate::object::{HeldRef, Object, SharedNames};
use crate::selector::LabelSelector;

/// Whether the source holds the Secret `namespace/name`, for sources that know before
/// selection (a folder); a live cluster's Secrets are read after it.
pub type SecretExists<'a> = &'a dyn Fn(&str, &str) -> bool;

/// What to do with Secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SecretsMode {
    /// Encrypt Secret data to the `--seal-to` recipients (the default).
    Sealed,
    /// Store Secret data in plaintext (must be asked for by name).
    Plaintext,
    /// Capture no Secrets at all.
    Skip,
}

/// The user's selection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub include_system: bool,
}

/// The outcome of selection.
#[derive(Debug, Default)]
pub struct Selected {
    /// In restore order (tier), then by identity.
    pub objects: Vec<Object>,
    pub warnings: Vec<String>,
    /// Why objects were left out, with counts (e.g. "not a routing kind: apps/Deployment").
    pub skipped: BTreeMap<String, usize>,
}

use crate::catalog::SYSTEM_NAMESPACES;
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const SLICE_CONTROLLER: &str = "endpointslice-controller.k8s.io";

/// Applies the selection rules in the module documentation to everything a source holds.
pub fn select(objects: Vec<Object>, selection: &Selection, secrets: SecretsMode) -> Selected {
    let (secret_objects, others): (Vec<Object>, Vec<Object>) = objects
        .into_iter()
        .partition(|o| o.group() == CORE && o.kind() == "Secret");
    let existing: BTreeSet<(String, String)> = secret_objects.iter().map(key_of).collect();
    let exists =
        |namespace: &str, name: &str| existing.contains(&(namespace.to_string(), name.to_string()));
    let mut plan = plan(others, selection, secrets, Some(&exists));
    let mut captured: Vec<Object> = Vec::new();
    let mut unreferenced = 0;
    for secret in secret_objects {
        let key = key_of(&secret);
        let wanted = plan.wants_secret(&key.0, &key.1);
        if plan.accepts_secret(&secret) {
            captured.push(secret);
        } else if !wanted {
            unreferenced += 1;
        }
    }
    plan.finish(unreferenced);
    captured.extend(plan.objects.drain(..).map(Captured::into_object));
    sort_for_restore(&mut captured);
    Selected {
        objects: captured,
        warnings: plan.warnings,
        skipped: plan.skipped,
    }
}

/// Whether the label selector chooses objects of `kind`. Namespaces and EndpointSlices follow
/// the routing that uses them, and every ReferenceGrant is read because a grant allows a
/// reference even when the selection leaves the grant out.
pub fn label_selector_applies(kind: &catalog::KindInfo) -> bool {
    !matches!(
        (kind.group, kind.kind),
        (CORE, "Namespace")
            | (CORE, "Secret")
            | (CORE, "ConfigMap")
            | (DISCOVERY, "EndpointSlice")
            | (GATEWAY, "ReferenceGrant")
    )
}

fn key_of(object: &Object) -> (String, String) {
    (
        object.namespace().unwrap_or("").to_string(),
        object.name().to_string(),
    )
}

/// The tier Secrets are restored in; a source that streams Secrets writes the objects of
/// earlier tiers before them.
pub const SECRET_TIER: usize = 3;

/// The most objects one LIST's announced count reserves room for (a held object is 64 bytes:
/// at most 16 MiB reserved on a server's word; beyond it the list grows as it arrives).
const MAX_EXPECTED_PER_LIST: usize = 1 << 18;

/// Restore order: by tier, then by identity.
pub fn sort_for_restore(objects: &mut [Object]) {
    objects.sort_by_cached_key(|o| (tier_of(o.group(), o.kind()), o.object_ref()));
}

pub fn tier_of(group: &str, kind: &str) -> usize {
    catalog::KINDS
        .iter()
        .find(|k| k.group == group && k.kind == kind)
        .map_or(usize::MAX, |k| k.tier)
}

/// A captured object: held whole, or (routing objects of a source that spools them) by its
/// identity and the source's handle on its body.
#[derive(Debug)]
pub enum Captured<B> {
    Object(Object),
    Held(HeldRef, B),
}

impl<B> Captured<B> {
    /// The restore tier (catalog order; unknown kinds last).
    pub fn tier(&self) -> usize {
        match self {
            Captured::Object(o) => tier_of(o.group(), o.kind()),
            Captured::Held(id, _) => id.kind.tier,
        }
    }

    /// Restore order: tier, then identity (as `ObjectRef` orders), borrowed — a sort with
    /// an owned key per object was a copy of every identity at once.
    fn restore_order(&self) -> (usize, &str, &str, Option<&str>, &str) {
        match self {
            Captured::Object(o) => (self.tier(), o.group(), o.kind(), o.namespace(), o.name()),
            Captured::Held(id, _) => (
                self.tier(),
                id.kind.group,
                id.kind.kind,
                id.namespace.as_deref(),
                &id.name,
            ),
        }
    }
}

impl Captured<Object> {
    pub fn into_object(self) -> Object {
        match self {
            Captured::Object(object) | Captured::Held(_, object) => object,
        }
    }
}

/// Selection without Secrets: what a source that streams Secrets (a live cluster, where
/// Secrets are the bulk) decides before reading them. `wants_secret` then decides each Secret
/// as it arrives, and `finish` records what was missing.
#[derive(Debug)]
pub struct Plan<B = Object> {
    /// Every captured object but Secrets, in restore order.
    pub objects: Vec<Captured<B>>,
    /// Secrets the captured objects reference, each with its first referrer, until it is
    /// captured: what is left at the end was not found in the source.
    pub secret_refs: BTreeMap<(String, String), Referrer>,
    /// The namespaces of the Secrets captured so far.
    secret_namespaces: BTreeSet<String>,
    pub warnings: Vec<String>,
    pub skipped: BTreeMap<String, usize>,
    /// Namespaces that hold nothing but referenced Secrets not read yet: captured only if one
    /// of their Secrets is (see [`Plan::namespaces_of_secrets`]).
    pub secret_only_namespaces: BTreeMap<String, Object>,
    secrets: SecretsMode,
    selection: Selection,
}

impl<B> Plan<B> {
    /// Whether the Secret `namespace/name` is to be captured.
    pub fn wants_secret(&self, namespace: &str, name: &str) -> bool {
        self.secrets != SecretsMode::Skip
            && namespace_selected(Some(namespace), &self.selection)
            && (self.selection.include_system || !SYSTEM_NAMESPACES.contains(&namespace))
            && self
                .secret_refs
                .contains_key(&(namespace.to_string(), name.to_string()))
    }

    /// Whether a Secret, now read, is captured: wanted by name, and routing data (a TLS or
    /// Opaque Secret with string data). A referenced Secret of another type (a service-account
    /// token named by mistake, or on purpose) is left out with a warning; malformed data is
    /// left out the same way, and named. A captured Secret is no longer wanted (sources hold
    /// each identity once).
    pub fn accepts_secret(&mut self, secret: &Object) -> bool {
        let key = key_of(secret);
        if !self.wants_secret(&key.0, &key.1) {
            return false;
        }
        match crate::artifact::validate::secret_problem(secret) {
            None => {
                self.secret_refs.remove(&key);
                if !self.secret_namespaces.contains(&key.0) {
                    self.secret_namespaces.insert(key.0);
                }
                true
            }
            Some(problem) => {
                let referrer = self.secret_refs.remove(&key).unwrap_or_default();
                self.warnings.push(format!(
                    "{referrer} references Secret {}/{}, which is left out: {problem}",
                    key.0, key.1
                ));
                bump(&mut self.skipped, 1, "Secret that is not routing data");
                false
            }
        }
    }

    /// The Namespaces that hold only Secrets, for the Secrets that were captured; the others
    /// are counted as left out.
    pub fn namespaces_of_secrets(&mut self) -> Vec<Object> {
        let (kept, unused): (Vec<_>, Vec<_>) = std::mem::take(&mut self.secret_only_namespaces)
            .into_iter()
            .partition(|(ns, _)| self.secret_namespaces.contains(ns));
        if !unused.is_empty() {
            bump(
                &mut self.skipped,
                unused.len(),
                "Namespace holding no captured object",
            );
        }
        kept.into_iter().map(|(_, object)| object).collect()
    }

    /// The Namespaces to capture: those that hold captured objects, and those a Gateway
    /// admits routes or ListenerSets from by label (without them, and their labels, the
    /// restored Gateway would admit nothing, or the wrong namespaces). Namespaces that would
    /// hold only referenced Secrets are held when a Secret is known to exist there; when the
    /// source streams Secrets later, they wait in `secret_only_namespaces`.
    fn namespaces_to_capture(
        &mut self,
        mut namespaces: BTreeMap<String, Object>,
        mut held: BTreeSet<String>,
        admitting: &[LabelSelector],
        existing_secrets: Option<SecretExists>,
    ) -> Vec<Object> {
        for (name, namespace) in &namespaces {
            let mut labels = namespace.label_map();
            // The API server sets this label on every Namespace; normalisation drops it.
            labels.insert("kubernetes.io/metadata.name".into(), name.clone());
            if namespace_selected(Some(name), &self.selection)
                && admitting.iter().any(|s| s.matches(&labels))
            {
                held.insert(name.clone());
            }
        }
        // Namespaces that would hold only referenced Secrets: held when a Secret is known to
        // exist there; when the source streams Secrets later, decided once they are read.
        let mut secret_only = BTreeSet::new();
        for (namespace, name) in self.secret_refs.keys() {
            if held.contains(namespace) || !self.wants_secret(namespace, name) {
                continue;
            }
            match existing_secrets {
                Some(exists) if exists(namespace, name) => {
                    held.insert(namespace.clone());
                }
                Some(_) => {}
                None => {
                    secret_only.insert(namespace.clone());
                }
            }
        }
        let minimal = |ns: &str| {
            Object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        };
        for ns in secret_only {
            let object = namespaces.remove(&ns).unwrap_or_else(|| minimal(&ns));
            self.secret_only_namespaces.insert(ns, object);
        }
        let unused = namespaces.keys().filter(|ns| !held.contains(*ns)).count();
        if unused > 0 {
            bump(
                &mut self.skipped,
                unused,
                "Namespace holding no captured object",
            );
        }
        held.into_iter()
            .map(|ns| namespaces.remove(&ns).unwrap_or_else(|| minimal(&ns)))
            .collect()
    }

    /// Records referenced Secrets that were not found, and how many were left out.
    pub fn finish(&mut self, unreferenced: usize) {
        if self.secrets != SecretsMode::Skip {
            for (key, referrer) in &self.secret_refs {
                self.warnings.push(format!(
                    "{referrer} references Secret {}/{}, which is not in the source",
                    key.0, key.1
                ));
            }
        }
        if unreferenced > 0 {
            let reason = if self.secrets == SecretsMode::Skip {
                "Secret (--secrets skip)"
            } else {
                "Secret not referenced by captured routing (data minimisation)"
            };
            bump(&mut self.skipped, unreferenced, reason);
        }
        self.warnings.sort();
        self.warnings.dedup();
    }
}

/// Applies the selection rules in the module documentation to every object but Secrets
/// (`objects` must hold none). `existing_secrets`, when known, limits the namespaces captured
/// for referenced Secrets to those whose Secret exists.
pub fn plan(
    objects: Vec<Object>,
    selection: &Selection,
    secrets: SecretsMode,
    existing_secrets: Option<SecretExists>,
) -> Plan {
    let mut sorted = Sorted::default();
    for object in objects {
        sorted
            .add(object, selection, Ok::<Object, std::convert::Infallible>)
            .unwrap_or_else(|never| match never {});
    }
    plan_sorted(sorted, selection, secrets, existing_secrets)
}

/// [`plan`] of objects sorted by role as they arrived (see [`Sorted::add`]), so that a source
/// need not hold its routing objects whole.
pub fn plan_sorted<B>(
    sorted: Sorted<B>,
    selection: &Selection,
    secrets: SecretsMode,
    existing_secrets: Option<SecretExists>,
) -> Plan<B> {
    let mut warnings = Vec::new();
    let Sorted {
        namespaces,
        slices,
        config_maps,
        grants,
        cluster_scoped,
        routing,
        mut skipped,
    } = sorted;
    let Routing {
        mut references,
        services,
        selectorless_services,
        admission,
        namespaces: routing_namespaces,
        held,
        names: _,
        expected: _,
    } = routing;

    admit_granted(&mut references, &grants, &mut warnings, &mut skipped);
    let scoped = !selection.namespaces.is_empty();
    let mut captured = needed_cluster_scoped(cluster_scoped, &references, scoped, &mut skipped);
    // Captured ClusterIssuers need their Secrets too (a CA's key pair, ACME account keys).
    for (key, referrer) in References::of(&captured).secrets {
        references.secrets.entry(key).or_insert(referrer);
    }
    warn_missing_services(&services, &references, &mut warnings);
    captured.extend(hand_managed_slices(
        slices,
        &selectorless_services,
        &mut skipped,
    ));
    captured.extend(referenced_config_maps(
        config_maps,
        &references,
        &mut warnings,
        &mut skipped,
    ));

    let mut plan = Plan {
        objects: Vec::new(),
        secret_refs: references.secrets,
        secret_namespaces: BTreeSet::new(),
        warnings,
        skipped,
        secret_only_namespaces: BTreeMap::new(),
        secrets,
        selection: selection.clone(),
    };

    let mut holding = routing_namespaces;
    holding.extend(
        captured
            .iter()
            .filter_map(|o| o.namespace().map(str::to_string)),
    );
    let held_namespaces =
        plan.namespaces_to_capture(namespaces, holding, &admission, existing_secrets);
    // The routing objects' list grows by the few objects held whole and is sorted in place:
    // a second list of every object, or a stable sort's buffer, was a peak of its own.
    let mut objects = held;
    objects.extend(
        captured
            .into_iter()
            .chain(held_namespaces)
            .map(Captured::Object),
    );
    // Identities are unique, so an unstable sort orders them all the same.
    objects.sort_unstable_by(|a, b| a.restore_order().cmp(&b.restore_order()));
    plan.objects = objects;
    plan
}

/// The namespace selectors of a captured Gateway: listeners' `allowedRoutes` and the
/// Gateway's `allowedListeners` (ListenerSets), where `from: Selector`.
fn admission_selectors(gateway: &Object) -> Vec<LabelSelector> {
    let mut selectors = Vec::new();
    let mut namespaces = values_at(&gateway.0, "/spec/listeners/*/allowedRoutes/namespaces");
    namespaces.extend(values_at(&gateway.0, "/spec/allowedListeners/namespaces"));
    for spec in namespaces {
        if spec["from"] == "Selector"
            && let Some(selector) = LabelSelector::from_object(&spec["selector"])
        {
            selectors.push(selector);
        }
    }
    selectors
}

/// The namespaced routing objects the selection chose, reduced as they arrive to what
/// selection needs of them: their references and a few facts. Their bodies stay with the
/// source (`B`: the object itself for a folder, a handle on a spooled copy for a cluster).
#[derive(Debug)]
pub struct Routing<B> {
    references: References,
    services: BTreeSet<(String, String)>,
    /// Services without a selector: their EndpointSlices are captured.
    selectorless_services: BTreeSet<(String, String)>,
    /// Namespace selectors of Gateways (see [`admission_selectors`]).
    admission: Vec<LabelSelector>,
    namespaces: BTreeSet<String>,
    /// Each one as `Captured::Held`, already the plan's list.
    held: Vec<Captured<B>>,
    /// How many held objects the sources' lists announced (see [`Sorted::expect`]).
    expected: usize,
    /// The held identities' namespaces, one copy each.
    names: SharedNames,
}

impl<B> Default for Routing<B> {
    fn default() -> Self {
        Self {
            references: References::default(),
            services: BTreeSet::new(),
            selectorless_services: BTreeSet::new(),
            admission: Vec::new(),
            namespaces: BTreeSet::new(),
            held: Vec::new(),
            expected: 0,
            names: SharedNames::default(),
        }
    }
}

impl<B> Routing<B> {
    /// Makes room for `count` more held objects than expected so far: exactly the total the
    /// lists announced, where `reserve` could still double.
    fn expect(&mut self, count: usize) {
        self.expected = self.expected.saturating_add(count);
        let wanted = self.expected.saturating_sub(self.held.len());
        self.held.reserve_exact(wanted);
    }

    fn add<E>(
        &mut self,
        object: Object,
        kind: &'static catalog::KindInfo,
        hold: impl FnOnce(Object) -> Result<B, E>,
    ) -> Result<(), E> {
        self.references.extend_with(&object);
        if object.group() == CORE && object.kind() == "Service" {
            let key = key_of(&object);
            let selectorless = object
                .0
                .at("/spec/selector")
                .is_none_or(|s| s.as_object().is_none_or(|m| m.is_empty()));
            if selectorless {
                self.selectorless_services.insert(key.clone());
            }
            self.services.insert(key);
        }
        if object.group() == GATEWAY && object.kind() == "Gateway" {
            self.admission.extend(admission_selectors(&object));
        }
        if let Some(namespace) = object.namespace()
            && !self.namespaces.contains(namespace)
        {
            self.namespaces.insert(namespace.to_string());
        }
        let identity = HeldRef::of(&object, kind, &mut self.names);
        self.held.push(Captured::Held(identity, hold(object)?));
        Ok(())
    }
}

/// A source's objects by the role they play in selection, sorted one at a time as they
/// arrive: everything but namespaced routing objects is held whole (few, and selection needs
/// them whole); routing objects are reduced to [`Routing`].
#[derive(Debug)]
pub struct Sorted<B> {
    namespaces: BTreeMap<String, Object>,
    slices: Vec<Object>,
    /// ConfigMaps: captured only when referenced.
    config_maps: Vec<Object>,
    /// Every ReferenceGrant of the source, selected or not: a grant allows a reference even
    /// when the selection leaves the grant itself out.
    grants: Vec<Object>,
    cluster_scoped: Vec<Object>,
    /// Namespaced routing objects the selection chose.
    routing: Routing<B>,
    /// Why objects were left out, with counts.
    skipped: BTreeMap<String, usize>,
}

impl<B> Default for Sorted<B> {
    fn default() -> Self {
        Self {
            namespaces: BTreeMap::new(),
            slices: Vec::new(),
            config_maps: Vec::new(),
            grants: Vec::new(),
            cluster_scoped: Vec::new(),
            routing: Routing::default(),
            skipped: BTreeMap::new(),
        }
    }
}

impl<B> Sorted<B> {
    /// Drops what is never captured or not selected (counted) and sorts the rest by role;
    /// `hold` makes what is kept of a namespaced routing object's body.
    pub fn add<E>(
        &mut self,
        object: Object,
        selection: &Selection,
        hold: impl FnOnce(Object) -> Result<B, E>,
    ) -> Result<(), E> {
        let skipped = &mut self.skipped;
        let (group, kind) = (object.group(), object.kind());
        if catalog::NEVER_CAPTURED.contains(&(group, kind)) {
            let qualified = catalog::qualified(group, kind);
            bump(
                skipped,
                1,
                format!("runtime state, recreated by cert-manager: {qualified}"),
            );
            return Ok(());
        }
        if let Some(reason) = runtime_owned(&object) {
            bump(skipped, 1, reason);
            return Ok(());
        }
        let Some(info) = object.catalog_kind() else {
            let qualified = catalog::qualified(group, kind);
            bump(skipped, 1, format!("not a routing kind: {qualified}"));
            return Ok(());
        };
        if (info.group, info.kind) == (GATEWAY, "ReferenceGrant") {
            self.grants.push(object.clone());
        }
        if !selection.include_system && is_system(&object) {
            let own = object.namespace().is_none()
                || (object.kind() == "Service" && object.name() == "kubernetes");
            let reason = if own {
                "the API server's own objects"
            } else {
                "in a system namespace (kube-system, kube-public, kube-node-lease): \
                 --include-system captures them"
            };
            bump(skipped, 1, reason);
            return Ok(());
        }
        if info.namespaced && !namespace_selected(object.namespace(), selection) {
            bump(skipped, 1, "outside the selected namespaces");
            return Ok(());
        }
        let selector = selection.selector.as_ref();
        match (info.group, info.kind) {
            (CORE, "Namespace") => {
                self.namespaces.insert(object.name().to_string(), object);
            }
            (DISCOVERY, "EndpointSlice") => self.slices.push(object),
            (CORE, "ConfigMap") => self.config_maps.push(object),
            _ if selector.is_some_and(|s| !s.matches(&object.label_map())) => {
                bump(skipped, 1, "not matched by the label selector");
            }
            _ if held_as_routing(info) => self.routing.add(object, info, hold)?,
            _ => self.cluster_scoped.push(object),
        }
        Ok(())
    }

    /// Reserves room for `count` more objects of `kind` that the source expects to add (a
    /// LIST's first page and the server's estimate of the rest), where the held routing
    /// objects would otherwise grow by doubling: up to twice their size, and a copy of them
    /// while growing (issue 16: 14.7 MB at 228k objects). Only namespaced routing kinds are
    /// held here; an estimate is capped, since a server's count is a hint, not a fact.
    pub fn expect(&mut self, kind: &catalog::KindInfo, count: usize) {
        if held_as_routing(kind) {
            self.routing.expect(count.min(MAX_EXPECTED_PER_LIST));
        }
    }

    /// Counts objects the source left out itself (controllers' runtime objects).
    pub fn skip(&mut self, reason: &str, count: usize) {
        bump(&mut self.skipped, count, reason);
    }
}

/// Whether `Sorted::add` keeps objects of `kind` as [`Routing`] (an identity and a body handle)
/// rather than whole: namespaced kinds but the few that selection needs whole.
fn held_as_routing(kind: &catalog::KindInfo) -> bool {
    let held_whole = matches!(
        (kind.group, kind.kind),
        (CORE, "Namespace") | (DISCOVERY, "EndpointSlice") | (CORE, "ConfigMap")
    );
    kind.namespaced && !held_whole
}

/// Gateway API references to Secrets and ConfigMaps in another namespace count as references
/// only where a ReferenceGrant in the target's namespace allows them, as the Gateway API
/// decides.
fn admit_granted(
    references: &mut References,
    grants: &[Object],
    warnings: &mut Vec<String>,
    skipped: &mut BTreeMap<String, usize>,
) {
    for reference in std::mem::take(&mut references.cross_namespace) {
        if granted(grants, &reference) {
            let targets = match reference.to_kind {
                "ConfigMap" => &mut references.config_maps,
                _ => &mut references.secrets,
            };
            targets
                .entry((reference.namespace, reference.name))
                .or_insert(reference.referrer);
        } else {
            warnings.push(format!(
                "{} references {} {}/{} in another namespace, and no ReferenceGrant there \
                 allows it; the {} is left out (the Gateway API would refuse it too)",
                reference.referrer,
                reference.to_kind,
                reference.namespace,
                reference.name,
                reference.to_kind
            ));
            bump(
                skipped,
                1,
                format!(
                    "{} in another namespace without a ReferenceGrant",
                    reference.to_kind
                ),
            );
        }
    }
}

/// Cluster-scoped kinds: all selected ones, or only referenced ones when scoped to namespaces.
fn needed_cluster_scoped(
    cluster_scoped: Vec<Object>,
    references: &References,
    scoped_to_namespaces: bool,
    skipped: &mut BTreeMap<String, usize>,
) -> Vec<Object> {
    let mut needed = Vec::new();
    for object in cluster_scoped {
        let referenced = references
            .cluster_scoped
            .contains(&(object.kind().to_string(), object.name().to_string()));
        if !scoped_to_namespaces || referenced {
            needed.push(object);
        } else {
            bump(
                skipped,
                1,
                "cluster-scoped and not referenced by the selected namespaces",
            );
        }
    }
    needed
}

/// Warns about Services that routing references but the source lacks.
fn warn_missing_services(
    services: &BTreeSet<(String, String)>,
    references: &References,
    warnings: &mut Vec<String>,
) {
    for (key, referrer) in &references.services {
        if !services.contains(key) {
            warnings.push(format!(
                "{referrer} references Service {}/{}, which is not in the source or not selected",
                key.0, key.1
            ));
        }
    }
}

/// A referenced ConfigMap as routing uses it: its CA bundle (`ca.crt`) and nothing else, so
/// the artifact reader's rule (`validate::config_map_problem`) holds; what else it held is
/// named in a warning (keys only, never values).
fn ca_bundle_only(mut config_map: Object, warnings: &mut Vec<String>) -> Object {
    use crate::artifact::validate::CA_BUNDLE_KEY;
    let identity = config_map.object_ref().to_string();
    let Some(root) = config_map.0.as_object_mut() else {
        return config_map;
    };
    let mut dropped: Vec<String> = Vec::new();
    if let Some(binary) = root.remove("binaryData")
        && let Some(map) = binary.as_object()
    {
        dropped.extend(map.keys().map(|k| format!("binaryData.{k}")));
    }
    if let Some(Value::Object(data)) = root.get_mut("data") {
        let others: Vec<String> = data
            .keys()
            .filter(|k| *k != CA_BUNDLE_KEY)
            .cloned()
            .collect();
        for key in others {
            data.remove(&key);
            dropped.push(format!("data.{key}"));
        }
        data.retain(|_, v| v.is_string());
    }
    if !dropped.is_empty() {
        warnings.push(format!(
            "{identity}: only its CA bundle ({CA_BUNDLE_KEY}) is routing data; left out: {}",
            dropped.join(", ")
        ));
    }
    config_map
}

/// The ConfigMaps captured routing references (CA bundles); a referenced one the source lacks
/// is warned about.
fn referenced_config_maps(
    config_maps: Vec<Object>,
    references: &References,
    warnings: &mut Vec<String>,
    skipped: &mut BTreeMap<String, usize>,
) -> Vec<Object> {
    let mut found = BTreeSet::new();
    let mut kept = Vec::new();
    for config_map in config_maps {
        let key = key_of(&config_map);
        if references.config_maps.contains_key(&key) {
            found.insert(key.clone());
            kept.push(ca_bundle_only(config_map, warnings));
        } else {
            bump(skipped, 1, "ConfigMap not referenced by captured routing");
        }
    }
    for (key, referrer) in &references.config_maps {
        if !found.contains(key) {
            warnings.push(format!(
                "{referrer} references ConfigMap {}/{}, which is not in the source or not selected",
                key.0, key.1
            ));
        }
    }
    kept
}

/// EndpointSlices of captured selector-less Services, maintained by hand (the controller
/// recreates the others).
fn hand_managed_slices(
    slices: Vec<Object>,
    selectorless: &BTreeSet<(String, String)>,
    skipped: &mut BTreeMap<String, usize>,
) -> Vec<Object> {
    let mut kept = Vec::new();
    for slice in slices {
        let labels = slice.labels();
        let service = labels
            .get(SERVICE_NAME_LABEL)
            .and_then(Value::as_str)
            .unwrap_or("");
        let by_controller =
            labels.get(MANAGED_BY_LABEL).and_then(Value::as_str) == Some(SLICE_CONTROLLER);
        let key = (
            slice.namespace().unwrap_or("").to_string(),
            service.to_string(),
        );
        if !by_controller && selectorless.contains(&key) {
            kept.push(slice);
        } else {
            bump(
                skipped,
                1,
                "EndpointSlice not of a captured selector-less Service",
            );
        }
    }
    kept
}

fn bump(skipped: &mut BTreeMap<String, usize>, count: usize, reason: impl Into<String>) {
    *skipped.entry(reason.into()).or_insert(0) += count;
}

fn is_system(object: &Object) -> bool {
    catalog::is_system_object(
        object.group(),
        object.kind(),
        object.namespace(),
        object.name(),
    )
}

fn namespace_selected(namespace: Option<&str>, selection: &Selection) -> bool {
    let ns = namespace.unwrap_or("");
    (selection.namespaces.is_empty() || selection.namespaces.iter().any(|n| n == ns))
        && !selection.exclude_namespaces.iter().any(|n| n == ns)
}

/// Why this object is left out as a controller's runtime object (see
/// [`catalog::RUNTIME_OWNED`]), judged by its owner references; `None` when it is not one.
pub fn runtime_owned(object: &Object) -> Option<&'static str> {
    let owners = object
        .0
        .at("/metadata/ownerReferences")
        .and_then(Value::as_array)?;
    owners.iter().find_map(|owner| {
        let owner_kind = owner["kind"].as_str()?;
        // An owner written without apiVersion (hand-made) is judged by kind alone.
        let owner_group = owner["apiVersion"]
            .as_str()
            .map(|v| catalog::split_api_version(v).0);
        catalog::RUNTIME_OWNED
            .iter()
            .find(|(group, kind, owned, _)| {
                *kind == owner_kind
                    && owner_group.is_none_or(|g| g == *group)
                    && owned.is_none_or(|k| k == object.kind())
            })
            .map(|(_, _, _, reason)| *reason)
    })
}

/// What captured routing objects point at (see [`catalog::REFERENCES`]): (namespace, name) of
/// Secrets and Services, and (kind, name) of cluster-scoped classes and issuers. Each with the
/// first referrer, for warnings.
#[derive(Debug, Default)]
pub struct References {
    pub secrets: BTreeMap<(String, String), Referrer>,
    /// Gateway API references to a Secret or ConfigMap in another namespace, not yet allowed.
    pub cross_namespace: Vec<CrossReference>,
    pub services: BTreeMap<(String, String), Referrer>,
    pub config_maps: BTreeMap<(String, String), Referrer>,
    pub cluster_scoped: BTreeSet<(String, String)>,
}

/// A Gateway API object's reference to a Secret or ConfigMap in another namespace.
#[derive(Debug, Clone)]
pub struct CrossReference {
    /// The referring kind (Gateway, ListenerSet): the `from` a grant must name.
    pub from_kind: String,
    /// `Secret` or `ConfigMap`: the `to` a grant must name.
    pub to_kind: &'static str,
    pub from_namespace: String,
    pub namespace: String,
    pub name: String,
    pub referrer: Referrer,
}

/// The identity of a referring object, as warnings name it: one copy per object, shared by
/// each of its references (a folder of 100,000 Ingresses has twice as many references).
pub type Referrer = Arc<str>;

/// Whether a ReferenceGrant in the target's namespace lets objects of the referring kind in
/// `from_namespace` refer to it (Gateway API: `from` that kind in that namespace, `to` the
/// core kind, any name or this one).
pub fn granted(grants: &[Object], reference: &CrossReference) -> bool {
    grants.iter().any(|grant| {
        grant.namespace() == Some(reference.namespace.as_str())
            && array(&grant.0, "/spec/from").any(|from| {
                from["group"].as_str() == Some(GATEWAY)
                    && from["kind"].as_str() == Some(reference.from_kind.as_str())
                    && from["namespace"].as_str() == Some(reference.from_namespace.as_str())
            })
            && array(&grant.0, "/spec/to").any(|to| {
                to["group"].as_str().unwrap_or("").is_empty()
                    && to["kind"].as_str() == Some(reference.to_kind)
                    && to["name"]
                        .as_str()
                        .is_none_or(|name| name == reference.name)
            })
    })
}

/// One reference found in an object: the target's namespace (if it is namespaced) and name.
struct Found {
    namespace: Option<String>,
    name: String,
}

impl References {
    pub fn of<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Self {
        let mut refs = Self::default();
        for object in objects {
            refs.extend_with(object);
        }
        refs
    }

    /// Adds `object`'s references (earlier referrers stay first).
    pub fn extend_with(&mut self, object: &Object) {
        let (group, kind) = (object.group(), object.kind());
        let mut referrer = None;
        for reference in catalog::REFERENCES
            .iter()
            .filter(|r| r.group == group && r.kind == kind)
        {
            self.add(object, reference, &mut referrer);
        }
    }

    /// Adds the references `reference` describes; `referrer` is made once per object, when
    /// the first one is found.
    fn add(
        &mut self,
        object: &Object,
        reference: &catalog::Reference,
        referrer: &mut Option<Referrer>,
    ) {
        let own_namespace = object
            .namespace()
            .unwrap_or(catalog::CLUSTER_RESOURCE_NAMESPACE);
        for found in found_at(object, reference) {
            let referrer = referrer.get_or_insert_with(|| object.object_ref().to_string().into());
            let namespace = found.namespace.as_deref().unwrap_or(own_namespace);
            match reference.target {
                RefTarget::ClusterScoped(kind) => {
                    self.cluster_scoped.insert((kind.into(), found.name));
                }
                RefTarget::Service => {
                    self.services
                        .entry((namespace.to_string(), found.name))
                        .or_insert_with(|| Arc::clone(referrer));
                }
                RefTarget::Secret | RefTarget::ConfigMap
                    if object.group() == GATEWAY && namespace != own_namespace =>
                {
                    self.cross_namespace.push(CrossReference {
                        from_kind: object.kind().to_string(),
                        to_kind: if reference.target == RefTarget::ConfigMap {
                            "ConfigMap"
                        } else {
                            "Secret"
                        },
                        from_namespace: own_namespace.to_string(),
                        namespace: namespace.to_string(),
                        name: found.name,
                        referrer: Arc::clone(referrer),
                    });
                }
                RefTarget::ConfigMap => {
                    self.config_maps
                        .entry((namespace.to_string(), found.name))
                        .or_insert_with(|| Arc::clone(referrer));
                }
                RefTarget::Secret => {
                    self.secrets
                        .entry((namespace.to_string(), found.name))
                        .or_insert_with(|| Arc::clone(referrer));
                }
            }
        }
    }
}

/// The references `reference` describes in `object`.
fn found_at(object: &Object, reference: &catalog::Reference) -> Vec<Found> {
    let values: Vec<&Value> = match reference.at {
        RefAt::Path(path) => values_at(&object.0, path),
        RefAt::Annotation(key) => object
            .0
            .at("/metadata/annotations")
            .and_then(|a| a.get(key))
            .into_iter()
            .collect(),
    };
    let mut found = Vec::new();
    for value in values {
        match reference.form {
            RefForm::Name => {
                found.extend(value.as_str().filter(|n| !n.is_empty()).map(|n| Found {
                    namespace: None,
                    name: n.to_string(),
                }))
            }
            RefForm::NamespacedName => {
                let text = value.as_str().unwrap_or("").trim();
                found.extend(match text.split_once('/') {
                    Some((ns, name)) if !ns.is_empty() && !name.is_empty() => Some(Found {
                        namespace: Some(ns.to_string()),
                        name: name.to_string(),
                    }),
                    Some(_) => None,
                    None => (!text.is_empty()).then(|| Found {
                        namespace: None,
                        name: text.to_string(),
                    }),
                });
            }
            RefForm::ObjectRef {
                default_group,
                default_kind,
            } => found.extend(object_ref(
                value,
                default_group,
                default_kind,
                reference.target,
            )),
            RefForm::SecretRefsWithin => secret_refs_within(value, &mut found),
        }
    }
    found
}

/// An object reference that names the target's kind.
fn object_ref(
    value: &Value,
    default_group: &str,
    default_kind: &str,
    target: RefTarget,
) -> Option<Found> {
    let group = value["group"].as_str().unwrap_or(default_group);
    let kind = value["kind"].as_str().unwrap_or(default_kind);
    let (want_group, want_kind) = match target {
        RefTarget::Secret => (CORE, "Secret"),
        RefTarget::Service => (CORE, "Service"),
        RefTarget::ConfigMap => (CORE, "ConfigMap"),
        RefTarget::ClusterScoped(kind) => (
            catalog::KINDS
                .iter()
                .find(|k| k.kind == kind)
                .map_or("", |k| k.group),
            kind,
        ),
    };
    let name = value["name"].as_str().filter(|n| !n.is_empty())?;
    (group == want_group && kind == want_kind).then(|| Found {
        namespace: value["namespace"].as_str().map(str::to_string),
        name: name.to_string(),
    })
}

/// Every `{name}` object under a key named `secretRef` or ending in `SecretRef`.
fn secret_refs_within(value: &Value, found: &mut Vec<Found>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let is_ref = key == "secretRef" || key.ends_with("SecretRef");
                if let (true, Some(name)) = (is_ref, inner["name"].as_str()) {
                    found.push(Found {
                        namespace: None,
                        name: name.to_string(),
                    });
                } else {
                    secret_refs_within(inner, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| secret_refs_within(i, found)),
        _ => {}
    }
}

/// The values at a JSON pointer in which `*` stands for every element of an array.
pub fn values_at<'a>(value: &'a Value, path: &str) -> Vec<&'a Value> {
    // Depth first into one list: the same order as expanding level by level, without a list
    // per level and value (this runs for every reference path of every object listed).
    let mut found = Vec::new();
    collect_at(value, path.split('/').skip(1), &mut found);
    found
}

fn collect_at<'a, 'p>(
    value: &'a Value,
    mut segments: impl Iterator<Item = &'p str> + Clone,
    found: &mut Vec<&'a Value>,
) {
    match (segments.next(), value) {
        (None, _) => found.push(value),
        (Some("*"), Value::Array(items)) => {
            for item in items {
                collect_at(item, segments.clone(), found);
            }
        }
        (Some(key), Value::Object(map)) => {
            if let Some(child) = map.get(key) {
                collect_at(child, segments, found);
            }
        }
        _ => {}
    }
}

fn array<'a>(value: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    value
        .at(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_at_expands_every_array_element_in_document_order() {
        let value = json!({"spec": {"rules": [
            {"http": {"paths": [{"backend": "a"}, {"backend": "b"}]}},
            {"host": "no-http"},
            {"http": {"paths": [{"backend": "c"}, {"other": "x"}]}}
        ], "*": {"backend": "star-key"}}});
        let found = values_at(&value, "/spec/rules/*/http/paths/*/backend");
        assert_eq!(found, [&json!("a"), &json!("b"), &json!("c")]);
        // `*` is a key like any other on a map; a path that ends early finds nothing.
        assert_eq!(values_at(&value, "/spec/*/backend"), [&json!("star-key")]);
        assert!(values_at(&value, "/spec/rules/*/http/missing").is_empty());
        assert_eq!(values_at(&value, ""), [&value]);
    }

    fn obj(v: Value) -> Object {
        Object(v)
    }

    #[test]
    fn an_objects_references_share_one_referrer() {
        let ingress = obj(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop",
                         "annotations": {"cert-manager.io/cluster-issuer": "le"}},
            "spec": {
                "tls": [{"secretName": "web-tls"}, {"secretName": "api-tls"}],
                "rules": [{"http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "web", "port": {"number": 80}}}}
                ]}}]
            }
        }));
        let refs = References::of([&ingress]);
        let web_tls = &refs.secrets[&("shop".into(), "web-tls".into())];
        let api_tls = &refs.secrets[&("shop".into(), "api-tls".into())];
        let service = &refs.services[&("shop".into(), "web".into())];
        assert_eq!(&**web_tls, "networking.k8s.io/Ingress shop/web");
        assert!(Arc::ptr_eq(web_tls, api_tls) && Arc::ptr_eq(web_tls, service));
        assert!(
            refs.cluster_scoped
                .contains(&("ClusterIssuer".into(), "le".into()))
        );
    }

    #[test]
    fn announced_lists_reserve_held_routing_exactly_and_capped() {
        let kind = |group, kind| catalog::lookup_group_kind(group, kind).unwrap();
        let mut sorted: Sorted<()> = Sorted::default();
        // Two kinds announced while listing concurrently: room for both, not a doubling.
        sorted.expect(kind(catalog::NETWORKING, "Ingress"), 3_000);
        sorted.expect(kind(CORE, "Service"), 3_000);
        assert_eq!(sorted.routing.held.capacity(), 6_000);
        // Kinds that are held whole, or cluster-scoped, reserve nothing here.
        sorted.expect(kind(CORE, "Namespace"), 50_000);
        sorted.expect(kind(DISCOVERY, "EndpointSlice"), 50_000);
        sorted.expect(kind(catalog::NETWORKING, "IngressClass"), 50_000);
        assert_eq!(sorted.routing.held.capacity(), 6_000);
        // A server's count is a hint: an absurd one reserves at most the cap.
        let mut sorted: Sorted<()> = Sorted::default();
        sorted.expect(kind(catalog::NETWORKING, "Ingress"), usize::MAX);
        assert_eq!(sorted.routing.held.capacity(), MAX_EXPECTED_PER_LIST);
        sorted.expect(kind(CORE, "Service"), usize::MAX);
        assert_eq!(sorted.routing.held.capacity(), 2 * MAX_EXPECTED_PER_LIST);
    }

    fn refs(selected: &Selected) -> Vec<String> {
        selected
            .objects
            .iter()
            .map(|o| o.object_ref().to_string())
            .collect()
    }

    fn sample() -> Vec<Object> {
        vec![
            obj(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}}),
            ),
            obj(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "empty"}})),
            obj(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                             "annotations": {"cert-manager.io/cluster-issuer": "le"}},
                "spec": {"ingressClassName": "nginx", "tls": [{"secretName": "web-tls"}, {"secretName": "gone-tls"}],
                         "rules": [{"http": {"paths": [{"backend": {"service": {"name": "web"}}},
                                                       {"backend": {"service": {"name": "missing"}}}]}}]}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                "spec": {"selector": {"app": "web"}}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "shop"}, "spec": {"ports": [{"port": 80}]}}),
            ),
            obj(
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "ext-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "ext"}}}),
            ),
            obj(
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "web-abc", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": "web-tls", "namespace": "shop"}, "data": {}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "db-password", "namespace": "shop"}, "data": {}}),
            ),
            obj(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": "web-tls", "namespace": "shop", "ownerReferences": [{"kind": "Ingress", "name": "web"}]}}),
            ),
            obj(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "metadata": {"name": "web-tls-1", "namespace": "shop"}}),
            ),
            obj(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}),
            ),
            obj(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}),
            ),
            obj(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "unused"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
            ),
        ]
    }

    /// One object per kind of reference in the catalog's real-world shapes (cert-manager's
    /// CA, ACME and DNS-01 issuer docs, ingress-nginx's auth annotations, Gateway API v1.6
    /// ListenerSet, backend TLS and routes): every Secret, Service and class they need is found.
    #[test]
    fn secrets_are_restored_in_the_secret_tier() {
        assert_eq!(tier_of(CORE, "Secret"), SECRET_TIER);
    }

    #[test]
    fn catalog_references_find_what_real_routing_needs() {
        // long: one table of real-world shapes, read top to bottom against the assertions.
        let tls = |ns: &str, name: &str| {
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "namespace": ns}, "data": {}}),
            )
        };
        let mut objects = vec![
            obj(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "ca"},
                "spec": {"ca": {"secretName": "ca-key-pair"}}}),
            ),
            obj(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "le", "namespace": "web"},
                "spec": {"acme": {"server": "https://acme.example/dir", "privateKeySecretRef": {"name": "le-account"},
                    "externalAccountBinding": {"keyID": "k", "keySecretRef": {"name": "eab", "key": "secret"}},
                    "solvers": [{"dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "cf-token", "key": "api-token"}}}},
                                {"dns01": {"route53": {"region": "eu-west-1", "accessKeyIDSecretRef": {"name": "aws", "key": "id"},
                                    "secretAccessKeySecretRef": {"name": "aws", "key": "secret"}}}}]}}}),
            ),
            obj(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "jks", "namespace": "web"},
                "spec": {"secretName": "jks-tls", "issuerRef": {"name": "ca", "kind": "ClusterIssuer"},
                    "keystores": {"pkcs12": {"create": true, "passwordSecretRef": {"name": "p12-password", "key": "pw"}}}}}),
            ),
            obj(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "mtls", "namespace": "web",
                "annotations": {"nginx.ingress.kubernetes.io/auth-tls-secret": "certs/client-ca",
                                "nginx.ingress.kubernetes.io/auth-secret": "basic-auth"}},
                "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
            ),
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "web",
                "annotations": {"cert-manager.io/cluster-issuer": "ca"}},
                "spec": {"gatewayClassName": "eg", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                        "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"shared-gateway-access": "true"}}}}}],
                    "allowedListeners": {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team-b"]}]}}},
                    "tls": {"backend": {"clientCertificateRef": {"name": "gw-client"}}}}}),
            ),
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet", "metadata": {"name": "team", "namespace": "web"},
                "spec": {"parentRef": {"name": "gw"}, "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS",
                    "tls": {"certificateRefs": [{"name": "team-tls"}, {"name": "shared-tls", "namespace": "certs"}]}}]}}),
            ),
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "ls", "namespace": "certs"},
                "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "ListenerSet", "namespace": "web"}],
                         "to": [{"group": "", "kind": "Secret"}]}}),
            ),
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TLSRoute", "metadata": {"name": "pass", "namespace": "web"},
                "spec": {"rules": [{"backendRefs": [{"name": "tls-backend", "port": 443}]}]}}),
            ),
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "BackendTLSPolicy", "metadata": {"name": "tls", "namespace": "web"},
                "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "secure"}]}}),
            ),
            obj(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "gw-tls", "namespace": "web",
                "ownerReferences": [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "name": "gw", "uid": "1"}]},
                "spec": {"secretName": "gw-tls", "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "cm-acme-http-solver-x", "namespace": "web",
                "ownerReferences": [{"apiVersion": "acme.cert-manager.io/v1", "kind": "Challenge", "name": "c", "uid": "2"}]}}),
            ),
        ];
        for (ns, name) in [
            ("cert-manager", "ca-key-pair"),
            ("web", "le-account"),
            ("web", "eab"),
            ("web", "cf-token"),
            ("web", "aws"),
            ("web", "jks-tls"),
            ("web", "p12-password"),
            ("certs", "client-ca"),
            ("web", "basic-auth"),
            ("web", "gw-client"),
            ("web", "team-tls"),
            ("certs", "shared-tls"),
            ("web", "gw-tls"),
            ("web", "unused"),
        ] {
            objects.push(tls(ns, name));
        }
        for (name, labels) in [
            ("apps", json!({"shared-gateway-access": "true"})),
            ("team-b", json!({})),
            ("other", json!({})),
        ] {
            objects.push(obj(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})));
        }
        let out = select(objects, &Selection::default(), SecretsMode::Sealed);
        let namespaces: Vec<&str> = out
            .objects
            .iter()
            .filter(|o| o.kind() == "Namespace")
            .map(|o| o.name())
            .collect();
        assert_eq!(
            namespaces,
            ["apps", "cert-manager", "certs", "team-b", "web"],
            "admitted namespaces kept, others not"
        );
        let secrets: Vec<String> = out
            .objects
            .iter()
            .filter(|o| o.kind() == "Secret")
            .map(|o| format!("{}/{}", o.namespace().unwrap(), o.name()))
            .collect();
        assert_eq!(
            secrets,
            [
                "cert-manager/ca-key-pair",
                "certs/client-ca",
                "certs/shared-tls",
                "web/aws",
                "web/basic-auth",
                "web/cf-token",
                "web/eab",
                "web/gw-client",
                "web/jks-tls",
                "web/le-account",
                "web/p12-password",
                "web/team-tls",
            ]
        );
        let refs = References::of(&out.objects);
        for service in ["web", "tls-backend", "secure"] {
            assert!(
                refs.services.contains_key(&("web".into(), service.into())),
                "{service}"
            );
        }
        assert!(
            refs.cluster_scoped
                .contains(&("ClusterIssuer".into(), "ca".into()))
        );
        assert!(
            refs.cluster_scoped
                .contains(&("GatewayClass".into(), "eg".into()))
        );
        let kinds: Vec<&str> = out.objects.iter().map(|o| o.kind()).collect();
        for kind in ["ListenerSet", "TLSRoute", "BackendTLSPolicy"] {
            assert!(kinds.contains(&kind), "{kind} not captured: {kinds:?}");
        }
        assert_eq!(
            out.skipped["Certificate owned by a Gateway (recreated by cert-manager's gateway-shim)"],
            1
        );
        assert_eq!(
            out.skipped["ACME HTTP-01 solver object owned by a Challenge (runtime state of cert-manager)"],
            1
        );
        assert!(
            !kinds.contains(&"Service"),
            "the solver Service was captured"
        );
    }

    #[test]
    fn captures_routing_and_only_what_it_references() {
        let out = select(sample(), &Selection::default(), SecretsMode::Sealed);
        assert_eq!(
            refs(&out),
            vec![
                "Namespace shop",
                "networking.k8s.io/IngressClass nginx",
                "networking.k8s.io/IngressClass unused",
                "Secret shop/web-tls",
                "Service shop/ext",
                "Service shop/web",
                "discovery.k8s.io/EndpointSlice shop/ext-1",
                "networking.k8s.io/Ingress shop/web",
            ]
        );
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("Secret shop/gone-tls")),
            "{:?}",
            out.warnings
        );
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("Service shop/missing")),
            "{:?}",
            out.warnings
        );
        assert_eq!(out.skipped["not a routing kind: apps/Deployment"], 1);
        assert_eq!(
            out.skipped["Secret not referenced by captured routing (data minimisation)"],
            1
        );
        assert_eq!(
            out.skipped["Certificate owned by an Ingress (recreated by cert-manager's ingress-shim)"],
            1
        );
        assert_eq!(out.skipped["the API server's own objects"], 2);
        let mut dashboard = sample();
        dashboard.push(obj(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "dashboard", "namespace": "kube-system"}}),
        ));
        let out = select(dashboard, &Selection::default(), SecretsMode::Sealed);
        assert_eq!(
            out.skipped["in a system namespace (kube-system, kube-public, kube-node-lease): --include-system captures them"],
            1
        );
    }

    #[test]
    fn namespace_scope_keeps_only_referenced_cluster_objects() {
        let selection = Selection {
            namespaces: vec!["shop".into()],
            ..Default::default()
        };
        let out = select(sample(), &selection, SecretsMode::Sealed);
        let r = refs(&out);
        assert!(r.contains(&"networking.k8s.io/IngressClass nginx".to_string()));
        assert!(!r.contains(&"networking.k8s.io/IngressClass unused".to_string()));
        let none = Selection {
            namespaces: vec!["other".into()],
            ..Default::default()
        };
        assert!(
            select(sample(), &none, SecretsMode::Sealed)
                .objects
                .is_empty()
        );
        let excluded = Selection {
            exclude_namespaces: vec!["shop".into()],
            ..Default::default()
        };
        let r = refs(&select(sample(), &excluded, SecretsMode::Sealed));
        assert!(r.iter().all(|r| !r.contains("shop")), "{r:?}");
    }

    /// A source that streams Secrets (a cluster) tells the plan only which ones it accepted:
    /// the plan knows what is missing and which Secret-only namespaces to keep.
    #[test]
    fn a_streaming_source_leaves_what_was_captured_to_the_plan() {
        let ingress = |name: &str, client_ca: &str| {
            obj(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": name, "namespace": "web",
                    "annotations": {"nginx.ingress.kubernetes.io/auth-tls-secret": client_ca}},
                "spec": {"tls": [{"secretName": "web-tls"}]}}),
            )
        };
        let secret = |ns: &str, name: &str| {
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "namespace": ns}, "data": {}}),
            )
        };
        let objects = vec![ingress("a", "certs/client-ca"), ingress("b", "vault/gone")];
        let mut plan = plan(objects, &Selection::default(), SecretsMode::Sealed, None);
        assert!(plan.wants_secret("certs", "client-ca"));
        assert!(plan.accepts_secret(&secret("certs", "client-ca")));
        assert!(
            !plan.wants_secret("certs", "client-ca"),
            "a captured Secret is not wanted again"
        );
        assert!(plan.accepts_secret(&secret("web", "web-tls")));
        assert!(!plan.accepts_secret(&secret("web", "unrelated")));
        let kept: Vec<String> = plan
            .namespaces_of_secrets()
            .iter()
            .map(|ns| ns.name().to_string())
            .collect();
        assert_eq!(kept, ["certs"], "vault holds no captured Secret");
        plan.finish(1);
        assert_eq!(
            plan.warnings,
            [
                "networking.k8s.io/Ingress web/b references Secret vault/gone, which is not in the source"
            ]
        );
        assert_eq!(
            plan.skipped.get("Namespace holding no captured object"),
            Some(&1)
        );
        assert_eq!(
            plan.skipped
                .get("Secret not referenced by captured routing (data minimisation)"),
            Some(&1)
        );
    }

    #[test]
    fn selector_filters_routing_and_secrets_follow_references() {
        let selection = Selection {
            selector: Some(LabelSelector::parse("app=web").unwrap()),
            ..Default::default()
        };
        let r = refs(&select(sample(), &selection, SecretsMode::Sealed));
        assert_eq!(
            r,
            vec![
                "Namespace shop",
                "Secret shop/web-tls",
                "Service shop/web",
                "networking.k8s.io/Ingress shop/web"
            ]
        );
    }

    #[test]
    fn secrets_skip_captures_none() {
        let r = refs(&select(sample(), &Selection::default(), SecretsMode::Skip));
        assert!(r.iter().all(|r| !r.starts_with("Secret")));
    }

    #[test]
    fn a_referenced_config_map_is_captured_as_its_ca_bundle_only() {
        let objects = vec![
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "BackendTLSPolicy",
                "metadata": {"name": "tls", "namespace": "shop"},
                "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "web"}],
                         "validation": {"hostname": "web.shop",
                             "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ca"}]}}}),
            ),
            obj(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "ca", "namespace": "shop"},
                "data": {"ca.crt": "PEM", "app.properties": "password=hunter2"},
                "binaryData": {"blob": "AA=="}})),
        ];
        let out = select(objects, &Selection::default(), SecretsMode::Sealed);
        let cm = out
            .objects
            .iter()
            .find(|o| o.kind() == "ConfigMap")
            .unwrap();
        assert_eq!(cm.0["data"], json!({"ca.crt": "PEM"}));
        assert!(cm.0.get("binaryData").is_none());
        assert_eq!(crate::artifact::validate::object_problem(cm), None);
        let warning = out
            .warnings
            .iter()
            .find(|w| w.contains("ConfigMap shop/ca"))
            .unwrap();
        assert!(warning.contains("data.app.properties") && warning.contains("binaryData.blob"));
        assert!(!warning.contains("hunter2"));
    }

    #[test]
    fn gateway_certificate_refs_select_secrets_across_namespaces() {
        let objects = vec![
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "edge", "namespace": "infra"},
                "spec": {"gatewayClassName": "eg", "listeners": [{"name": "https", "tls": {"certificateRefs": [
                    {"name": "edge-tls"}, {"name": "shared", "namespace": "certs"}, {"kind": "ConfigMap", "name": "nope"}]}}]}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "edge-tls", "namespace": "infra"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shared", "namespace": "certs"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nope", "namespace": "infra"}}),
            ),
            // The Secret's namespace allows the Gateway's (without it: the test above).
            obj(
                json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "g", "namespace": "certs"},
                "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra"}], "to": [{"group": "", "kind": "Secret"}]}}),
            ),
        ];
        let r = refs(&select(objects, &Selection::default(), SecretsMode::Sealed));
        assert!(r.contains(&"Secret infra/edge-tls".to_string()));
        assert!(r.contains(&"Secret certs/shared".to_string()));
        assert!(
            r.contains(&"Namespace certs".to_string()),
            "namespace made for the secret: {r:?}"
        );
        assert!(!r.contains(&"Secret infra/nope".to_string()));
    }

    #[test]
    fn a_gateways_ca_bundle_in_another_namespace_needs_a_grant_to_config_maps() {
        let gateway = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": "tenant-a"},
            "spec": {"gatewayClassName": "c", "listeners": [{"name": "h", "port": 80, "protocol": "HTTP"}],
                "tls": {"frontend": {"default": {"validation": {"caCertificateRefs": [
                    {"group": "", "kind": "ConfigMap", "name": "ca", "namespace": "pki"}]}}}}}});
        let bundle = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "ca", "namespace": "pki"}, "data": {"ca.crt": "PEM"}});
        let grant = |to_kind: &str| {
            json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                "metadata": {"name": "allow", "namespace": "pki"},
                "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "tenant-a"}],
                    "to": [{"group": "", "kind": to_kind}]}})
        };
        let captured = |extra: Option<Value>| {
            let mut objects = vec![Object(gateway.clone()), Object(bundle.clone())];
            objects.extend(extra.map(Object));
            let out = select(objects, &Selection::default(), SecretsMode::Sealed);
            let has = out.objects.iter().any(|o| o.kind() == "ConfigMap");
            (has, out.warnings)
        };
        let (has, warnings) = captured(None);
        assert!(!has);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("ConfigMap pki/ca") && w.contains("no ReferenceGrant")),
            "{warnings:?}"
        );
        // A grant to Secrets does not cover ConfigMaps.
        assert!(!captured(Some(grant("Secret"))).0);
        assert!(captured(Some(grant("ConfigMap"))).0);
    }

    #[test]
    fn cross_namespace_certificate_refs_need_a_reference_grant() {
        let gateway = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": "tenant-a"},
            "spec": {"gatewayClassName": "c", "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS",
                "tls": {"certificateRefs": [{"name": "shared", "namespace": "tenant-b"}, {"name": "own"}]}}]}});
        let secret = |ns: &str, name: &str| {
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": ns}, "data": {"tls.key": "eA=="}})
        };
        let grant = |to_name: Option<&str>| {
            let mut to = json!({"group": "", "kind": "Secret"});
            if let Some(name) = to_name {
                to["name"] = json!(name);
            }
            json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                "metadata": {"name": "allow-a", "namespace": "tenant-b"},
                "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "tenant-a"}],
                    "to": [to]}})
        };
        let captured = |extra: Vec<Value>| {
            let mut objects = vec![
                Object(gateway.clone()),
                Object(secret("tenant-b", "shared")),
                Object(secret("tenant-a", "own")),
            ];
            objects.extend(extra.into_iter().map(Object));
            let out = select(objects, &Selection::default(), SecretsMode::Sealed);
            let secrets: Vec<String> = out
                .objects
                .iter()
                .filter(|o| o.kind() == "Secret")
                .map(|o| o.object_ref().to_string())
                .collect();
            (secrets, out.warnings)
        };
        let (secrets, warnings) = captured(vec![]);
        assert_eq!(secrets, vec!["Secret tenant-a/own"]);
        assert!(
            warnings.iter().any(|w| w.contains("no ReferenceGrant")),
            "{warnings:?}"
        );
        let (secrets, _) = captured(vec![grant(None)]);
        assert_eq!(
            secrets,
            vec!["Secret tenant-a/own", "Secret tenant-b/shared"]
        );
        let (secrets, _) = captured(vec![grant(Some("shared"))]);
        assert!(secrets.contains(&"Secret tenant-b/shared".to_string()));
        let (secrets, _) = captured(vec![grant(Some("other"))]);
        assert_eq!(secrets, vec!["Secret tenant-a/own"]);
    }
}
