//! Reading a verified artifact for a restore without holding its objects, so that a restore's
//! memory does not grow with the routing estate. A first pass reads and checks every member
//! (unsealing each Secret to prove the key opens it, then dropping it) and outlines what will
//! be restored — identities, kinds, namespaces, references, and which members go in which tier
//! — for the preflight, `--prune` and the report. Nothing is applied or written before that
//! pass has finished. Then each tier's members are read again, unsealed and rewritten, and
//! handed on one at a time. The artifact is a private temporary file
//! (`store::snapshots::fetch`), and every pass checks every member against the signed manifest
//! again.

use anyhow::Context;

use super::plan::{self, Outline};
use crate::artifact::{Entry, VerifiedArtifact};
use crate::catalog::RESTORE_TIERS;
use crate::error::VerifyError;
use crate::object::Object;
use crate::seal::Unsealer;
use crate::transform::{Sketch, Transform};

/// An artifact outlined for a restore, ready to be read again tier by tier.
pub struct Reading<'a> {
    artifact: &'a VerifiedArtifact,
    unsealer: Option<&'a Unsealer>,
    transform: &'a Transform,
    /// The tier each manifest entry is restored in (index into `RESTORE_TIERS`); None: not
    /// restored (withheld, or outside the subset).
    tiers: Vec<Option<u8>>,
    /// The most one object may be estimated to take in memory (`--max-object-memory`).
    max_object_memory: u64,
    pub outline: Outline,
    /// Sealed Secrets not restored for want of an unseal key.
    pub secrets_withheld: usize,
    /// The conversions' and rewrites' notes, for the report.
    pub notes: Vec<String>,
}

/// What one member becomes in a restore.
enum Prepared {
    /// Sealed, and no unseal key was given.
    Withheld,
    /// Outside the restored subset.
    Dropped,
    /// Ready to apply or write, with the notes its conversion and rewrite left.
    Ready(Object, Vec<String>),
}

impl<'a> Reading<'a> {
    /// Reads the whole artifact (twice with `--namespace`, whose narrowing needs every
    /// object's references first), checking every member and keeping only the outline — with
    /// every object's identity only when `identities` (`--prune`, `--wait`).
    pub fn outline(
        artifact: &'a VerifiedArtifact,
        unsealer: Option<&'a Unsealer>,
        transform: &'a Transform,
        max_object_memory: u64,
        identities: bool,
    ) -> anyhow::Result<Self> {
        let entries = artifact.manifest.entries.len();
        let mut reading = Reading {
            artifact,
            unsealer,
            transform,
            tiers: vec![None; entries],
            max_object_memory,
            outline: Outline::default(),
            secrets_withheld: 0,
            notes: Vec::new(),
        };
        let keep = narrowing(artifact, transform)?;
        let mut tiers = vec![None; entries];
        let mut outline = match identities {
            true => Outline::with_identities(),
            false => Outline::default(),
        };
        let (mut withheld, mut notes) = (0, Vec::new());
        artifact.for_each_object_where(None, |index, entry, object| {
            if keep.as_ref().is_some_and(|keep| !keep[index]) {
                return Ok(());
            }
            match reading.prepare(entry, object)? {
                Prepared::Withheld => withheld += 1,
                Prepared::Dropped => {}
                Prepared::Ready(object, object_notes) => {
                    tiers[index] = Some(plan::tier_of(&object) as u8);
                    outline.add(&object);
                    notes.extend(object_notes);
                }
            }
            Ok(())
        })?;
        reading.tiers = tiers;
        reading.outline = outline;
        reading.secrets_withheld = withheld;
        reading.notes = notes;
        Ok(reading)
    }

    /// What the snapshot lets `--wait` expect of the restored routing: the classes whose
    /// Ingresses had an address on the source, under their restored names.
    pub fn expectations(&self) -> crate::readiness::Expectations {
        let renamed = |class: &String| {
            self.transform
                .ingress_classes
                .get(class)
                .unwrap_or(class)
                .clone()
        };
        crate::readiness::Expectations {
            addressed_ingress_classes: self
                .artifact
                .manifest
                .source
                .addressed_ingress_classes
                .as_ref()
                .map(|classes| classes.iter().map(renamed).collect()),
        }
    }

