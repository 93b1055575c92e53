//! The API server's own limits, for the benchmarks (issue 16): what the cheapest possible client
//! achieves against the same bed control plane, in the same run as routevault. Not a test and
//! not part of the product; built with `cargo build --release --example floor`.
//!
//! - `floor list --context C [--page-size 500] [--parallel 4]`: a paginated raw LIST of every
//!   routing kind the cluster serves (the kinds routevault lists, found the same way), the
//!   bodies read as bytes and dropped — no decoding beyond finding the continue token.
//!   With `--decode`, each page is also parsed into a JSON value and dropped: the least any
//!   client that reads the objects must do (the "decode floor").
//! - `floor apply|create --context C --dir MANIFESTS [--concurrency 32]`: every object of the
//!   YAML files sent as a plain server-side-apply PATCH (or a POST create), Namespaces first,
//!   with N requests in flight — no verification, unsealing, preflight or retries. The files
//!   are parsed before the clock starts.
//!
//! Prints one line: `objects=N seconds=S` (and `bytes=B` for list).

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use routevault::k8s::discovery::{ServedKind, discover};
use routevault::k8s::{Target, connect_to};

/// The allocator routevault's binary uses, so that the decode floor allocates as it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let context = option("--context");
    let service_account_dir = PathBuf::from(routevault::k8s::SERVICE_ACCOUNT_DIR);
    let connection = connect_to(&Target {
        kubeconfig: None,
        context: context.as_deref(),
        in_cluster: false,
        service_account_dir: &service_account_dir,
    })
    .await?;
    let client = connection.client;
    let served = discover(&client).await?.served;
    match mode {
        "list" => {
            let page_size: u32 = option("--page-size").map_or(Ok(500), |v| v.parse())?;
            let parallel: usize = option("--parallel").map_or(Ok(4), |v| v.parse())?;
            let decode = args.iter().any(|a| a == "--decode");
            list(&client, &served, page_size, parallel, decode).await
        }
        "apply" | "create" => {
            let dir = option("--dir").ok_or_else(|| anyhow::anyhow!("--dir MANIFESTS"))?;
            let concurrency: usize = option("--concurrency").map_or(Ok(32), |v| v.parse())?;
            write(
                &client,
                &served,
                Path::new(&dir),
                concurrency,
                mode == "create",
            )
            .await
        }
        _ => anyhow::bail!("usage: floor list|apply|create --context C [...]"),
    }
}

fn collection_path(kind: &ServedKind, namespace: Option<&str>) -> String {
    let base = if kind.info.group.is_empty() {
        format!("/api/{}", kind.resource.version)
    } else {
        format!("/apis/{}/{}", kind.info.group, kind.resource.version)
    };
    match namespace {
        Some(ns) if kind.info.namespaced => {
            format!("{base}/namespaces/{ns}/{}", kind.info.plural)
        }
        _ => format!("{base}/{}", kind.info.plural),
    }
}

async fn list(
    client: &kube::Client,
    served: &[ServedKind],
    page_size: u32,
    parallel: usize,
    decode: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let totals: Vec<(u64, u64)> = futures::stream::iter(served)
        .map(|kind| list_kind(client, kind, page_size, decode))
        .buffer_unordered(parallel)
        .try_collect()
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let objects: u64 = totals.iter().map(|t| t.0).sum();
    let bytes: u64 = totals.iter().map(|t| t.1).sum();
    println!("objects={objects} bytes={bytes} seconds={seconds:.3}");
    Ok(())
}

/// Lists one kind cluster-wide; returns (items, bytes). Items are counted by their
/// `"resourceVersion"` keys minus the list's own — a byte scan, not a parse — or, with
/// `decode`, from the parsed page.
async fn list_kind(
    client: &kube::Client,
    kind: &ServedKind,
    page_size: u32,
    decode: bool,
) -> anyhow::Result<(u64, u64)> {
    let path = collection_path(kind, None);
    let (mut items, mut bytes) = (0u64, 0u64);
    let mut token: Option<String> = None;
    loop {
        let mut uri = format!("{path}?limit={page_size}");
        if let Some(t) = &token {
            uri.push_str("&continue=");
            uri.push_str(&percent_encode(t));
        }
        let request = http::Request::get(uri).body(Vec::new())?;
        let body = client.request_text(request).await?;
        bytes += body.len() as u64;
        items += if decode {
            let page: serde_json::Value = serde_json::from_str(&body)?;
            page["items"].as_array().map_or(0, Vec::len) as u64
        } else {
            body.matches("\"resourceVersion\"")
                .count()
                .saturating_sub(1) as u64
        };
        token = continue_token(&body);
        if token.is_none() {
            return Ok((items, bytes));
        }
    }
}

/// The list's `metadata.continue`, found in the bytes before the first item.
fn continue_token(body: &str) -> Option<String> {
    let head = &body[..body.find("\"items\"").unwrap_or(body.len())];
    let start = head.find("\"continue\":\"")? + "\"continue\":\"".len();
    let end = head[start..].find('"')?;
    Some(head[start..start + end].to_string()).filter(|t| !t.is_empty())
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One prepared request: path and JSON body.
struct Prepared {
    path: String,
    body: Vec<u8>,
}

async fn write(
    client: &kube::Client,
    served: &[ServedKind],
    dir: &Path,
    concurrency: usize,
    create: bool,
) -> anyhow::Result<()> {
    let (namespaces, others) = prepare(served, dir, create)?;
    let objects = namespaces.len() + others.len();
    let started = Instant::now();
    for batch in [namespaces, others] {
        futures::stream::iter(batch)
            .map(|prepared| send(client, prepared, create))
            .buffer_unordered(concurrency)
            .try_collect::<Vec<()>>()
            .await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("objects={objects} seconds={seconds:.3}");
    Ok(())
}

/// Parses every YAML document of `dir`'s files into requests: (Namespaces, the rest).
fn prepare(
    served: &[ServedKind],
    dir: &Path,
    create: bool,
) -> anyhow::Result<(Vec<Prepared>, Vec<Prepared>)> {
    use serde::Deserialize;
    let (mut namespaces, mut others) = (Vec::new(), Vec::new());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let object = serde_json::Value::deserialize(document)?;
            let kind_name = object["kind"].as_str().unwrap_or_default();
            let group = object["apiVersion"]
                .as_str()
                .and_then(|v| v.rsplit_once('/'))
                .map_or("", |(g, _)| g);
            let kind = served
                .iter()
                .find(|k| k.info.kind == kind_name && k.info.group == group)
                .ok_or_else(|| anyhow::anyhow!("{kind_name} is not served"))?;
            let namespace = object["metadata"]["namespace"].as_str();
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let collection = collection_path(kind, namespace);
            let path = if create {
                collection
            } else {
                format!("{collection}/{name}?fieldManager=floor&force=true")
            };
            let prepared = Prepared {
                path,
                body: serde_json::to_vec(&object)?,
            };
            if kind_name == "Namespace" {
                namespaces.push(prepared);
            } else {
                others.push(prepared);
            }
        }
    }
    Ok((namespaces, others))
}

async fn send(client: &kube::Client, prepared: Prepared, create: bool) -> anyhow::Result<()> {
    let request = if create {
        http::Request::post(&prepared.path).header("content-type", "application/json")
    } else {
        http::Request::patch(&prepared.path).header("content-type", "application/apply-patch+yaml")
    }
    .body(prepared.body)?;
    client
        .request_text(request)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", prepared.path))?;
    Ok(())
}
