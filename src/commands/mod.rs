//! One file per subcommand. A command turns its parsed options into the library's typed
//! inputs, calls the library, and prints the typed result; it holds no Kubernetes, S3, format
//! or policy detail. Shared here: the `-o` printer, the store, and opening a snapshot
//! (`routevault::open`: resolve → fetch → verify, in that order).

pub mod completions;
pub mod diff;
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

use crate::cli::{Cli, Command, Output, StoreArgs, TrustArgs};
use routevault::artifact::Limits;
use routevault::open::{self, OpenOptions, OpenedSnapshot};
use routevault::sign::TrustSet;
use routevault::store::{self, Store, snapshots};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    routevault::progress::set_text_logs(cli.log_format == crate::cli::LogFormat::Text);
    match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Snapshot(args) => snapshot::run(args).await,
        Command::List(args) => list::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Inspect(args) => inspect::run(args).await,
        Command::Restore(args) => restore::run(args).await,
        Command::Prune(args) => prune::run(args).await,
        Command::Diff(args) => diff::run(args).await,
        Command::History(args) => history::run(args).await,
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// Prints `report` as `--output` asks: JSON and YAML as the report serialises, text by `text`.
pub fn emit<T: serde::Serialize>(
    output: Output,
    report: &T,
    text: impl FnOnce(&T),
) -> anyhow::Result<()> {
    match output {
        Output::Json => Ok(routevault::output::print_json(report)?),
        Output::Yaml => Ok(routevault::output::print_yaml(report)?),
        Output::Text => {
            text(report);
            Ok(())
        }
    }
}

pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Store> {
    store::open(&args.store, &args.s3_options())
        .await
        .context("opening the store")
}

/// Resolves `spec` (an id or `latest`) in `env`, downloads the artifact and its signature, and
/// verifies them before anything in the artifact is read.
pub async fn open_snapshot(
    store_args: &StoreArgs,
    env: &str,
    spec: &str,
    trust: &TrustArgs,
) -> anyhow::Result<OpenedSnapshot> {
    check_env(env)?;
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
    let options = OpenOptions {
        trust: trust_set.as_ref(),
        max_age: trust.max_age.as_ref(),
        limits: Limits {
            max_artifact_bytes: trust.max_artifact_bytes,
            max_unpacked_bytes: trust.max_unpacked_bytes,
        },
        work_dir: &std::env::temp_dir(),
    };
    open::open(store, env, spec, &options).await
}

/// The unsealer of `--unseal-key` for a sealed snapshot (None: nothing sealed, or no key).
pub fn unsealer_for(
    opened: &OpenedSnapshot,
    identities: Option<&[routevault::seal::Identity]>,
    unseal_key: Option<&std::path::Path>,
) -> anyhow::Result<Option<routevault::seal::Unsealer>> {
    Ok(
        match (&opened.artifact.manifest.sealing, identities, unseal_key) {
            (Some(sealing), Some(ids), Some(path)) => {
                Some(routevault::seal::Unsealer::new(sealing, ids, path)?)
            }
            _ => None,
        },
    )
}

pub fn check_env(env: &str) -> anyhow::Result<()> {
    if !snapshots::is_valid_env(env) {
        bail!(
            "environment name {env:?} is not valid: use lowercase letters, digits and '-' (at most 63)"
        );
    }
    Ok(())
}