    /// Unseals (when a key was given), selects, converts and rewrites one member.
    fn prepare(&self, entry: &Entry, mut object: Object) -> anyhow::Result<Prepared> {
        if super::memory_cost(&object.0) > self.max_object_memory {
            return Err(VerifyError::TooMuchMemory {
                what: self.artifact.what().into(),
                object: format!("{} ({})", entry.describe(), entry.path),
                limit: self.max_object_memory,
            }
            .into());
        }
        if entry.sealed {
            let Some(unsealer) = self.unsealer else {
                return Ok(Prepared::Withheld);
            };
            unsealer
                .unseal_secret(&mut object)
                .with_context(|| format!("unsealing {}", entry.describe()))?;
        }
        if !self.transform.selects(&object) {
            return Ok(Prepared::Dropped);
        }
        let mut notes = Vec::new();
        // A snapshot made from older manifests may hold a removed API version; what cannot
        // be converted is applied as it is, and the API server names the field.
        if let Ok(crate::convert::Converted::Converted(note)) = crate::convert::convert(&mut object)
        {
            notes.push(note);
        }
        notes.extend(self.transform.apply(&mut object));
        Ok(Prepared::Ready(object, notes))
    }

    /// How many objects each tier restores, in tier order.
    pub fn tier_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; RESTORE_TIERS.len()];
        for tier in self.tiers.iter().flatten() {
            sizes[*tier as usize] += 1;
        }
        sizes
    }

    /// Reads the objects of `tier` again, ready to apply, in artifact order.
    pub fn each_in_tier(
        &self,
        tier: usize,
        visit: impl FnMut(Object) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.each_where(&|t| t == tier as u8, visit)
    }

    /// Reads every restored object again, ready to write, in artifact order.
    pub fn each(&self, visit: impl FnMut(Object) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.each_where(&|_| true, visit)
    }

    fn each_where(
        &self,
        tier_wanted: &dyn Fn(u8) -> bool,
        mut visit: impl FnMut(Object) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let wanted = |index: usize| self.tiers[index].is_some_and(tier_wanted);
        self.artifact
            .for_each_object_where(Some(&wanted), |_, entry, object| {
                match self.prepare(entry, object)? {
                    Prepared::Ready(object, _) => visit(object),
                    // The outline pass decided; a member that changes its mind is not the
                    // member that was outlined.
                    _ => Err(VerifyError::Malformed {
                        what: self.artifact.what().into(),
                        reason: format!("{} changed between reads", entry.path),
                    }
                    .into()),
                }
            })
    }
}

/// `--namespace`'s narrowing (none without it), decided on sketches of the selected objects
/// in a pass of its own: which manifest entries to keep. Shared with `diff`, which compares
/// what a restore would write.
pub fn narrowing(
    artifact: &VerifiedArtifact,
    transform: &Transform,
) -> anyhow::Result<Option<Vec<bool>>> {
    if !transform.narrows() {
        return Ok(None);
    }
    let mut sketched: Vec<(usize, Sketch)> = Vec::new();
    artifact.for_each_object_where(None, |index, _entry, mut object| {
        if transform.selects(&object) {
            // References are read in the served shape, as the rewrite will see them.
            let _ = crate::convert::convert(&mut object);
            sketched.push((index, Sketch::of(&object)));
        }
        Ok(())
    })?;
    let sketches: Vec<Sketch> = sketched.iter().map(|(_, s)| s.clone()).collect();
    let mut keep = vec![false; artifact.manifest.entries.len()];
    for ((index, _), kept) in sketched.iter().zip(transform.keep(&sketches)) {
        keep[*index] = kept;
    }
    Ok(Some(keep))
}
