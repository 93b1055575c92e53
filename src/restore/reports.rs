//! Every object's report of a restore, written to an unlinked temporary file as it is made and
//! read back in order when the report is printed, so that a restore's memory does not grow
//! with the routing estate (issue 16: the reports held in memory were about 200 bytes per
//! object, the biggest part of a 300,000-object restore's peak). Only the counts by outcome
//! stay in memory. The file holds what the printed report holds — identities, outcomes, the
//! API server's messages, a dry run's masked changes — never Secret data, and it is never
//! visible on disk (unlinked from the start, like the capture's spool).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;

use serde::ser::Error as _;
use serde::{Deserialize, Serialize};

use super::apply::{ObjectReport, Outcome};
use crate::catalog::{OTHER_TIER, RESTORE_TIERS};

/// Reports being written, one JSON line each.
#[derive(Debug)]
pub struct ObjectLog {
    writer: BufWriter<File>,
    counts: BTreeMap<&'static str, usize>,
    len: usize,
}

impl ObjectLog {
    /// A log in the system's temporary folder (`TMPDIR`).
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            counts: BTreeMap::new(),
            len: 0,
        })
    }

    pub fn push(&mut self, report: &ObjectReport) -> io::Result<()> {
        serde_json::to_writer(&mut self.writer, report).map_err(io::Error::other)?;
        self.writer.write_all(b"\n")?;
        *self.counts.entry(report.outcome.name()).or_insert(0) += 1;
        self.len += 1;
        Ok(())
    }

    /// How many objects had `outcome` so far.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.counts.get(outcome.name()).copied().unwrap_or(0)
    }

    /// How many objects had each outcome, by its lowercase name.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.counts
            .iter()
            .map(|(name, count)| (name.to_string(), *count))
            .collect()
    }

    /// Ends writing; the reports can then be read back, in the order they were pushed, as
    /// often as needed.
    pub fn finish(self) -> io::Result<Logged> {
        let file = self.writer.into_inner().map_err(|e| e.into_error())?;
        Ok(Logged {
            file,
            len: self.len,
        })
    }
}

/// A finished log. Serialises as the list of its reports, read from the file as they are
/// written out (`--output json` streams them; nothing holds them all).
#[derive(Debug)]
pub struct Logged {
    file: File,
    len: usize,
}

impl Logged {
    /// How many reports there are.
    pub fn count(&self) -> usize {
        self.len
    }

    /// The reports in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = io::Result<ObjectReport>> + '_ {
        let mut lines = BufReader::with_capacity(
            1 << 16,
            FromStart {
                file: &self.file,
                offset: 0,
            },
        )
        .lines();
        std::iter::from_fn(move || {
            let line = lines.next()?;
            Some(line.and_then(|line| read_line(&line)))
        })
    }
}

/// An [`ObjectReport`] as the log spells it, its tier by name.
#[derive(Deserialize)]
struct Line {
    object: String,
    tier: String,
    outcome: Outcome,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    changes: Vec<String>,
}

fn read_line(line: &str) -> io::Result<ObjectReport> {
    let line: Line = serde_json::from_str(line).map_err(io::Error::other)?;
    let tier = RESTORE_TIERS
        .iter()
        .chain(&[OTHER_TIER])
        .find(|tier| **tier == line.tier)
        .copied()
        .ok_or_else(|| io::Error::other(format!("{:?} is not a restore tier", line.tier)))?;
    Ok(ObjectReport {
        object: line.object,
        tier,
        outcome: line.outcome,
        message: line.message,
        changes: line.changes,
    })
}

impl Serialize for Logged {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for report in self.iter() {
            let report = report.map_err(|e| {
                S::Error::custom(format!(
                    "reading the restore's report back from its temporary file: {e}"
                ))
            })?;
            seq.serialize_element(&report)?;
        }
        seq.end()
    }
}

/// Reads a file from its start without moving the file's own offset, so that every reader
/// of a [`Logged`] starts afresh.
struct FromStart<'a> {
    file: &'a File,
    offset: u64,
}

impl Read for FromStart<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read_at(buf, self.offset)?;
        self.offset += read as u64;
        Ok(read)
    }
}

/// The most objects a text report lists one by one (all are in `--output json`): a terminal
/// cannot show 300,000 rows, and the rows that matter (failed, updated, pruned) come first.
pub const MAX_LISTED: usize = 1000;

/// A restore of at most this many objects lists every one, created and unchanged ones too.
pub const LIST_EVERY_OBJECT_UP_TO: usize = 200;

/// What a text report lists of a restore's `total` object reports.
#[derive(Debug, Default)]
pub struct Listing {
    pub listed: Vec<ObjectReport>,
    /// Reports that would have been listed but for [`MAX_LISTED`].
    pub unlisted: usize,
}

