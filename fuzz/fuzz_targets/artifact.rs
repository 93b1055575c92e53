//! The artifact reader on arbitrary bytes: whatever an attacker who controls the bucket puts
//! there (after a signature check they passed, since the reader must hold even for a signed
//! hostile archive), opening and reading every member must fail cleanly or succeed — never
//! panic, never exceed the limits.
#![no_main]

use std::io::{Seek, Write};

use libfuzzer_sys::fuzz_target;
use routevault::artifact::read::{Limits, Verification};
use routevault::artifact::VerifiedArtifact;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::tempfile().expect("temp file");
    file.write_all(data).expect("write");
    file.rewind().expect("rewind");
    let limits = Limits {
        max_artifact_bytes: 1 << 20,
        max_unpacked_bytes: 4 << 20,
    };
    if let Ok(artifact) =
        VerifiedArtifact::open(file, Verification::Skip, "prod", "20261126T000000.000Z-000000", limits, "fuzz")
    {
        let _ = artifact.check_all();
    }
});
