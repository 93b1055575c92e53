//! Errors that decide the process exit code.
//!
//! Every failure of trust (a missing or bad signature, an untrusted key, a digest mismatch, a
//! malformed or hostile artifact) is a [`VerifyError`]; `main` maps any error whose chain holds
//! one to exit code 3, so scripts can tell "this artifact must not be used" from other failures.

use thiserror::Error;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for any failure that is not a verification failure.
pub const EXIT_ERROR: i32 = 1;
/// Exit code for a command line that does not parse (clap's own convention).
pub const EXIT_USAGE: i32 = 2;
/// Exit code for an artifact that failed verification.
pub const EXIT_VERIFY: i32 = 3;
/// `diff` only, as `kubectl diff`: differences were found (the report says which). Any other
/// failure of `diff` exits [`EXIT_DIFF_ERROR`] so a monitor can tell drift from a broken run.
pub const EXIT_DIFFERENCES: i32 = 1;
/// `diff` only: a failure that is neither a verification failure nor a usage error.
pub const EXIT_DIFF_ERROR: i32 = 4;

/// `diff` found differences: not a failure of the command, but its answer.
#[derive(Debug, Error)]
#[error("{count} objects differ")]
pub struct DifferencesFound {
    pub count: usize,
}

/// An artifact, or its signature, cannot be trusted. The message says what was wrong and where;
/// it never contains secret data.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("snapshot {what} has no signature ({key}); it is not committed and must not be used")]
    MissingSignature { what: String, key: String },
    #[error("signature {key} is malformed: {reason}")]
    MalformedSignature { key: String, reason: String },
    #[error(
        "snapshot {what} is signed by key {key_id}, which is not among the trusted keys ({trust}); \
         add its .sign.pub to the trust folder if you trust it"
    )]
    UntrustedKey {
        what: String,
        key_id: String,
        trust: String,
    },
    #[error(
        "snapshot {what} is signed by key {key_id}, which is retired: {file} trusts it only for \
         signatures stored before {not_after}, and this one was stored at {stored_at}; it may be \
         a forgery made with a leaked key (see docs/runbooks/signing-key-compromise.md)"
    )]
    RetiredKey {
        what: String,
        key_id: String,
        file: String,
        not_after: String,
        stored_at: String,
    },
    #[error(
        "none of the {count} committed snapshots of environment {env:?} in {store} verifies \
         against the trusted keys ({trust}); `routevault list` shows why for each"
    )]
    NoneVerified {
        env: String,
        store: String,
        count: usize,
        trust: String,
    },
    #[error(
        "the newest verified snapshot of environment {env:?} ({id}, made {created}) is older \
         than --max-age {max_age}: the snapshot job may have stopped, or a newer snapshot may be \
         hidden or withheld from the store (see docs/runbooks/store-tampering.md)"
    )]
    Stale {
        env: String,
        id: String,
        created: String,
        max_age: String,
    },
    #[error("the chain of snapshots of environment {env:?} is broken: {reason}")]
    BrokenChain { env: String, reason: String },
    #[error("signature of {what} does not match the artifact: {reason}")]
    BadSignature { what: String, reason: String },
    #[error("artifact {what} is malformed: {reason}")]
    Malformed { what: String, reason: String },
    #[error("artifact {what} holds a hostile or undeclared entry {path:?}: {reason}")]
    HostileEntry {
        what: String,
        path: String,
        reason: String,
    },
    #[error(
        "artifact {what}: entry {path} is refused: {reason}. An artifact is data: only routing \
         objects are restored, whatever key signed it"
    )]
    NotRouting {
        what: String,
        path: String,
        reason: String,
    },
    #[error(
        "artifact {what}: member {path} is {size} bytes, more than any Kubernetes object can be \
         ({limit}); refusing"
    )]
    ObjectTooLarge {
        what: String,
        path: String,
        size: u64,
        limit: u64,
    },
    #[error(
        "artifact {what}: {object} would take more than {limit} bytes of memory to restore; \
         refusing (raise --max-object-memory, and the memory limit of the restore Job with it, \
         only if you expect an object this large)"
    )]
    TooMuchMemory {
        what: String,
        object: String,
        limit: u64,
    },
    #[error("artifact {what}: entry {path} does not match its recorded digest")]
    DigestMismatch { what: String, path: String },
    #[error(
        "artifact {what} unpacks to more than {limit} bytes; refusing (raise --max-unpacked-bytes \
         only if you expect an artifact this large)"
    )]
    TooLarge { what: String, limit: u64 },
}

/// Picks the exit code for an error returned by a command.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    if err.chain().any(|cause| cause.is::<VerifyError>()) {
        EXIT_VERIFY
    } else {
        EXIT_ERROR
    }
}

/// The exit code of a failed `diff`: 1 only for differences found, 3 for verification, 4 for
/// anything else.
pub fn diff_exit_code_for(err: &anyhow::Error) -> i32 {
    if err.is::<DifferencesFound>() {
        EXIT_DIFFERENCES
    } else if err.chain().any(|cause| cause.is::<VerifyError>()) {
        EXIT_VERIFY
    } else {
        EXIT_DIFF_ERROR
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn diff_tells_differences_from_errors() {
        let found: anyhow::Error = DifferencesFound { count: 2 }.into();
        assert_eq!(diff_exit_code_for(&found), 1);
        assert_eq!(diff_exit_code_for(&anyhow::anyhow!("no route to host")), 4);
        assert_eq!(exit_code_for(&anyhow::anyhow!("no route to host")), 1);
        let verify: anyhow::Error = Err::<(), _>(VerifyError::NoneVerified {
            env: "e".into(),
            store: "s".into(),
            count: 1,
            trust: "keys".into(),
        })
        .context("opening")
        .unwrap_err();
        assert_eq!(diff_exit_code_for(&verify), 3);
    }

    #[test]
    fn verification_failures_map_to_exit_3_even_when_wrapped() {
        let err: anyhow::Error = Err::<(), _>(VerifyError::DigestMismatch {
            what: "a".into(),
            path: "objects/1.yaml".into(),
        })
        .context("restoring")
        .unwrap_err();
        assert_eq!(exit_code_for(&err), EXIT_VERIFY);
        assert_eq!(exit_code_for(&anyhow::anyhow!("disk full")), EXIT_ERROR);
    }
}
