//! Restoring objects from a verified artifact: the reader decodes and checks each object
//! against its manifest entry and the catalog; here Secrets are unsealed when a key was
//! given, and objects handed to a sink (a folder or a cluster).

pub mod apply;
pub mod render;

use anyhow::Context;

use crate::artifact::VerifiedArtifact;
use crate::object::Object;
use crate::seal::Unsealer;

/// Reads every object of `artifact`, unseals what it can, and passes each to `sink` in
/// artifact order (which is restore order). Returns how many sealed Secrets were withheld
/// because no unseal key was given.
pub fn restore_objects(
    artifact: &VerifiedArtifact,
    unsealer: Option<&Unsealer>,
    mut sink: impl FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let mut secrets_withheld = 0;
    artifact.for_each_object(|entry, mut object| {
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
