//! routevault: disaster recovery for Kubernetes routing.
//!
//! The library holds every stage of the data flow described in `docs/` and the design:
//! source → catalog → normalize → seal → artifact → sign → store, and back again for restore.
//! The binary (`src/main.rs`, with the command line in `cli.rs` and `commands/`) is a thin
//! layer over it: commands parse arguments, call the library and print its typed results.

pub mod artifact;
pub mod catalog;
pub mod cleanup;
pub mod convert;
pub mod defaults;
pub mod diff;
pub mod drift;
pub mod duration;
pub mod error;
pub mod growing;
pub mod history;
pub mod json_pointer;
pub mod k8s;
pub mod keyfile;
pub mod managed;
pub mod normalize;
pub mod object;
pub mod open;
pub mod output;
pub mod progress;
pub mod prune;
pub mod readiness;
pub mod redact;
pub mod restore;
pub mod scope;
pub mod seal;
pub mod select;
pub mod selector;
pub mod sign;
pub mod snapshot;
pub mod source;
pub mod spool;
pub mod store;
pub mod transform;
pub mod value_digest;
pub mod yaml;

/// The version of this tool, recorded in every manifest.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
