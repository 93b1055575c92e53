//! `restore --wait`: after applying, watches the restored routing until its controllers report
//! it live (`readiness`: Certificates and issuers `Ready`, Gateways `Programmed`, routes
//! accepted with their references resolved by every parent, Ingresses with an address), or
//! until the timeout. One watch per kind across the cluster (list, then watch from that
//! version; kube's watcher re-lists on an expired version), never a polling loop. Also counts
//! the CertificateRequests created while the restore ran: cert-manager creates one only to
//! issue, and a restored, still valid certificate must not be issued again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, TypeMeta};
use kube::discovery::ApiResource;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::Serialize;

use crate::catalog::{CERT_MANAGER, RESTORE_TIERS};
use crate::k8s::discovery::ServedKind;
use crate::k8s::retry::with_retry;
use crate::object::{Identities, Object, ObjectRef};
use crate::output::escape;
use crate::readiness::{
    Expectations, Readiness, StuckRequest, is_waited_kind, readiness_expected, stuck_request,
};

/// One waited object in the report.
#[derive(Debug, Clone, Serialize)]
pub struct WaitedObject {
    pub object: String,
    pub tier: String,
    #[serde(flatten)]
    pub readiness: Readiness,
    /// Milliseconds from the restore's start until it was first seen live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<u128>,
    /// For a Certificate not live at the end: the CertificateRequest that holds it up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<StuckRequest>,
}

/// When each tier's waited objects were all live.
#[derive(Debug, Clone, Serialize)]
pub struct TierReady {
    pub tier: String,
    pub objects: usize,
    /// None: some object of the tier was not live when the wait ended.
    pub ready_ms: Option<u128>,
}

/// What `--wait` saw: the drill's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct WaitReport {
    pub timeout_s: u64,
    /// Every waited object is live.
    pub ready: bool,
    /// Milliseconds from the restore's start until every object was applied.
    pub applied_ms: u128,
    /// Milliseconds from the restore's start until every waited object was live: the
    /// recovery time. None when the wait timed out.
    pub ready_ms: Option<u128>,
    pub tiers: Vec<TierReady>,
    pub not_ready: usize,
    /// CertificateRequests cert-manager created while the restore ran (each one is an
    /// issuance); None when CertificateRequests are not served or could not be listed.
    pub certificate_requests_created: Option<usize>,
    pub objects: Vec<WaitedObject>,
}

impl WaitReport {
    /// The objects not live, one line each with the condition's reason and message (written
    /// by controllers: escaped for the terminal).
    pub fn not_ready_lines(&self) -> Vec<String> {
        self.objects
            .iter()
            .filter_map(|o| match &o.readiness {
                Readiness::Ready => None,
                Readiness::Pending {
                    condition,
                    reason,
                    message,
                } => {
                    let mut line = format!(
                        "{}: {condition} {}: {}",
                        o.object,
                        escape(reason),
                        escape(message)
                    );
                    if let Some(request) = &o.request {
                        line.push_str(&format!(
                            "; its CertificateRequest {}: {}: {}",
                            escape(&request.name),
                            escape(&request.reason),
                            escape(&request.message)
                        ));
                    }
                    Some(line)
                }
            })
            .collect()
    }
}

fn certificate_requests() -> ApiResource {
    ApiResource {
        group: CERT_MANAGER.into(),
        version: "v1".into(),
        api_version: format!("{CERT_MANAGER}/v1"),
        kind: "CertificateRequest".into(),
        plural: "certificaterequests".into(),
    }
}

/// The uids of the cluster's CertificateRequests; None when they are not served or may not
/// be listed (the count is then left out of the report, not guessed).
pub async fn certificate_request_uids(client: &Client) -> Option<BTreeSet<String>> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &certificate_requests());
    let params = ListParams::default();
    match with_retry("CertificateRequests", || api.list_metadata(&params)).await {
        Ok(list) => Some(
            list.items
                .into_iter()
                .filter_map(|o| o.metadata.uid)
                .collect(),
        ),
        Err(error) => {
            tracing::info!(%error, "CertificateRequests not counted");
            None
        }
    }
}

/// The objects of `identities` that have a readiness to wait for, by kind.
pub fn waited(identities: &Identities) -> BTreeMap<(String, String), Vec<ObjectRef>> {
    let mut by_kind: BTreeMap<(String, String), Vec<ObjectRef>> = BTreeMap::new();
    for identity in identities
        .iter()
        .filter(|i| is_waited_kind(i.kind.group, i.kind.kind))
    {
        by_kind
            .entry((
                identity.kind.group.to_string(),
                identity.kind.kind.to_string(),
            ))
            .or_default()
            .push(identity.to_object_ref());
    }
    by_kind
}

