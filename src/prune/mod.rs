//! The prune policy, pure: given an environment's snapshots (oldest first) with what trust and
//! the store say about each, decide what to delete and why. `run` gathers the facts and
//! carries the plan out.
//!
//! Rules, each there because a bucket writer must not be able to turn prune into deletion:
//! - Only verified snapshots count as kept; `keep_last` (at least 1) newest verified ones stay,
//!   so the newest verified snapshot is never deleted, whatever junk is newer.
//! - Deletion goes from the old end only, and stops at the first snapshot it must keep (locked,
//!   or younger than `older_than`): a gap in the middle of the chain is what `history` reports
//!   as tampering, so prune never makes one.
//! - A committed pair that does not verify is deleted only with `delete_unverified`, and never
//!   while locked; uncommitted uploads (no signature) only once older than a grace period.

pub mod run;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::store::Retention;

/// An artifact without a signature younger than this may be a snapshot still uploading.
pub const ORPHAN_GRACE: SignedDuration = SignedDuration::from_hours(1);

/// What prune knows of one stored snapshot.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    /// From the id (signed, for verified snapshots).
    pub created: Option<Timestamp>,
    pub committed: bool,
    pub verified: bool,
    /// Retention still in force on any version prune would delete.
    pub locked: Option<Retention>,
}

/// The policy's settings.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub keep_last: usize,
    pub older_than: Option<SignedDuration>,
    pub delete_unverified: bool,
    pub now: Timestamp,
}

/// What happens to one candidate, by index into the candidates given to [`plan`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// A verified snapshot past `keep_last` and old enough: deleted.
    Delete,
    /// One of the `keep_last` newest verified snapshots, or too young for `older_than`.
    Keep,
    /// Would be deleted but is under retention.
    Locked { retention: Retention },
    /// Past `keep_last`, but newer than a snapshot prune must keep: deleting it would leave a
    /// gap in the chain.
    KeepForChain,
    /// A committed pair whose signature does not verify, deleted (`delete_unverified`).
    DeleteUnverified,
    /// A committed pair whose signature does not verify, left for an operator.
    LeaveUnverified,
    /// An uncommitted upload past the grace period: deleted.
    DeleteOrphan,
    /// An uncommitted upload still within the grace period, or locked: left.
    LeaveOrphan,
}

/// Decides every candidate of one environment (given oldest first). Which ones it needs
/// retention for: [`needs_retention`].
pub fn plan(candidates: &[Candidate], policy: &Policy) -> Vec<Decision> {
    let mut decisions = vec![Decision::Keep; candidates.len()];
    let verified: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].committed && candidates[i].verified)
        .collect();
    let cut = verified.len().saturating_sub(policy.keep_last.max(1));
    let mut stopped = false;
    for &i in &verified[..cut] {
        let candidate = &candidates[i];
        if stopped {
            decisions[i] = Decision::KeepForChain;
            continue;
        }
        let old_enough = match policy.older_than {
            Some(limit) => candidate
                .created
                .is_some_and(|t| policy.now.duration_since(t) > limit),
            None => true,
        };
        if !old_enough {
            decisions[i] = Decision::Keep;
            stopped = true;
        } else if let Some(retention) = &candidate.locked {
            decisions[i] = Decision::Locked {
                retention: retention.clone(),
            };
            stopped = true;
        } else {
            decisions[i] = Decision::Delete;
        }
    }
    for (i, candidate) in candidates.iter().enumerate() {
        if candidate.committed && candidate.verified {
            continue;
        }
        decisions[i] = if candidate.committed {
            match (&candidate.locked, policy.delete_unverified) {
                (None, true) => Decision::DeleteUnverified,
                _ => Decision::LeaveUnverified,
            }
        } else {
            let young = candidate
                .created
                .is_none_or(|t| policy.now.duration_since(t) < ORPHAN_GRACE);
            if young || candidate.locked.is_some() {
                Decision::LeaveOrphan
            } else {
                Decision::DeleteOrphan
            }
        };
    }
    decisions
}

