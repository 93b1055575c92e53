//! The command line: clap definitions only. Values are parsed here, once (durations, FROM=TO
//! maps, kinds, label selectors), so commands receive typed options. Every option also reads
//! an environment variable (`ROUTEVAULT_...`), so a CronJob can be configured entirely from its
//! environment. The exceptions: `--insecure-skip-verify`, which must be typed on purpose; and a
//! restore's target, which has its own variables (`ROUTEVAULT_RESTORE_...`) so that a restore
//! never takes its target from a snapshot job's environment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use routevault::catalog::KindInfo;
use routevault::duration::Age;
use routevault::select::SecretsMode;
use routevault::selector::LabelSelector;
use routevault::transform::{parse_kind, parse_pair};

/// `--version` also names the artifact format this build writes and reads.
pub const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (artifact format v3)");

#[derive(Debug, Parser)]
#[command(
    name = "routevault",
    version = LONG_VERSION,
    about = "Disaster recovery for Kubernetes routing: signed, sealed, immutable snapshots and verified restores",
    after_help = "Exit codes: 0 success, 1 error, 2 usage, 3 verification failed. \
                  `diff` (like `kubectl diff`): 0 in sync, 1 differences found, 4 error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    /// Log level filter (error, warn, info, debug, trace, or a tracing directive).
    #[arg(long, global = true, default_value = "info", env = "ROUTEVAULT_LOG")]
    pub log_level: String,
}

/// `KEY=VALUE` for `--label`: a non-empty key, any value (empty included).
fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        Some(_) => Err(format!("{text:?} has an empty key")),
        None => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a signing key pair and a sealing key pair.
    Keygen(KeygenArgs),
    /// Capture routing into a new signed, sealed snapshot.
    Snapshot(SnapshotArgs),
    /// List the committed snapshots in a store.
    List(ListArgs),
    /// Check a snapshot's signature and every entry of its artifact.
    Verify(VerifyArgs),
    /// Show what a snapshot holds (after verifying it).
    Inspect(InspectArgs),
    /// Recreate routing from a snapshot (after verifying it).
    Restore(RestoreArgs),
    /// Delete old snapshots (never one under retention) and orphaned uploads.
    Prune(PruneArgs),
    /// Compare a snapshot with a live cluster (drift) or with another snapshot (a build's
    /// changes). Exit 0 in sync, 1 differences, 2 usage, 3 verification failed, 4 error.
    Diff(DiffArgs),
    /// Walk and check the chain of verified snapshots of an environment, newest first.
    History(HistoryArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command into a folder.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write routevault.1 and routevault-COMMAND.1 into this folder instead of printing
    /// routevault.1 to standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Folder to write the keys into (created if missing).
    #[arg(long, env = "ROUTEVAULT_KEYGEN_OUT")]
    pub out: PathBuf,
    /// Base name of the key files: NAME.sign.key, NAME.sign.pub, NAME.seal.key, NAME.seal.pub.
    #[arg(long, default_value = "routevault", env = "ROUTEVAULT_KEYGEN_NAME")]
    pub name: String,
    /// Report format: text or json (paths and key id; never key material).
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Where snapshots live: file:///abs/path, a plain path, or s3://bucket/prefix.
    #[arg(long, env = "ROUTEVAULT_STORE")]
    pub store: String,
    /// S3 endpoint URL for S3-compatible stores (Ceph RGW, SeaweedFS, R2, MinIO). Default: the
    /// AWS SDKs' AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS itself.
    #[arg(long, env = "ROUTEVAULT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Address buckets by path (endpoint/bucket/key) instead of by host name.
    #[arg(long, env = "ROUTEVAULT_S3_PATH_STYLE")]
    pub s3_path_style: bool,
    /// S3 region (default: from the AWS environment or profile, else us-east-1).
    #[arg(long, env = "ROUTEVAULT_S3_REGION")]
    pub s3_region: Option<String>,
    /// Part size in bytes for multipart uploads (at least 5 MiB).
    #[arg(long, default_value_t = routevault::store::s3::DEFAULT_PART_SIZE, env = "ROUTEVAULT_S3_PART_SIZE", hide_short_help = true)]
    pub s3_part_size: u64,
}