/// Watches until every object of `waited` is live or `timeout` has passed since the call;
/// times are measured from `started` (the restore's start). Fails only when a watch cannot be
/// started for want of permission (naming the kind) — other watch errors are retried with
/// backoff until the timeout.
pub async fn wait_until_live(
    client: &Client,
    served: &[ServedKind],
    waited: BTreeMap<(String, String), Vec<ObjectRef>>,
    expectations: &Expectations,
    started: Instant,
    timeout: Duration,
) -> anyhow::Result<Vec<WaitedObject>> {
    let mut states: BTreeMap<ObjectRef, WaitedObject> = BTreeMap::new();
    let mut streams = Vec::new();
    for ((group, kind), identities) in waited {
        let Some(served_kind) = served
            .iter()
            .find(|k| k.info.group == group && k.info.kind == kind)
        else {
            continue;
        };
        for identity in identities {
            let tier = crate::catalog::tier_name(&identity.group, &identity.kind).to_string();
            states.insert(
                identity.clone(),
                WaitedObject {
                    object: identity.to_string(),
                    tier,
                    readiness: Readiness::Pending {
                        condition: "Seen".into(),
                        reason: "NotSeen".into(),
                        message: "not seen by the watch yet".into(),
                    },
                    ready_ms: None,
                    request: None,
                },
            );
        }
        streams.push(watch(client, served_kind));
    }
    let mut pending: BTreeSet<ObjectRef> = states.keys().cloned().collect();
    let mut events = futures::stream::select_all(streams);
    let deadline = tokio::time::Instant::now() + timeout;
    let progress = crate::progress::Progress::new();
    let bar = progress.bar("live", pending.len() as u64);
    while !pending.is_empty() {
        let Ok(Some((label, event))) = tokio::time::timeout_at(deadline, events.next()).await
        else {
            break;
        };
        let object = match event {
            Ok(Event::Apply(object) | Event::InitApply(object)) => object,
            Ok(_) => continue,
            Err(error) => {
                if let Some(message) = forbidden(&error) {
                    anyhow::bail!(
                        "--wait needs list and watch on {label} across the cluster to see its \
                         status: {message}; the routing was restored, only the wait failed"
                    );
                }
                tracing::debug!(kind = %label, %error, "watch interrupted; resuming");
                continue;
            }
        };
        let object = Object(serde_json::to_value(&object)?);
        let identity = object.object_ref();
        let Some(state) = states.get_mut(&identity) else {
            continue;
        };
        state.readiness = readiness_expected(&object.0, expectations);
        if state.readiness.is_ready() && pending.remove(&identity) {
            state.ready_ms = Some(started.elapsed().as_millis());
            bar.inc(1);
            tracing::info!(object = %state.object, "live");
        }
    }
    bar.finish();
    explain_certificates(client, &mut states, &pending).await;
    Ok(states.into_values().collect())
}

/// Names, for each Certificate still not live, the CertificateRequest that holds it up (a
/// missing issuer is named only there). Best effort: requests that cannot be listed leave
/// the Certificate's own condition as the explanation.
async fn explain_certificates(
    client: &Client,
    states: &mut BTreeMap<ObjectRef, WaitedObject>,
    pending: &BTreeSet<ObjectRef>,
) {
    let certificates: Vec<&ObjectRef> = pending
        .iter()
        .filter(|i| i.group == CERT_MANAGER && i.kind == "Certificate")
        .collect();
    let namespaces: BTreeSet<&str> = certificates
        .iter()
        .filter_map(|i| i.namespace.as_deref())
        .collect();
    for namespace in namespaces {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), namespace, &certificate_requests());
        let params = ListParams::default();
        let requests = match with_retry("CertificateRequests", || api.list(&params)).await {
            Ok(list) => list.items,
            Err(error) => {
                tracing::info!(%namespace, %error, "CertificateRequests not read");
                continue;
            }
        };
        let requests: Vec<serde_json::Value> = requests
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect();
        for identity in certificates
            .iter()
            .filter(|i| i.namespace.as_deref() == Some(namespace))
        {
            if let Some(state) = states.get_mut(*identity) {
                state.request = stuck_request(&identity.name, &requests);
            }
        }
    }
}

/// Events of `kind` across the cluster, each with the kind's description.
fn watch(client: &Client, kind: &ServedKind) -> Watch {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.resource);
    let label = kind.describe();
    // Items of a LIST of a built-in kind (Ingress) come without apiVersion and kind, and the
    // watch starts with one: name them, or an object already live when the wait begins would
    // never be recognised.
    let types = TypeMeta {
        api_version: kind.resource.api_version.clone(),
        kind: kind.resource.kind.clone(),
    };
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .map(move |event| {
            let event = event.map(|e| e.modify(|o| o.types = Some(types.clone())));
            (label.clone(), event)
        })
        .boxed()
}

type Watch =
    futures::stream::BoxStream<'static, (String, Result<Event<DynamicObject>, watcher::Error>)>;

/// The server's message when a watch was refused for want of permission.
fn forbidden(error: &watcher::Error) -> Option<String> {
    let api_error = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status,
        _ => return None,
    };
    (api_error.code == 403).then(|| api_error.message.clone())
}

