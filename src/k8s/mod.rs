//! Kubernetes API plumbing: connecting (kubeconfig, context or in-cluster), discovering which
//! routing kinds a cluster serves, listing them with pagination, and the one retry layer every
//! request goes through. Requests are kube-rs's (`Api<DynamicObject>`, `kube::discovery`);
//! objects stay dynamic JSON: a backup must not drop fields that a compiled-in API version
//! does not know, so even core kinds are read untyped.

pub mod access;
pub mod discovery;
pub mod list;
pub mod retry;
pub mod schema;

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use thiserror::Error;

/// Why a cluster could not be reached; each names what to fix.
#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("reading kubeconfig {path}: {source}")]
    ReadKubeconfig {
        path: PathBuf,
        #[source]
        source: KubeconfigError,
    },
    #[error("using {what}: {source}")]
    Kubeconfig {
        what: String,
        #[source]
        source: KubeconfigError,
    },
    #[error(
        "finding a cluster: no kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in a pod \
         (KUBERNETES_SERVICE_HOST is not set); pass --kubeconfig or --cluster"
    )]
    NoCluster,
    #[error(
        "--in-cluster: KUBERNETES_SERVICE_HOST is not set, so this is not running in a pod; \
         pass --cluster CONTEXT or --kubeconfig FILE instead"
    )]
    NotInPod,
    #[error(
        "KUBERNETES_SERVICE_PORT is {port:?}, not a port number; it must be set with \
         KUBERNETES_SERVICE_HOST (the kubelet sets both in every pod)"
    )]
    BadServicePort { port: String },
    #[error(
        "running in a pod (KUBERNETES_SERVICE_HOST={host}) but the {what} {} is missing; set \
         automountServiceAccountToken: true on the pod (or mount a projected token and pass \
         --service-account-dir), or pass --kubeconfig",
        file.display()
    )]
    MissingMount {
        host: String,
        what: &'static str,
        file: PathBuf,
    },
    #[error("building the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
}

/// A request to the API server that failed (after the retries of `retry`).
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("discovering the cluster's API groups: {0}")]
    Discovery(#[source] kube::Error),
    #[error("listing {what}: {source}")]
    List {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "permission denied: {message} — routevault needs get and list on {resource} (see \
         docs/deploy/snapshot/clusterrole.yaml)"
    )]
    ListForbidden { message: String, resource: String },
    #[error(
        "listing {what}: the continue token kept expiring; the cluster changes faster than it \
         can be listed"
    )]
    ContinueExpired { what: String },
}

/// A connected client and the API server URL it talks to.
pub struct Connection {
    pub client: Client,
    pub server: String,
}

/// Where a pod's service-account token, CA bundle and namespace are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Which cluster a command talks to, as its options name it.
pub struct Target<'a> {
    pub kubeconfig: Option<&'a Path>,
    pub context: Option<&'a str>,
    /// Only the pod's service account, whatever kubeconfig files exist.
    pub in_cluster: bool,
    pub service_account_dir: &'a Path,
}

/// Connects to `target`: the pod's service account when `in_cluster`, else like kubectl.
pub async fn connect_to(target: &Target<'_>) -> Result<Connection, ConnectError> {
    if target.in_cluster {
        connect_in_cluster(target.service_account_dir).await
    } else {
        connect(
            target.kubeconfig,
            target.context,
            target.service_account_dir,
        )
        .await
    }
}

/// Connects like kubectl: `kubeconfig` (or $KUBECONFIG, or ~/.kube/config) with `context`
/// (or its current context); with neither a kubeconfig file nor a context, the pod's service
/// account (`KUBERNETES_SERVICE_HOST`/`_PORT` and the token and CA in `service_account_dir`).
async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    service_account_dir: &Path,
) -> Result<Connection, ConnectError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let using = |what: String| move |source| ConnectError::Kubeconfig { what, source };
    let config = match (kubeconfig, context) {
        (Some(path), _) => {
            let file =
                Kubeconfig::read_from(path).map_err(|source| ConnectError::ReadKubeconfig {
                    path: path.to_path_buf(),
                    source,
                })?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(using(format!(
                    "context {:?} of {}",
                    context.unwrap_or("(current)"),
                    path.display()
                )))?
        }
        (None, Some(name)) => Config::from_kubeconfig(&options)
            .await
            .map_err(using(format!(
                "kubeconfig context {name:?} ($KUBECONFIG or ~/.kube/config)"
            )))?,
        (None, None) if default_kubeconfig_exists() => {
            Config::from_kubeconfig(&options).await.map_err(using(
                "the current context of $KUBECONFIG or ~/.kube/config".to_string(),
            ))?
        }
        (None, None) => match in_cluster_settings(service_account_dir)? {
            Some(settings) => settings.config().await?,
            None => return Err(ConnectError::NoCluster),
        },
    };
    client_for(config)
}