impl StoreArgs {
    pub fn s3_options(&self) -> routevault::store::S3Options {
        routevault::store::S3Options {
            endpoint: self.s3_endpoint.clone(),
            path_style: self.s3_path_style,
            region: self.s3_region.clone(),
            part_size: self.s3_part_size,
            credentials: None,
        }
    }
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// The environment (a folder of snapshots in the store).
    #[arg(long = "env", default_value = "default", env = "ROUTEVAULT_ENV")]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Trusted public keys: one .sign.pub file, or a folder of them.
    #[arg(long, default_value = "keys", env = "ROUTEVAULT_TRUST")]
    pub trust: PathBuf,
    /// Skip signature verification. Dangerous: the artifact may have been altered by anyone
    /// with write access to the store. Never the default, and not settable from the environment.
    #[arg(long)]
    pub insecure_skip_verify: bool,
    /// Refuse artifacts larger than this many bytes.
    #[arg(long, default_value_t = routevault::artifact::read::DEFAULT_MAX_ARTIFACT_BYTES, env = "ROUTEVAULT_MAX_ARTIFACT_BYTES")]
    pub max_artifact_bytes: u64,
    /// Refuse artifacts that unpack to more than this many bytes (protects against zstd bombs).
    #[arg(long, default_value_t = routevault::artifact::read::DEFAULT_MAX_UNPACKED_BYTES, env = "ROUTEVAULT_MAX_UNPACKED_BYTES")]
    pub max_unpacked_bytes: u64,
    /// Fail (exit 3) when the newest verified snapshot of the environment is older than this
    /// (e.g. 26h for a daily job): detects a stopped job, or newer snapshots hidden or withheld
    /// from the store.
    #[arg(long, value_name = "DURATION", env = "ROUTEVAULT_MAX_AGE", value_parser = Age::parse)]
    pub max_age: Option<Age>,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Read manifests from this folder (recursively) instead of a cluster.
    #[arg(long, env = "ROUTEVAULT_FROM_DIR")]
    pub from_dir: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The ed25519 private key (PKCS#8 PEM) that signs the snapshot.
    #[arg(long, env = "ROUTEVAULT_SIGN_KEY")]
    pub sign_key: PathBuf,
    /// age recipient (age1...) or file of recipients to seal Secret data to; repeatable.
    #[arg(long = "seal-to", env = "ROUTEVAULT_SEAL_TO", value_delimiter = ',')]
    pub seal_to: Vec<String>,
    #[command(flatten)]
    pub env: EnvArg,
    /// An identifier of the build or pipeline run, recorded in the manifest.
    #[arg(long, env = "ROUTEVAULT_BUILD_ID")]
    pub build_id: Option<String>,
    /// KEY=VALUE recorded in the manifest; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", env = "ROUTEVAULT_LABELS", value_delimiter = ',', value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Capture only these namespaces; repeatable.
    #[arg(
        long = "namespace",
        short = 'n',
        env = "ROUTEVAULT_NAMESPACES",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// Leave these namespaces out; repeatable.
    #[arg(
        long = "exclude-namespace",
        env = "ROUTEVAULT_EXCLUDE_NAMESPACES",
        value_delimiter = ','
    )]
    pub exclude_namespaces: Vec<String>,
    /// Label selector, as kubectl's -l (applies to routing objects; Secrets and Namespaces follow).
    #[arg(long, short = 'l', env = "ROUTEVAULT_SELECTOR", value_parser = LabelSelector::parse)]
    pub selector: Option<LabelSelector>,
    /// Secret data: sealed (default; needs --seal-to), plaintext (named on purpose), or skip.
    #[arg(long, value_enum, default_value = "sealed", env = "ROUTEVAULT_SECRETS")]
    pub secrets: SecretsMode,
    /// Also capture the API server's own objects (default/kubernetes, kube-system, ...).
    #[arg(long, env = "ROUTEVAULT_INCLUDE_SYSTEM")]
    pub include_system: bool,
    /// Lock both stored objects for this many days (S3 Object Lock; the bucket must have it).
    #[arg(long, env = "ROUTEVAULT_RETAIN_DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub retain_days: Option<u32>,
    /// Object Lock mode for --retain-days.
    #[arg(
        long,
        value_enum,
        default_value = "governance",
        env = "ROUTEVAULT_LOCK_MODE"
    )]
    pub lock_mode: routevault::store::LockMode,
    /// zstd compression level (1-19).
    #[arg(long, default_value_t = 3, env = "ROUTEVAULT_COMPRESSION_LEVEL", value_parser = clap::value_parser!(i32).range(1..=19))]
    pub compression_level: i32,
    /// Summary format: text (the id is the last line) or json.
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
    /// Trusted public keys for finding the previous snapshot this one chains to (besides the
    /// signing key's own public key, always trusted for that). A missing default folder is
    /// fine; during a key rotation, put the old key's .sign.pub here.
    #[arg(long, default_value = "keys", env = "ROUTEVAULT_TRUST")]
    pub trust: PathBuf,
    /// Commit a snapshot even when the selection captured no routing objects (refused by
    /// default: an empty capture is more often a wrong selector or context than an intent).
    #[arg(long, env = "ROUTEVAULT_ALLOW_EMPTY")]
    pub allow_empty: bool,
    /// The kubeconfig context to snapshot (default: the current context, or in-cluster).
    /// `--cluster` and `--context` are the same option: both name a kubeconfig *context*.
    #[arg(
        long,
        visible_alias = "context",
        value_name = "CONTEXT",
        env = "ROUTEVAULT_CLUSTER",
        conflicts_with = "from_dir"
    )]
    pub cluster: Option<String>,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account).
    #[arg(long, env = "ROUTEVAULT_KUBECONFIG", conflicts_with = "from_dir")]
    pub kubeconfig: Option<PathBuf>,
    /// Snapshot the cluster this pod runs in, as its service account, ignoring any kubeconfig.
    #[arg(long, env = "ROUTEVAULT_IN_CLUSTER", conflicts_with_all = ["from_dir", "cluster", "kubeconfig"])]
    pub in_cluster: bool,
    /// Where the pod's service-account token, ca.crt and namespace are (used in a pod when no
    /// kubeconfig is given).
    #[arg(long, default_value = routevault::k8s::SERVICE_ACCOUNT_DIR, env = "ROUTEVAULT_SERVICE_ACCOUNT_DIR", hide_short_help = true)]
    pub service_account_dir: PathBuf,
    /// Objects per LIST page.
    #[arg(long, default_value_t = 500, env = "ROUTEVAULT_PAGE_SIZE", hide_short_help = true, value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub page_size: u64,
}

