//! The artifact reader on arbitrary bytes: whatever an attacker who controls the bucket puts
//! there (after a signature check they passed, since the reader must hold even for a signed
//! hostile archive), opening and reading every member must fail cleanly or succeed — never
//! panic, never exceed the limits.
//!
//! The first byte picks the layer: odd, the input is the artifact as stored (zstd); even, the
//! rest is a plain tar that the target compresses first, so mutations reach the manifest and
//! the objects (the catalog checks of `artifact::validate`) instead of dying in zstd framing.
//! `fuzz/seed` makes tar seeds whose manifest names prod/20261126T000000.000Z-000000.
#![no_main]

use std::io::{Seek, Write};

use libfuzzer_sys::fuzz_target;
use routevault::artifact::read::{Limits, Verification};
use routevault::artifact::VerifiedArtifact;

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode % 2 == 1 {
        rest.to_vec()
    } else {
        zstd::encode_all(rest, 1).expect("compressing in memory")
    };
    let mut file = tempfile::tempfile().expect("temp file");
    file.write_all(&bytes).expect("write");
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