/// Every object of a small restore; else those neither created nor unchanged (what an
/// operator must look at), at most [`MAX_LISTED`], counting the rest.
pub fn listing(total: usize, reports: impl IntoIterator<Item = ObjectReport>) -> Listing {
    let list_every_object = total <= LIST_EVERY_OBJECT_UP_TO;
    let mut listing = Listing::default();
    for report in reports {
        if !list_every_object && matches!(report.outcome, Outcome::Created | Outcome::Unchanged) {
            continue;
        }
        if listing.listed.len() == MAX_LISTED {
            listing.unlisted += 1;
        } else {
            listing.listed.push(report);
        }
    }
    listing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(object: &str, tier: &'static str, outcome: Outcome) -> ObjectReport {
        ObjectReport {
            object: object.to_string(),
            tier,
            outcome,
            message: (outcome == Outcome::Failed).then(|| "admission webhook denied".into()),
            changes: match outcome {
                Outcome::Updated => vec!["spec.rules[0].host: a.example -> b.example".into()],
                _ => Vec::new(),
            },
        }
    }

    fn sample() -> Vec<ObjectReport> {
        vec![
            report("Namespace shop", "namespaces", Outcome::Created),
            report("Secret shop/tls", "secrets", Outcome::Unchanged),
            report("Service shop/web", "services", Outcome::Failed),
            report(
                "networking.k8s.io/Ingress shop/web",
                "routes",
                Outcome::Updated,
            ),
            report(
                "networking.k8s.io/Ingress shop/old",
                "routes",
                Outcome::Pruned,
            ),
            report("Service shop/skip", "services", Outcome::Skipped),
        ]
    }

    #[test]
    fn reports_come_back_in_order_as_often_as_asked() {
        let mut log = ObjectLog::new().unwrap();
        for report in sample() {
            log.push(&report).unwrap();
        }
        let logged = log.finish().unwrap();
        assert_eq!(logged.count(), 6);
        let expected = serde_json::to_value(sample()).unwrap();
        for _ in 0..2 {
            let back: Vec<ObjectReport> = logged.iter().collect::<io::Result<_>>().unwrap();
            assert_eq!(serde_json::to_value(&back).unwrap(), expected);
        }
        // The report's JSON is the list it always was.
        assert_eq!(serde_json::to_value(&logged).unwrap(), expected);
    }

    #[test]
    fn counts_follow_the_outcomes() {
        let mut log = ObjectLog::new().unwrap();
        assert_eq!(log.count(Outcome::Failed), 0);
        for report in sample().iter().chain(&sample()[2..3]) {
            log.push(report).unwrap();
        }
        assert_eq!(log.count(Outcome::Failed), 2);
        assert_eq!(log.count(Outcome::Created), 1);
        let counts = log.counts();
        assert_eq!(counts.get("failed"), Some(&2));
        assert_eq!(counts.get("pruned"), Some(&1));
        assert_eq!(counts.values().sum::<usize>(), 7);
        assert!(!counts.contains_key("other"));
    }

    fn many(count: usize, outcome: Outcome) -> impl Iterator<Item = ObjectReport> {
        (0..count).map(move |i| report(&format!("Service shop/s{i}"), "services", outcome))
    }

    #[test]
    fn a_small_restore_lists_every_object() {
        let all = listing(6, sample());
        let listed: Vec<&str> = all.listed.iter().map(|r| r.object.as_str()).collect();
        let expected: Vec<String> = sample().into_iter().map(|r| r.object).collect();
        assert_eq!(listed, expected);
        assert_eq!(all.unlisted, 0);
        let edge = many(LIST_EVERY_OBJECT_UP_TO, Outcome::Created);
        assert_eq!(
            listing(LIST_EVERY_OBJECT_UP_TO, edge).listed.len(),
            LIST_EVERY_OBJECT_UP_TO
        );
    }

    #[test]
    fn a_big_restore_lists_what_needs_looking_at_up_to_the_cap() {
        // 201 objects: created and unchanged ones are no longer listed.
        let reports = many(150, Outcome::Created)
            .chain(many(45, Outcome::Unchanged))
            .chain(sample());
        let few = listing(201, reports);
        let outcomes: Vec<Outcome> = few.listed.iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            vec![
                Outcome::Failed,
                Outcome::Updated,
                Outcome::Pruned,
                Outcome::Skipped
            ]
        );
        assert_eq!(few.unlisted, 0);

        // Over the cap: the first MAX_LISTED in order, the rest counted, none dropped silently.
        let total = 100_000;
        let reports = many(total - MAX_LISTED - 20, Outcome::Created)
            .chain(many(MAX_LISTED + 20, Outcome::Failed));
        let listing = listing(total, reports);
        assert_eq!(listing.listed.len(), MAX_LISTED);
        assert_eq!(listing.unlisted, 20);
        assert_eq!(listing.listed[0].object, "Service shop/s0");
        assert!(listing.listed.iter().all(|r| r.outcome == Outcome::Failed));
    }

    #[test]
    fn an_empty_log_is_an_empty_list() {
        let logged = ObjectLog::new().unwrap().finish().unwrap();
        assert_eq!(logged.count(), 0);
        assert_eq!(
            serde_json::to_value(&logged).unwrap(),
            serde_json::json!([])
        );
    }

    #[test]
    fn a_tier_the_restore_does_not_know_is_refused_when_read_back() {
        let mut log = ObjectLog::new().unwrap();
        log.push(&report("Service a/b", "services", Outcome::Created))
            .unwrap();
        let logged = log.finish().unwrap();
        // Only this process writes the file; were it changed under it, the reader says so.
        logged
            .file
            .write_all_at(
                b"{\"object\":\"Service a/b\",\"tier\":\"nope\",\"outcome\":\"created\"}\n",
                0,
            )
            .unwrap();
        let error = logged.iter().next().unwrap().unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
    }
}