/// What a command prints on stdout: the same report in every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people: tables and sentences.
    #[value(alias = "table")]
    Text,
    /// One JSON document.
    Json,
    /// One YAML document.
    Yaml,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only this environment (default: all).
    #[arg(long = "env", env = "ROUTEVAULT_ENV")]
    pub env: Option<String>,
    /// Also show the key that signed each snapshot: which snapshots still need an old key in
    /// the trust folder during a key rotation.
    #[arg(long)]
    pub keys: bool,
    /// Trusted public keys (one .sign.pub file, or a folder of them): every listed snapshot is
    /// checked against them and shown as verified or not.
    #[arg(long, default_value = "keys", env = "ROUTEVAULT_TRUST")]
    pub trust: PathBuf,
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Snapshot id, or `latest`.
    pub snapshot: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub env: EnvArg,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Snapshot id, or `latest`.
    pub snapshot: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub env: EnvArg,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Snapshot id, or `latest`.
    pub snapshot: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub env: EnvArg,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Write the objects as YAML files into this new (or empty) folder.
    #[arg(long, env = "ROUTEVAULT_TO_DIR")]
    pub to_dir: Option<PathBuf>,
    /// Restore into this kubeconfig context (server-side apply, in restore order).
    /// `--cluster` and `--context` are the same option: both name a kubeconfig *context*.
    /// Its variable is ROUTEVAULT_RESTORE_CLUSTER, never the snapshot job's ROUTEVAULT_CLUSTER.
    #[arg(
        long,
        visible_alias = "context",
        value_name = "CONTEXT",
        env = "ROUTEVAULT_RESTORE_CLUSTER",
        conflicts_with = "to_dir"
    )]
    pub cluster: Option<String>,
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config, with its current context).
    #[arg(long, env = "ROUTEVAULT_RESTORE_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Restore into the cluster this pod runs in, as its service account (a restore Job).
    #[arg(long, env = "ROUTEVAULT_RESTORE_IN_CLUSTER", conflicts_with_all = ["to_dir", "cluster", "kubeconfig"])]
    pub in_cluster: bool,
    /// Where the pod's service-account token, ca.crt and namespace are (used in a pod when no
    /// kubeconfig is given).
    #[arg(long, default_value = routevault::k8s::SERVICE_ACCOUNT_DIR, env = "ROUTEVAULT_SERVICE_ACCOUNT_DIR", hide_short_help = true)]
    pub service_account_dir: PathBuf,
    /// Objects that already exist on the target: update (server-side apply over them; re-runs
    /// converge), skip, or fail.
    #[arg(
        long,
        value_enum,
        default_value = "update",
        env = "ROUTEVAULT_EXISTING"
    )]
    pub existing: routevault::restore::apply::Existing,
    /// Change nothing: with a cluster, ask the API server what would change (server-side dry
    /// run); with --to-dir, list the files that would be written and write none.
    #[arg(long)]
    pub dry_run: bool,
    /// Objects applied at once within a tier.
    #[arg(long, default_value_t = 32, env = "ROUTEVAULT_CONCURRENCY", value_parser = clap::value_parser!(u64).range(1..=512))]
    pub concurrency: u64,
    /// Skip objects whose kind the target does not serve (missing CRDs) instead of failing.
    #[arg(long, env = "ROUTEVAULT_SKIP_MISSING_KINDS")]
    pub skip_missing_kinds: bool,
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Hold at most this many bytes of objects at once while applying or writing (estimated
    /// as they are read: text plus 128 bytes per YAML node); one object over it is refused.
    /// The default keeps a restore under 512 MiB, the deploy kit's restore Job limit.
    #[arg(long, default_value_t = routevault::restore::DEFAULT_MAX_OBJECT_MEMORY, env = "ROUTEVAULT_MAX_OBJECT_MEMORY")]
    pub max_object_memory: u64,
    /// The age identity (.seal.key) that unseals Secret data. Without it, no Secrets are written.
    #[arg(long, env = "ROUTEVAULT_UNSEAL_KEY")]
    pub unseal_key: Option<PathBuf>,
    /// Replace, not modify: after applying, delete the routing objects in the snapshot's scope
    /// (its namespaces and kinds) that the snapshot does not hold, routes first, so that the
    /// cluster's routing is exactly the snapshot. Restoring an older snapshot with --prune is a
    /// rollback. Only objects routevault applied (field manager `routevault`) unless
    /// --prune-all; never Namespaces unless --prune-namespaces. With --dry-run, lists them.
    #[arg(long, env = "ROUTEVAULT_PRUNE", conflicts_with = "to_dir")]
    pub prune: bool,
    /// After applying, watch until the restored routing is live — Certificates and issuers
    /// Ready, Gateways Programmed, routes Accepted with ResolvedRefs for every parent,
    /// Ingresses with a load-balancer address where their class published one on the source —
    /// and report when each tier went live (the
    /// recovery time). Fails after TIMEOUT (default 10m), naming each object not live and
    /// why. Also counts CertificateRequests created meanwhile (re-issued certificates).
    #[arg(
        long,
        value_name = "TIMEOUT",
        num_args = 0..=1,
        default_missing_value = "10m",
        value_parser = routevault::duration::Age::parse,
        env = "ROUTEVAULT_WAIT",
        conflicts_with_all = ["to_dir", "dry_run"]
    )]
    pub wait: Option<routevault::duration::Age>,
    /// With --prune, also delete in-scope objects that other tools applied (kubectl, Helm,
    /// controllers' users): everything routing in scope that the snapshot does not hold.
    #[arg(long, requires = "prune")]
    pub prune_all: bool,
    /// With --prune, also delete Namespaces in scope that the snapshot does not hold (and with
    /// them everything in them).
    #[arg(long, requires = "prune")]
    pub prune_namespaces: bool,
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Snapshot id, or `latest`.
    pub snapshot: String,
    /// A second snapshot (id or `latest`): compare the two builds instead of a cluster (the
    /// cluster options are then not used).
    pub against: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub env: EnvArg,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Compare with the live routing of this kubeconfig context (`--context` is the same).
    #[arg(
        long,
        visible_alias = "context",
        value_name = "CONTEXT",
        env = "ROUTEVAULT_DIFF_CLUSTER"
    )]
    pub cluster: Option<String>,
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config, with its current context).
    #[arg(long, env = "ROUTEVAULT_DIFF_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Compare with the cluster this pod runs in, as its service account (a drift CronJob).
    #[arg(long, env = "ROUTEVAULT_DIFF_IN_CLUSTER", conflicts_with_all = ["cluster", "kubeconfig"])]
    pub in_cluster: bool,
    #[arg(long, default_value = routevault::k8s::SERVICE_ACCOUNT_DIR, env = "ROUTEVAULT_SERVICE_ACCOUNT_DIR", hide_short_help = true)]
    pub service_account_dir: PathBuf,
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Unseal Secret values to compare them (any .seal.key of the snapshot's recipients).
    #[arg(long, env = "ROUTEVAULT_UNSEAL_KEY")]
    pub unseal_key: Option<PathBuf>,
    /// Against a cluster: the key that signed the snapshot, to compare live Secret values with
    /// the snapshot's keyed digests without unsealing (the snapshot job's own key).
    #[arg(long, env = "ROUTEVAULT_DIFF_SIGN_KEY")]
    pub sign_key: Option<PathBuf>,
    /// The most one snapshot object may take in memory, in bytes (as for restore); one object
    /// over it is refused.
    #[arg(long, default_value_t = routevault::restore::DEFAULT_MAX_OBJECT_MEMORY, env = "ROUTEVAULT_MAX_OBJECT_MEMORY", hide_short_help = true)]
    pub max_object_memory: u64,
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub env: EnvArg,
    /// Trusted public keys: one .sign.pub file, or a folder of them.
    #[arg(long, default_value = "keys", env = "ROUTEVAULT_TRUST")]
    pub trust: PathBuf,
    /// Fail (exit 3) when the newest verified snapshot is older than this (e.g. 26h).
    #[arg(long, value_name = "DURATION", env = "ROUTEVAULT_MAX_AGE", value_parser = Age::parse)]
    pub max_age: Option<Age>,
    /// Refuse artifacts larger than this many bytes.
    #[arg(long, default_value_t = routevault::artifact::read::DEFAULT_MAX_ARTIFACT_BYTES, env = "ROUTEVAULT_MAX_ARTIFACT_BYTES")]
    pub max_artifact_bytes: u64,
    /// Refuse artifacts that unpack to more than this many bytes.
    #[arg(long, default_value_t = routevault::artifact::read::DEFAULT_MAX_UNPACKED_BYTES, env = "ROUTEVAULT_MAX_UNPACKED_BYTES")]
    pub max_unpacked_bytes: u64,
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only this environment (default: all).
    #[arg(long = "env", env = "ROUTEVAULT_ENV")]
    pub env: Option<String>,
    /// Keep this many newest verified snapshots per environment (at least 1).
    #[arg(long, env = "ROUTEVAULT_KEEP_LAST", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_last: u64,
    /// Trusted public keys (one .sign.pub file, or a folder of them): only snapshots whose
    /// signature verifies count as kept; nothing is deleted on the word of a file name.
    #[arg(long, default_value = "keys", env = "ROUTEVAULT_TRUST")]
    pub trust: PathBuf,
    /// Also delete committed pairs whose signature does not verify (junk, tampering), unless
    /// locked. Without it they are only reported.
    #[arg(long)]
    pub delete_unverified: bool,
    /// Only delete snapshots older than this (e.g. 30d, 12h, 2w).
    #[arg(long, value_name = "DURATION", env = "ROUTEVAULT_OLDER_THAN", value_parser = Age::parse)]
    pub older_than: Option<Age>,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "text",
        env = "ROUTEVAULT_OUTPUT"
    )]
    pub output: Output,
}

