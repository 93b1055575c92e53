//! The artifact: a zstd-compressed tar holding a manifest and one YAML file per object.
//! `format` defines the manifest and the rules; `write` produces artifacts; `read` opens them
//! only after the signature verifies, and checks every entry; `validate` holds the rules every
//! object must pass (routing catalog, identity, Secret types), even under a valid signature. docs/artifact-format.md is the
//! byte-level specification.

pub mod entries;
pub mod format;
pub mod read;
pub mod validate;
pub mod write;

pub use entries::Entries;
pub use format::{Entry, Manifest, PreviousSnapshot, SourceInfo};
pub use read::{Limits, VerifiedArtifact};

/// A manifest as an opened artifact holds it: entries compact (`entries`).
pub type OpenedManifest = Manifest<Entries>;
pub use write::ArtifactWriter;
