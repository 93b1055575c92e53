//! Reads routing from a live cluster. Everything but Secrets is listed first (kinds
//! concurrently, paginated), normalised and sorted by role on arrival: namespaced routing
//! objects — the bulk — go to a spool file (`spool`), and selection keeps only their
//! references and identities, so memory does not grow with their bodies. Selection then
//! decides which Secrets routing references, and those are streamed from several namespaces
//! at once, a page at a time, so Secret data never accumulates in memory either, and Secrets in namespaces that routing
//! does not use are never read at all. Objects reach `sink` in restore order.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use crate::artifact::SourceInfo;
use crate::catalog::{CORE, NETWORKING};
use crate::k8s::ApiError;
use crate::k8s::Connection;
use crate::k8s::discovery::{self, ServedKind};
use crate::k8s::list::{Pager, list_pages};
use crate::k8s::retry::with_retry;
use crate::normalize::normalize;
use crate::object::Object;
use crate::readiness;
use crate::select::{self, Captured, Plan, SecretsMode, Selection, Sorted};
use crate::spool::{Slot, Spool, SpoolReader};

/// How many kinds are listed at once.
const LIST_CONCURRENCY: usize = 4;
/// How many namespaces' Secrets are listed at once: each namespace is a request of its own.
const SECRET_NAMESPACES_AT_ONCE: usize = 8;

/// What a capture found besides the objects.
#[derive(Debug)]
pub struct Capture {
    pub source: SourceInfo,
    pub warnings: Vec<String>,
    pub skipped: BTreeMap<String, usize>,
}