/// Whether prune must read a candidate's retention before planning: only those it might
/// delete (the rest are kept whatever their lock).
pub fn needs_retention(candidates: &[Candidate], policy: &Policy) -> Vec<bool> {
    let verified = candidates
        .iter()
        .filter(|c| c.committed && c.verified)
        .count();
    let mut cut = verified.saturating_sub(policy.keep_last.max(1));
    candidates
        .iter()
        .map(|c| {
            if c.committed && c.verified {
                let past = cut > 0;
                cut = cut.saturating_sub(1);
                past
            } else {
                !c.committed || policy.delete_unverified
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LockMode;

    fn now() -> Timestamp {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    fn snap(name: &str, hours_ago: i64, verified: bool) -> Candidate {
        Candidate {
            name: name.into(),
            created: Some(now() - SignedDuration::from_hours(hours_ago)),
            committed: true,
            verified,
            locked: None,
        }
    }

    fn policy(keep_last: usize) -> Policy {
        Policy {
            keep_last,
            older_than: None,
            delete_unverified: false,
            now: now(),
        }
    }

    fn locked() -> Option<Retention> {
        Some(Retention {
            mode: LockMode::Compliance,
            until: now() + SignedDuration::from_hours(24),
        })
    }

    #[test]
    fn junk_newer_than_everything_neither_counts_nor_is_deleted() {
        // Two real snapshots, then two planted future pairs that do not verify.
        let candidates = vec![
            snap("a", 5, true),
            snap("b", 4, true),
            snap("junk1", -1000, false),
            snap("junk2", -2000, false),
        ];
        let decisions = plan(&candidates, &policy(2));
        assert_eq!(
            decisions,
            vec![
                Decision::Keep,
                Decision::Keep,
                Decision::LeaveUnverified,
                Decision::LeaveUnverified
            ]
        );
        let decisions = plan(&candidates, &policy(1));
        assert_eq!(decisions[0], Decision::Delete);
        assert_eq!(decisions[1], Decision::Keep, "the newest verified stays");
    }

    #[test]
    fn keep_last_zero_still_keeps_the_newest_verified() {
        let candidates = vec![snap("a", 5, true), snap("b", 4, true)];
        assert_eq!(
            plan(&candidates, &policy(0)),
            vec![Decision::Delete, Decision::Keep]
        );
    }

    #[test]
    fn deletion_stops_at_the_first_locked_or_young_snapshot() {
        let mut candidates = vec![
            snap("a", 50, true),
            snap("b", 40, true),
            snap("c", 30, true),
            snap("d", 20, true),
            snap("e", 1, true),
        ];
        candidates[1].locked = locked();
        let decisions = plan(&candidates, &policy(1));
        assert_eq!(
            decisions,
            vec![
                Decision::Delete,
                Decision::Locked {
                    retention: locked().unwrap()
                },
                Decision::KeepForChain,
                Decision::KeepForChain,
                Decision::Keep
            ]
        );
        candidates[1].locked = None;
        let mut young = policy(1);
        young.older_than = Some(SignedDuration::from_hours(35));
        assert_eq!(
            plan(&candidates, &young),
            vec![
                Decision::Delete,
                Decision::Delete,
                Decision::Keep,
                Decision::KeepForChain,
                Decision::Keep
            ]
        );
    }

    #[test]
    fn unverified_pairs_go_only_when_asked_and_unlocked() {
        let mut candidates = vec![
            snap("a", 5, true),
            snap("junk", 4, false),
            snap("lockedjunk", 3, false),
        ];
        candidates[2].locked = locked();
        let mut asked = policy(1);
        asked.delete_unverified = true;
        assert_eq!(
            plan(&candidates, &asked),
            vec![
                Decision::Keep,
                Decision::DeleteUnverified,
                Decision::LeaveUnverified
            ]
        );
        assert_eq!(plan(&candidates, &policy(1))[1], Decision::LeaveUnverified);
    }

    #[test]
    fn orphans_wait_out_the_grace_period() {
        let mut old = snap("old-orphan", 2, false);
        old.committed = false;
        let mut young = snap("young-orphan", 0, false);
        young.committed = false;
        let decisions = plan(&[old, young], &policy(1));
        assert_eq!(
            decisions,
            vec![Decision::DeleteOrphan, Decision::LeaveOrphan]
        );
    }

    #[test]
    fn retention_is_read_only_for_what_might_go() {
        let candidates = vec![
            snap("a", 5, true),
            snap("junk", 4, false),
            snap("b", 3, true),
            snap("c", 2, true),
        ];
        assert_eq!(
            needs_retention(&candidates, &policy(2)),
            vec![true, false, false, false]
        );
    }
}