/// The report of a wait: per tier, when its waited objects were all live; overall, the
/// recovery time.
pub fn report(
    objects: Vec<WaitedObject>,
    timeout: Duration,
    applied_ms: u128,
    certificate_requests_created: Option<usize>,
) -> WaitReport {
    let mut tiers: Vec<TierReady> = Vec::new();
    for tier in RESTORE_TIERS {
        let of_tier: Vec<&WaitedObject> = objects.iter().filter(|o| o.tier == *tier).collect();
        if of_tier.is_empty() {
            continue;
        }
        let ready_ms = of_tier
            .iter()
            .map(|o| o.ready_ms)
            .collect::<Option<Vec<u128>>>()
            .map(|times| times.into_iter().max().unwrap_or(applied_ms));
        tiers.push(TierReady {
            tier: tier.to_string(),
            objects: of_tier.len(),
            ready_ms,
        });
    }
    let not_ready = objects.iter().filter(|o| !o.readiness.is_ready()).count();
    let ready_ms = (not_ready == 0).then(|| {
        objects
            .iter()
            .filter_map(|o| o.ready_ms)
            .max()
            .unwrap_or(applied_ms)
            .max(applied_ms)
    });
    WaitReport {
        timeout_s: timeout.as_secs(),
        ready: not_ready == 0,
        applied_ms,
        ready_ms,
        tiers,
        not_ready,
        certificate_requests_created,
        objects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waited_object(object: &str, tier: &str, ready_ms: Option<u128>) -> WaitedObject {
        WaitedObject {
            object: object.into(),
            tier: tier.into(),
            readiness: match ready_ms {
                Some(_) => Readiness::Ready,
                None => Readiness::Pending {
                    condition: "Ready".into(),
                    reason: "IssuerNotFound".into(),
                    message: "issuer ca not found".into(),
                },
            },
            ready_ms,
            request: None,
        }
    }

    #[test]
    fn the_recovery_time_is_when_the_last_object_went_live() {
        let (certificates, routes) = ("certificates", "routes");
        let report = report(
            vec![
                waited_object("a", certificates, Some(900)),
                waited_object("b", certificates, Some(1500)),
                waited_object("c", routes, Some(1200)),
            ],
            Duration::from_secs(600),
            800,
            Some(0),
        );
        assert!(report.ready);
        assert_eq!(report.ready_ms, Some(1500));
        let tiers: Vec<(&str, Option<u128>)> = report
            .tiers
            .iter()
            .map(|t| (t.tier.as_str(), t.ready_ms))
            .collect();
        assert_eq!(
            tiers,
            vec![(certificates, Some(1500)), (routes, Some(1200))]
        );
        assert!(report.not_ready_lines().is_empty());
    }

    #[test]
    fn a_timeout_names_each_object_not_live_with_its_reason() {
        let tier = "certificates";
        let report = report(
            vec![waited_object(
                "cert-manager.io/Certificate shop/web",
                tier,
                None,
            )],
            Duration::from_secs(5),
            800,
            None,
        );
        assert!(!report.ready);
        assert_eq!(report.ready_ms, None);
        assert_eq!(report.tiers[0].ready_ms, None);
        assert_eq!(
            report.not_ready_lines(),
            vec!["cert-manager.io/Certificate shop/web: Ready IssuerNotFound: issuer ca not found"]
        );
    }

    #[test]
    fn a_stuck_certificate_names_the_request_that_holds_it_up() {
        let mut object =
            waited_object("cert-manager.io/Certificate shop/web", "certificates", None);
        object.request = Some(StuckRequest {
            name: "web-1".into(),
            reason: "Pending".into(),
            message: "Referenced \"ClusterIssuer\" not found\u{1b}[2J".into(),
        });
        let report = report(vec![object], Duration::from_secs(5), 1, None);
        assert_eq!(
            report.not_ready_lines(),
            vec![
                "cert-manager.io/Certificate shop/web: Ready IssuerNotFound: issuer ca not found; \
                 its CertificateRequest web-1: Pending: Referenced \"ClusterIssuer\" not found\\u{1b}[2J"
            ]
        );
    }

    #[test]
    fn a_controllers_message_cannot_drive_the_terminal() {
        let mut object = waited_object("networking.k8s.io/Ingress shop/web", "routes", None);
        object.readiness = Readiness::Pending {
            condition: "LoadBalancer".into(),
            reason: "No\u{1b}[2J".into(),
            message: "gone\u{1b}]0;owned\u{7}".into(),
        };
        let report = report(vec![object], Duration::from_secs(5), 1, None);
        let line = &report.not_ready_lines()[0];
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{7}'),
            "{line:?}"
        );
    }

    #[test]
    fn nothing_to_wait_for_is_live_when_applied() {
        let report = report(Vec::new(), Duration::from_secs(5), 800, Some(0));
        assert!(report.ready);
        assert_eq!(report.ready_ms, Some(800));
    }
}
