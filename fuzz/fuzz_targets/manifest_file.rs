//! The manifest-folder parser (`snapshot --from-dir`) on arbitrary text, as YAML and as JSON:
//! an error naming the file and document, or objects — never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = routevault::source::dir::parse_file(Path::new("fuzz.yaml"), text);
    let _ = routevault::source::dir::parse_file(Path::new("fuzz.json"), text);
});