/// The clone rewrites and subset filters, shared by `restore` and `diff` (a clone is checked
/// against its source snapshot through the same rewrites that made it).
#[derive(Debug, Args)]
pub struct TransformArgs {
    /// Rewrite namespace FROM to TO (and references across namespaces); repeatable.
    #[arg(long = "namespace-map", value_name = "FROM=TO", env = "ROUTEVAULT_NAMESPACE_MAP", value_delimiter = ',', value_parser = parse_pair)]
    pub namespace_map: Vec<(String, String)>,
    /// With --namespace-map, keep each cloned Service's node ports and cluster IP. By default a
    /// clone releases them (the report lists each), because its source usually holds them on
    /// the same cluster and the API server would refuse the copy.
    #[arg(long, env = "ROUTEVAULT_KEEP_NODE_PORTS")]
    pub keep_node_ports: bool,
    /// Rewrite hostnames ending in FROM to end in TO (wildcards included); repeatable.
    #[arg(long = "host-rewrite", value_name = "FROM=TO", env = "ROUTEVAULT_HOST_REWRITE", value_delimiter = ',', value_parser = parse_pair)]
    pub host_rewrite: Vec<(String, String)>,
    /// Rename an IngressClass (and references to it); repeatable.
    #[arg(long = "ingress-class-map", value_name = "FROM=TO", env = "ROUTEVAULT_INGRESS_CLASS_MAP", value_delimiter = ',', value_parser = parse_pair)]
    pub ingress_class_map: Vec<(String, String)>,
    /// Rename a cert-manager Issuer/ClusterIssuer (and references to it); repeatable.
    #[arg(long = "issuer-map", value_name = "FROM=TO", env = "ROUTEVAULT_ISSUER_MAP", value_delimiter = ',', value_parser = parse_pair)]
    pub issuer_map: Vec<(String, String)>,
    /// Only these kinds (e.g. Ingress,Service).
    #[arg(long, value_name = "KIND", value_delimiter = ',', env = "ROUTEVAULT_ONLY", value_parser = parse_kind)]
    pub only: Vec<&'static KindInfo>,
    /// Only these (source) namespaces; repeatable.
    #[arg(
        long = "namespace",
        short = 'n',
        env = "ROUTEVAULT_NAMESPACES",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
}

impl TransformArgs {
    pub fn to_transform(&self) -> routevault::transform::Transform {
        routevault::transform::Transform {
            namespaces: self.namespace_map.iter().cloned().collect(),
            hosts: self.host_rewrite.clone(),
            ingress_classes: self.ingress_class_map.iter().cloned().collect(),
            issuers: self.issuer_map.iter().cloned().collect(),
            only: self.only.clone(),
            only_namespaces: self.namespaces.clone(),
            keep_node_ports: self.keep_node_ports,
        }
    }
}
