//! Restoring objects from a verified artifact: decode and check each object against its
//! manifest entry, unseal Secrets when a key was given, and hand objects to a sink (a folder
//! now, a cluster later).

pub mod apply;
pub mod render;

use anyhow::Context;

use crate::artifact::{Entry, VerifiedArtifact};
use crate::error::VerifyError;
use crate::object::Object;
use crate::seal::Unsealer;

/// Decodes one member into an object and checks that it is what the manifest says it is.
pub fn decode(entry: &Entry, bytes: &[u8], what: &str) -> Result<Object, VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed {
        what: what.into(),
        reason,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| malformed(format!("{} is not UTF-8", entry.path)))?;
    let mut documents = crate::yaml::parse_documents(text)
        .map_err(|e| malformed(format!("{}: {e}", entry.path)))?;
    if documents.len() != 1 {
        return Err(malformed(format!(
            "{} holds {} documents, not one",
            entry.path,
            documents.len()
        )));
    }
    let object = Object(documents.remove(0).1);
    let matches = object.api_version() == entry.api_version
        && object.kind() == entry.kind
        && object.name() == entry.name
        && object.namespace() == entry.namespace.as_deref();
    if !matches {
        return Err(malformed(format!(
            "{} is not the object its manifest entry names ({})",
            entry.path,
            entry.describe()
        )));
    }
    Ok(object)
}

/// Reads every object of `artifact`, unseals what it can, and passes each to `sink` in
/// artifact order (which is restore order). Returns how many sealed Secrets were withheld
/// because no unseal key was given.
pub fn restore_objects(
    artifact: &VerifiedArtifact,
    unsealer: Option<&Unsealer>,
    what: &str,
    mut sink: impl FnMut(Object) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let mut secrets_withheld = 0;
    artifact.for_each_object(|entry, bytes| {
        let mut object = decode(entry, &bytes, what)?;
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
