//! One file per subcommand. Commands orchestrate the library's stages; they hold no
//! Kubernetes, S3 or format detail. Shared here: opening a snapshot for reading, which is
//! always resolve → fetch → verify, in that order.

pub mod completions;
pub mod history;
pub mod inspect;
pub mod keygen;
pub mod list;
pub mod man;
pub mod prune;
pub mod restore;
pub mod snapshot;
pub mod verify;

use anyhow::{Context, bail};

use crate::artifact::read::Verification;
use crate::artifact::{Limits, VerifiedArtifact};
use crate::cli::{Cli, Command, StoreArgs, TrustArgs};
use crate::sign::{SignatureFile, TrustSet};
use crate::store::{self, ObjectStore, Store, snapshots, verified};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::progress::set_text_logs(cli.log_format == crate::cli::LogFormat::Text);
    match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Snapshot(args) => snapshot::run(args).await,
        Command::List(args) => list::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Inspect(args) => inspect::run(args).await,
        Command::Restore(args) => restore::run(args).await,
        Command::Prune(args) => prune::run(args).await,
        Command::History(args) => history::run(args).await,
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// A snapshot that resolved, downloaded and verified.
pub struct OpenedSnapshot {
    pub env: String,
    pub id: String,
    /// The keys as listed: which versions were read.
    pub stored: snapshots::StoredSnapshot,
    pub store: Store,
    pub signature: SignatureFile,
    pub artifact: VerifiedArtifact,
}

impl OpenedSnapshot {
    pub fn what(&self) -> String {
        format!("{}/{}", self.env, self.id)
    }

    /// The Object Lock retention in force on the snapshot (the earlier of its two objects'),
    /// if any.
    pub async fn retention(&self) -> anyhow::Result<Option<crate::store::Retention>> {
        // The retention of the versions that were read, not of whatever is current.
        let version =
            |info: &Option<crate::store::ObjectInfo>| info.as_ref().and_then(|i| i.version.clone());
        let artifact = self
            .store
            .retention(
                &snapshots::artifact_key(&self.env, &self.id),
                version(&self.stored.artifact).as_deref(),
            )
            .await?;
        let signature = self
            .store
            .retention(
                &snapshots::signature_key(&self.env, &self.id),
                version(&self.stored.signature).as_deref(),
            )
            .await?;
        Ok(match (artifact, signature) {
            (Some(a), Some(s)) => Some(if a.until <= s.until { a } else { s }),
            (a, s) => a.or(s),
        })
    }
}

pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Store> {
    store::open(&args.store, &args.s3_options())
        .await
        .context("opening the store")
}

/// Resolves `spec` (an id or `latest`) in `env`, downloads the artifact and its signature,
/// and verifies them before anything in the artifact is read.
pub async fn open_snapshot(
    store_args: &StoreArgs,
    env: &str,
    spec: &str,
    trust: &TrustArgs,
) -> anyhow::Result<OpenedSnapshot> {
    let store = open_store(store_args).await?;
    let trust_set = if trust.insecure_skip_verify {
        tracing::warn!(
            "--insecure-skip-verify: the snapshot's signature is NOT checked; anyone who can write to the store may have changed it"
        );
        eprintln!(
            "WARNING: --insecure-skip-verify is set: this snapshot's signature is NOT verified."
        );
        None
    } else {
        Some(TrustSet::load(&trust.trust).context("loading trusted keys")?)
    };
    if let Some(max_age) = &trust.max_age {
        crate::duration::parse(max_age).context("--max-age")?;
    }
    // With --max-age the newest verified snapshot is needed anyway; `latest` reuses it.
    let stored = match (&trust_set, &trust.max_age) {
        (Some(trust_set), Some(max_age)) => {
            check_env(env)?;
            let newest = verified::latest(&store, trust_set, env).await?.snapshot;
            verified::ensure_fresh(&newest, max_age)?;
            if spec == "latest" {
                verified::warn_tampering(&newest);
                newest
            } else {
                verified::resolve(&store, Some(trust_set), env, spec).await?
            }
        }
        _ => verified::resolve(&store, trust_set.as_ref(), env, spec).await?,
    };
    let id = stored.id.clone();
    let what = format!("{env}/{id}");
    let fetched = snapshots::fetch(
        &store,
        &stored,
        &std::env::temp_dir(),
        trust.max_artifact_bytes,
    )
    .await?;
    let limits = Limits {
        max_artifact_bytes: trust.max_artifact_bytes,
        max_unpacked_bytes: trust.max_unpacked_bytes,
    };
    let verification = match &trust_set {
        Some(trust) => Verification::Signed {
            signature: &fetched.signature,
            trust,
            stored_at: Some(fetched.signature_stored_at),
        },
        None => Verification::Skip,
    };
    let artifact = VerifiedArtifact::open(fetched.artifact, verification, env, &id, limits, &what)?;
    match &artifact.signer {
        Some(key) => tracing::info!(snapshot = %what, key_id = %key, "signature verified"),
        None => tracing::warn!(snapshot = %what, "signature NOT verified (--insecure-skip-verify)"),
    }
    Ok(OpenedSnapshot {
        env: env.into(),
        id,
        stored,
        store,
        signature: fetched.signature,
        artifact,
    })
}

pub fn check_env(env: &str) -> anyhow::Result<()> {
    if !snapshots::is_valid_env(env) {
        bail!(
            "environment name {env:?} is not valid: use lowercase letters, digits and '-' (at most 63)"
        );
    }
    Ok(())
}