pub async fn capture(
    connection: &Connection,
    selection: &Selection,
    secrets: SecretsMode,
    page_size: u32,
    sink: &mut dyn FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<Capture> {
    let discovered = discovery::discover(&connection.client).await?;
    log_absent_kinds(&discovered);

    let is_secret = |k: &ServedKind| k.info.group == CORE && k.info.kind == "Secret";
    let others: Vec<ServedKind> = discovered
        .served
        .iter()
        .filter(|k| !is_secret(k))
        .cloned()
        .collect();
    let secret_kind = discovered.served.iter().find(|k| is_secret(k)).cloned();

    // Independent requests, made together: each is a round trip before the first LIST.
    let (source, mut schemas) = tokio::try_join!(source_info(connection, &discovered), async {
        Ok(crate::k8s::schema::served_schemas(&connection.client, &others).await)
    })?;
    let progress = crate::progress::Progress::new();
    let arrivals = list_routing(
        connection, others, &schemas, selection, page_size, &progress,
    )
    .await?;
    let Arrivals {
        sorted,
        spool,
        addressed_ingress_classes,
    } = arrivals;
    let spool = spool
        .finish()
        .context("writing the capture's temporary file")?;

    let mut plan: Plan<Slot> = select::plan_sorted(sorted, selection, secrets, None);
    // In restore order, so the tiers before Secrets are a prefix: no second list.
    let mut objects = std::mem::take(&mut plan.objects).into_iter().peekable();
    while let Some(captured) = objects.next_if(|c| c.tier() < select::SECRET_TIER) {
        emit(&spool, captured, sink)?;
    }
    let mut streamed = StreamedSecrets::default();
    if let (Some(kind), false) = (
        secret_kind,
        plan.secret_refs.is_empty() || secrets == SecretsMode::Skip,
    ) {
        streamed = stream_secrets(connection, &kind, &mut plan, page_size, &progress, sink).await?;
    }
    for captured in objects {
        emit(&spool, captured, sink)?;
    }
    for namespace in plan.namespaces_of_secrets() {
        sink(namespace)?;
    }
    plan.finish(streamed.unreferenced);
    Ok(Capture {
        source: SourceInfo {
            addressed_ingress_classes: Some(addressed_ingress_classes),
            ..source
        },
        warnings: plan
            .warnings
            .into_iter()
            .chain(std::mem::take(&mut schemas.warnings))
            .collect(),
        skipped: plan.skipped,
    })
}

/// Lists every kind but Secrets, `LIST_CONCURRENCY` kinds at a time, into [`Arrivals`].
async fn list_routing(
    connection: &Connection,
    kinds: Vec<ServedKind>,
    schemas: &crate::k8s::schema::Schemas,
    selection: &Selection,
    page_size: u32,
    progress: &crate::progress::Progress,
) -> anyhow::Result<Arrivals> {
    let arrivals = std::sync::Mutex::new(Arrivals {
        sorted: Sorted::default(),
        spool: Spool::new().context("creating a temporary file for the capture")?,
        addressed_ingress_classes: BTreeSet::new(),
    });
    let listed: Vec<(String, usize)> = futures::stream::iter(kinds)
        .map(|kind| {
            let schema = schemas.by_kind.get(&kind.info.qualified());
            list_kind(
                connection, kind, schema, selection, page_size, progress, &arrivals,
            )
        })
        .buffer_unordered(LIST_CONCURRENCY)
        .try_collect()
        .await?;
    for (kind, count) in listed {
        tracing::info!(kind = %kind, objects = count, "listed");
    }
    Ok(arrivals.into_inner().expect("no lister panicked"))
}

/// Hands one captured object to `sink`, reading a spooled one back first.
fn emit(
    spool: &SpoolReader,
    captured: Captured<Slot>,
    sink: &mut dyn FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match captured {
        Captured::Object(object) => sink(object),
        Captured::Held(identity, slot) => sink(spool.get(slot).with_context(|| {
            format!("reading {identity} back from the capture's temporary file")
        })?),
    }
}

/// What listing has sorted so far, and the spool holding routing objects' bodies.
struct Arrivals {
    sorted: Sorted<Slot>,
    spool: Spool,
    /// Classes of Ingresses listed with a load-balancer address (status, which
    /// normalisation removes): their controller publishes one.
    addressed_ingress_classes: BTreeSet<String>,
}

fn log_absent_kinds(discovered: &discovery::Discovered) {
    for absent in &discovered.absent {
        if absent.optional {
            tracing::info!(kind = %absent.qualified(), "not served by this cluster (CRD not installed)");
        } else {
            tracing::warn!(kind = %absent.qualified(), "not served by this cluster");
        }
    }
}

/// What the manifest records about the cluster: its server, version and identity (the uid of
/// kube-system), and which routing kinds it serves.
async fn source_info(
    connection: &Connection,
    discovered: &discovery::Discovered,
) -> anyhow::Result<SourceInfo> {
    let client = &connection.client;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let (version, kube_system) = tokio::try_join!(
        async {
            with_retry("version", || client.apiserver_version())
                .await
                .context("reading the server version")
        },
        async {
            with_retry("kube-system", || namespaces.get("kube-system"))
                .await
                .context("reading namespace kube-system (its uid identifies the cluster); routevault needs get on namespaces")
        }
    )?;
    Ok(SourceInfo {
        kind: "cluster".into(),
        path: None,
        server: Some(connection.server.clone()),
        server_version: Some(version.git_version.clone()),
        cluster_id: kube_system.metadata.uid,
        kinds_served: discovered.served.iter().map(ServedKind::describe).collect(),
        kinds_absent: discovered.absent.iter().map(|k| k.qualified()).collect(),
        // Known only once the Ingresses have been listed.
        addressed_ingress_classes: None,
    })
}

#[derive(Default)]
struct StreamedSecrets {
    captured: usize,
    unreferenced: usize,
}

/// Lists Secrets in the namespaces that routing references (never elsewhere),
/// `SECRET_NAMESPACES_AT_ONCE` namespaces at a time, handing the wanted ones to `sink` as their
/// pages arrive: at most one page per namespace being listed is held, so Secret data never
/// accumulates.
async fn stream_secrets(
    connection: &Connection,
    kind: &ServedKind,
    plan: &mut Plan<Slot>,
    page_size: u32,
    progress: &crate::progress::Progress,
    sink: &mut dyn FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<StreamedSecrets> {
    let namespaces: BTreeSet<String> = plan.secret_refs.keys().map(|(ns, _)| ns.clone()).collect();
    let mut streamed = StreamedSecrets::default();
    let mut seen = 0;
    let counter = progress.counter("Secret");
    let pages = futures::stream::iter(&namespaces)
        .map(|namespace| {
            let pager = Pager::new(&connection.client, kind, Some(namespace), page_size, None);
            Box::pin(futures::stream::try_unfold(pager, |mut pager| async move {
                Ok::<_, ApiError>(pager.next_page().await?.map(|page| (page, pager)))
            }))
        })
        .flatten_unordered(SECRET_NAMESPACES_AT_ONCE);
    futures::pin_mut!(pages);
    while let Some(page) = pages.next().await {
        let page = page?;
        seen += page.len();
        counter.inc(page.len() as u64);
        for item in page {
            let object = Object(item);
            let wanted = plan.wants_secret(object.namespace().unwrap_or(""), object.name());
            if plan.accepts_secret(&object) {
                sink(normalize(object))?;
                streamed.captured += 1;
            } else if !wanted {
                streamed.unreferenced += 1;
            }
        }
    }
    counter.finish();
    tracing::info!(
        kind = "Secret",
        read = seen,
        captured = streamed.captured,
        "listed"
    );
    Ok(streamed)
}

/// Lists one kind (in each selected namespace, or cluster-wide), normalising objects as they
/// arrive (and stripping the CRD's schema defaults inside atomic lists, given its schema),
/// counting controllers' runtime objects (judged by owner references, which normalisation
/// removes) as left out, and sorting the rest by role into `arrivals`. Returns the kind's name
/// and how many objects it listed.
async fn list_kind(
    connection: &Connection,
    kind: ServedKind,
    schema: Option<&serde_json::Value>,
    selection: &Selection,
    page_size: u32,
    progress: &crate::progress::Progress,
    arrivals: &std::sync::Mutex<Arrivals>,
) -> anyhow::Result<(String, usize)> {
    let namespaces: Vec<Option<&str>> = if kind.info.namespaced && !selection.namespaces.is_empty()
    {
        selection
            .namespaces
            .iter()
            .map(|n| Some(n.as_str()))
            .collect()
    } else {
        vec![None]
    };
    // The server filters by the label selector where selection applies it; Namespaces,
    // EndpointSlices and ReferenceGrants are chosen by what routing references instead.
    let server_selector = selection
        .selector
        .as_ref()
        .filter(|_| select::label_selector_applies(kind.info))
        .map(|s| s.to_string());
    let counter = progress.counter(kind.info.kind);
    let mut count = 0;
    for namespace in namespaces {
        let selector = server_selector.as_deref();
        let mut first_page = true;
        list_pages(
            &connection.client,
            &kind,
            namespace,
            page_size,
            selector,
            |page, remaining| {
                counter.inc(page.len() as u64);
                count += page.len();
                // Never held across an await: pages arrive one at a time per kind.
                let mut arrivals = arrivals.lock().expect("no lister panicked");
                let Arrivals {
                    sorted,
                    spool,
                    addressed_ingress_classes,
                } = &mut *arrivals;
                if std::mem::take(&mut first_page) {
                    let expected = page.len() as u64 + remaining.unwrap_or(0);
                    sorted.expect(kind.info, usize::try_from(expected).unwrap_or(usize::MAX));
                }
                let ingresses = kind.info.group == NETWORKING && kind.info.kind == "Ingress";
                for item in page {
                    let object = Object(item);
                    if let Some(reason) = select::runtime_owned(&object) {
                        sorted.skip(reason, 1);
                        continue;
                    }
                    if ingresses && readiness::has_address(&object.0) {
                        addressed_ingress_classes
                            .insert(readiness::ingress_class(&object.0).to_string());
                    }
                    let mut normalized = normalize(object);
                    if let Some(schema) = schema {
                        crate::defaults::strip_atomic_defaults(&mut normalized.0, schema);
                    }
                    sorted
                        .add(normalized, selection, |o| spool.put(&o))
                        .context("writing to the capture's temporary file")?;
                }
                Ok::<_, anyhow::Error>(())
            },
        )
        .await?;
    }
    counter.finish();
    Ok((kind.info.qualified(), count))
}