/// Connects as the pod's service account only, whatever kubeconfig files exist.
async fn connect_in_cluster(service_account_dir: &Path) -> Result<Connection, ConnectError> {
    match in_cluster_settings(service_account_dir)? {
        Some(settings) => client_for(settings.config().await?),
        None => Err(ConnectError::NotInPod),
    }
}

fn client_for(mut config: Config) -> Result<Connection, ConnectError> {
    // One retry layer, ours (`retry::with_retry`): kube's default layer would retry each of
    // our attempts up to 15 more times, so a throttled request could be sent over 100 times.
    config.default_retry = false;
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let client = Client::try_from(config).map_err(ConnectError::Client)?;
    Ok(Connection { client, server })
}

/// A kubeconfig is used, as kubectl does, when $KUBECONFIG names one or ~/.kube/config exists;
/// only without one does a pod's service account apply.
fn default_kubeconfig_exists() -> bool {
    if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
        return true;
    }
    std::env::var_os("HOME")
        .map(|home| Path::new(&home).join(".kube/config").is_file())
        .unwrap_or(false)
}

/// What a pod sees of its API server and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InClusterSettings {
    pub server: String,
    pub token_file: PathBuf,
    pub ca_file: PathBuf,
    pub namespace: Option<String>,
}

/// Reads the in-cluster environment; `None` when not in a pod (no KUBERNETES_SERVICE_HOST).
/// Errors name the variable or file that is wrong and what to do about it.
pub fn in_cluster_settings(dir: &Path) -> Result<Option<InClusterSettings>, ConnectError> {
    let Some(host) = std::env::var("KUBERNETES_SERVICE_HOST")
        .ok()
        .filter(|h| !h.is_empty())
    else {
        return Ok(None);
    };
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
    let server = in_cluster_server(&host, &port)?;
    let token_file = dir.join("token");
    let ca_file = dir.join("ca.crt");
    for (file, what) in [
        (&token_file, "service-account token"),
        (&ca_file, "cluster CA bundle"),
    ] {
        if !file.is_file() {
            return Err(ConnectError::MissingMount {
                host,
                what,
                file: file.clone(),
            });
        }
    }
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .ok()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    Ok(Some(InClusterSettings {
        server,
        token_file,
        ca_file,
        namespace,
    }))
}

/// `https://HOST:PORT`, with IPv6 literals bracketed, as client-go builds it.
pub fn in_cluster_server(host: &str, port: &str) -> Result<String, ConnectError> {
    let port: u16 = port
        .trim()
        .parse()
        .map_err(|_| ConnectError::BadServicePort {
            port: port.to_string(),
        })?;
    let host = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => host.to_string(),
    };
    Ok(format!("https://{host}:{port}"))
}

impl InClusterSettings {
    /// A client configuration that re-reads the token file (bound tokens rotate hourly) and the
    /// CA bundle, built through kube's own kubeconfig loader so TLS and auth behave as for a file.
    pub async fn config(&self) -> Result<Config, ConnectError> {
        let kubeconfig = Kubeconfig {
            clusters: vec![kube::config::NamedCluster {
                name: "in-cluster".into(),
                cluster: Some(kube::config::Cluster {
                    server: Some(self.server.clone()),
                    certificate_authority: Some(self.ca_file.display().to_string()),
                    ..Default::default()
                }),
                other: Default::default(),
            }],
            auth_infos: vec![kube::config::NamedAuthInfo {
                name: "service-account".into(),
                auth_info: Some(kube::config::AuthInfo {
                    token_file: Some(self.token_file.display().to_string()),
                    ..Default::default()
                }),
                other: Default::default(),
            }],
            contexts: vec![kube::config::NamedContext {
                name: "in-cluster".into(),
                context: Some(kube::config::Context {
                    cluster: "in-cluster".into(),
                    user: Some("service-account".into()),
                    namespace: Some(self.namespace.clone().unwrap_or_else(|| "default".into())),
                    ..Default::default()
                }),
                other: Default::default(),
            }],
            current_context: Some("in-cluster".into()),
            ..Default::default()
        };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|source| ConnectError::Kubeconfig {
                what: format!(
                    "the pod's service account ({}, {})",
                    self.token_file.display(),
                    self.ca_file.display()
                ),
                source,
            })?;
        config.root_cert_file = Some(self.ca_file.clone());
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_cluster_server_matches_client_go() {
        assert_eq!(
            in_cluster_server("10.96.0.1", "443").unwrap(),
            "https://10.96.0.1:443"
        );
        assert_eq!(
            in_cluster_server("fd00::1", "6443").unwrap(),
            "https://[fd00::1]:6443"
        );
        assert_eq!(
            in_cluster_server("kubernetes.default.svc", " 443\n").unwrap(),
            "https://kubernetes.default.svc:443"
        );
        let err = in_cluster_server("10.96.0.1", "").unwrap_err().to_string();
        assert!(err.contains("KUBERNETES_SERVICE_PORT"), "{err}");
        assert!(in_cluster_server("10.96.0.1", "70000").is_err());
    }
}
