//! Kubernetes API plumbing: connecting (kubeconfig, context or in-cluster), discovering which
//! routing kinds a cluster serves, and listing them with pagination and back-pressure-aware
//! retries. Objects stay dynamic JSON: a backup must not drop fields that a compiled-in API
//! version does not know, so even core kinds are read untyped.

pub mod discovery;
pub mod list;
pub mod retry;

use std::path::Path;

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// A connected client and the API server URL it talks to.
pub struct Connection {
    pub client: Client,
    pub server: String,
}

/// Connects like kubectl: `kubeconfig` (or $KUBECONFIG, or ~/.kube/config) with `context`
/// (or its current context); with neither file nor context, the in-cluster service account.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<Connection> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match (kubeconfig, context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .with_context(|| format!("using context {:?} of {}", context.unwrap_or("(current)"), path.display()))?
        }
        (None, Some(name)) => Config::from_kubeconfig(&options)
            .await
            .with_context(|| format!("using kubeconfig context {name:?} ($KUBECONFIG or ~/.kube/config)"))?,
        (None, None) => Config::infer()
            .await
            .context("finding a cluster: no kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in a pod; pass --kubeconfig or --cluster")?,
    };
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let client = Client::try_from(config).context("building the Kubernetes client")?;
    Ok(Connection { client, server })
}
