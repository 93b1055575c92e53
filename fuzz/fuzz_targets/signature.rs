//! The detached signature file on arbitrary bytes: parse errors only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = routevault::sign::SignatureFile::parse(data, "fuzz.sig");
    let _ = routevault::sign::parse_trusted_key(&String::from_utf8_lossy(data));
});
