//! Restoring objects from a verified artifact: the reader decodes and checks each object
//! against its manifest entry and the catalog; here Secrets are unsealed when a key was
//! given, and objects handed to a sink (a folder or a cluster).

pub mod apply;
pub mod render;

use anyhow::Context;

use crate::artifact::VerifiedArtifact;
use crate::error::VerifyError;
use crate::object::Object;
use crate::seal::Unsealer;

/// The default of `--max-object-memory`: measured, a restore holding objects of this
/// estimated size peaks below the deploy kit's 512 MiB restore Job limit (docs/performance.md).
pub const DEFAULT_MAX_OBJECT_MEMORY: u64 = 320 << 20;

/// What one decoded object costs in memory, estimated: its strings' bytes plus 128 bytes per
/// node (the measured cost of a map entry of serde_json's tree with its key).
pub fn memory_cost(value: &serde_json::Value) -> u64 {
    use serde_json::Value;
    const NODE: u64 = 128;
    match value {
        Value::String(s) => NODE + s.len() as u64,
        Value::Array(items) => NODE + items.iter().map(memory_cost).sum::<u64>(),
        Value::Object(map) => {
            NODE + map
                .iter()
                .map(|(k, v)| k.len() as u64 + memory_cost(v))
                .sum::<u64>()
        }
        _ => NODE,
    }
}

/// Reads every object of `artifact`, unseals what it can, and passes each to `sink` in
/// artifact order (which is restore order). Returns how many sealed Secrets were withheld
/// because no unseal key was given.
/// Fails once the objects read add up to more than `max_memory` (see [`memory_cost`]): the
/// caller holds them all, and a signed artifact must not be able to exhaust the machine.
pub fn restore_objects(
    artifact: &VerifiedArtifact,
    unsealer: Option<&Unsealer>,
    max_memory: u64,
    mut sink: impl FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let mut secrets_withheld = 0;
    let mut memory = 0u64;
    artifact.for_each_object(|entry, mut object| {
        memory += memory_cost(&object.0);
        if memory > max_memory {
            return Err(VerifyError::TooMuchMemory {
                what: artifact.what().into(),
                limit: max_memory,
            }
            .into());
        }
        if entry.sealed {
            match unsealer {
                Some(unsealer) => unsealer
                    .unseal_secret(&mut object)
                    .with_context(|| format!("unsealing {}", entry.describe()))?,
                None => {
                    secrets_withheld += 1;
                    return Ok(());
                }
            }
        }
        sink(object)
    })?;
    Ok(secrets_withheld)
}
