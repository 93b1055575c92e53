//! All YAML reading and writing. Nothing else in the crate touches serde_yaml, so the YAML
//! dialect and its quirks live in one place.

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum YamlError {
    /// `document` counts from 1, in file order, as editors and kubectl report it.
    #[error("document {document}: {message}")]
    Parse { document: usize, message: String },
}

/// Parses every document of a (possibly multi-document) YAML stream. Empty documents (a
/// stray `---`, a file of comments) are dropped; each returned value carries its 1-based
/// document number for error messages.
pub fn parse_documents(text: &str) -> Result<Vec<(usize, Value)>, YamlError> {
    check_flow_depth(text)?;
    let mut out = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let number = index + 1;
        let value = Value::deserialize(document).map_err(|e| YamlError::Parse {
            document: number,
            message: e.to_string(),
        })?;
        if !value.is_null() {
            out.push((number, value));
        }
    }
    Ok(out)
}

/// Deeper flow nesting (`[`, `{`) than any Kubernetes object needs.
pub const MAX_FLOW_DEPTH: usize = 64;

/// Refuses flow collections nested deeper than [`MAX_FLOW_DEPTH`] before the YAML parser sees
/// them, in one linear pass: libyaml's simple-key search makes inputs like `a: [a: [a: [...`
/// quadratic (100,000 levels took 48 s) long before its recursion limit stops it. Quoted
/// scalars and comments are skipped so brackets inside them do not count.
fn check_flow_depth(text: &str) -> Result<(), YamlError> {
    // Bytes, not chars: every character this looks for is ASCII, and no byte of a multi-byte
    // UTF-8 character is (decoding chars cost 5-12% of `verify` and `snapshot --from-dir`).
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut document = 1;
    let mut line = 1;
    let mut previous = b'\n';
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        at += 1;
        let starts_token = matches!(previous, b' ' | b'\t' | b'\n' | b'[' | b'{' | b',' | b':');
        match c {
            b'\n' => {
                line += 1;
                if at_document_marker(&bytes[at..]) {
                    document += 1;
                }
            }
            b'#' if matches!(previous, b' ' | b'\t' | b'\n') => {
                at += bytes[at..]
                    .iter()
                    .position(|&n| n == b'\n')
                    .unwrap_or(bytes.len() - at);
            }
            b'"' if starts_token => {
                while let Some(&n) = bytes.get(at) {
                    at += 1;
                    match n {
                        b'\\' => at += 1,
                        b'"' => break,
                        b'\n' => line += 1,
                        _ => {}
                    }
                }
            }
            b'\'' if starts_token => {
                while let Some(&n) = bytes.get(at) {
                    at += 1;
                    match n {
                        b'\'' if bytes.get(at) == Some(&b'\'') => at += 1,
                        b'\'' => break,
                        b'\n' => line += 1,
                        _ => {}
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err(YamlError::Parse {
                        document,
                        message: format!(
                            "flow collections ([ or {{) nested deeper than {MAX_FLOW_DEPTH} levels at line {line}"
                        ),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    Ok(())
}

/// Whether the text after a newline starts with a `---` document marker.
fn at_document_marker(rest: &[u8]) -> bool {
    rest.starts_with(b"---") && rest.get(3).is_none_or(|c| c.is_ascii_whitespace())
}

/// Serialises one object as a YAML document, in block style, that YAML 1.1 readers (kubectl,
/// everything built on go-yaml v2) and YAML 1.2 readers read back identically. Map keys come
/// out sorted (serde_json's map is ordered), so equal values give byte-identical text.
///
/// Why not serde_yaml's writer: it writes YAML 1.2, where `on`, `yes`, `y`, `1_000`, `1:20`
/// or `2026-11-26` are plain strings; kubectl reads them as booleans, numbers and dates, and
/// refuses the manifest (an ingress-nginx `auth-tls-verify-client: "on"` annotation). Here a
/// string is written plain only when it cannot be anything but a string in either version;
/// every other string is double-quoted, and multi-line strings are literal blocks.
pub fn to_string(value: &Value) -> String {
    // Everything is appended to one String: a document is written with no allocation but
    // its own growth (the writer was a sizeable share of a snapshot's malloc calls when every
    // key, scalar and indentation was a String of its own).
    let mut out = String::with_capacity(1024);
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        scalar => {
            write_inline(&mut out, scalar);
            out.push('\n');
        }
    }
    out
}

fn indent_to(out: &mut String, indent: usize) {
    const SPACES: &str = "                                ";
    let mut left = indent;
    while left > 0 {
        let step = left.min(SPACES.len());
        out.push_str(&SPACES[..step]);
        left -= step;
    }
}

fn write_map(
    out: &mut String,
    map: &serde_json::Map<String, Value>,
    indent: usize,
    inline_first: bool,
) {
    for (index, (key, value)) in map.iter().enumerate() {
        if index > 0 || !inline_first {
            indent_to(out, indent);
        }
        write_string(out, key);
        out.push(':');
        write_nested(out, value, indent, indent + 2);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize, inline_first: bool) {
    for (index, item) in items.iter().enumerate() {
        if index > 0 || !inline_first {
            indent_to(out, indent);
        }
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                out.push(' ');
                write_map(out, map, indent + 2, true);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push(' ');
                write_seq(out, inner, indent + 2, true);
            }
            _ => write_nested(out, item, indent, indent + 2),
        }
    }
}

/// Writes what follows a `key:` or `-`: a scalar on the same line, or a nested collection or
/// literal block on the lines after. A sequence under a key sits at the key's indentation,
/// as kubectl writes it.
fn write_nested(out: &mut String, value: &Value, key_indent: usize, child_indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, child_indent, false);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, key_indent, false);
        }
        Value::String(text) if literal_block_fits(text) => {
            let body = text.trim_end_matches('\n');
            out.push_str(match text.len() - body.len() {
                0 => " |-\n",
                1 => " |\n",
                _ => " |+\n",
            });
            for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
                if !line.is_empty() {
                    indent_to(out, child_indent);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        scalar => {
            out.push(' ');
            write_inline(out, scalar);
            out.push('\n');
        }
    }
}

/// A multi-line string that a literal block keeps exactly: printable, no carriage return, not
/// starting with a space or a blank line (which would need an indentation indicator).
fn literal_block_fits(text: &str) -> bool {
    text.contains('\n')
        && !text.starts_with([' ', '\n'])
        && text.chars().all(|c| c == '\n' || yaml_printable(c))
}

/// A scalar or empty collection on one line.
fn write_inline(out: &mut String, value: &Value) {
    use std::fmt::Write as _;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            // Writing into a String cannot fail.
            let _ = write!(out, "{n}");
        }
        Value::String(text) => write_string(out, text),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// Words YAML 1.1 reads as booleans or null, in any case.
const YAML11_WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null"];

/// A string, plain when that is unambiguous in YAML 1.1 and 1.2, else double-quoted (JSON's
/// string escapes are valid in a YAML double-quoted scalar).
fn write_string(out: &mut String, text: &str) {
    let mut bytes = text.bytes();
    let plain = bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-'))
        && !YAML11_WORDS
            .iter()
            .any(|word| word.eq_ignore_ascii_case(text));
    if plain {
        out.push_str(text);
    } else {
        write_double_quoted(out, text);
    }
}

/// A YAML double-quoted scalar: every character YAML does not allow raw is escaped. Runs of
/// printable ASCII (all of a sealed value, a certificate or a JSON annotation but its quotes)
/// are copied whole rather than character by character.
fn write_double_quoted(out: &mut String, text: &str) {
    use std::fmt::Write as _;
    out.reserve(text.len() + 2);
    out.push('"');
    let mut rest = text;
    while !rest.is_empty() {
        let run = rest
            .bytes()
            .position(|b| !matches!(b, 0x20..=0x7E) || b == b'"' || b == b'\\')
            .unwrap_or(rest.len());
        out.push_str(&rest[..run]);
        rest = &rest[run..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if yaml_printable(c) => out.push(c),
            // Writing into a String cannot fail.
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
}

/// YAML's printable set (1.1 and 1.2), without the line breaks and tab handled by escapes;
/// U+FEFF (a byte order mark) and U+0085 (next line, a break in YAML 1.1) are escaped too.
fn yaml_printable(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFEFE | 0xFF00..=0xFFFD | 0x10000..=0x10FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_document_streams_skip_empty_documents_and_number_the_rest() {
        let docs = parse_documents("---\n# only a comment\n---\na: 1\n---\nb: [x]\n---\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].1, json!({"a": 1}));
        assert_eq!(docs[1].1, json!({"b": ["x"]}));
    }

    #[test]
    fn a_broken_document_is_named_by_number() {
        let err = parse_documents("a: 1\n---\nb: [unclosed\n").unwrap_err();
        assert!(matches!(err, YamlError::Parse { document: 2, .. }), "{err}");
    }

    #[test]
    fn output_is_deterministic_and_round_trips() {
        let value = json!({"z": 1, "a": {"y": "on", "b": "0123", "c": true}});
        let text = to_string(&value);
        assert_eq!(text, to_string(&value.clone()));
        assert!(text.find("a:").unwrap() < text.find("z:").unwrap());
        assert_eq!(parse_documents(&text).unwrap()[0].1, value);
    }

    #[test]
    fn strings_yaml_1_1_reads_as_something_else_are_quoted() {
        let ambiguous = [
            "on",
            "On",
            "OFF",
            "yes",
            "Y",
            "n",
            "No",
            "true",
            "False",
            "null",
            "~",
            "1_000",
            "1:20",
            "2026-11-26",
            "0x1F",
            "0o17",
            "=",
            "<<",
            "",
            " lead",
            ".inf",
            "-",
            "12",
            "1e3",
            "@x",
            "a: b",
            "a #b",
            "*ref",
            "&a",
            "!tag",
            "%x",
            "[x]",
            "{x}",
            "'q'",
        ];
        for text in ambiguous {
            let written = to_string(&json!({ "k": text }));
            assert!(
                written.starts_with("k: \""),
                "{text:?} written as {written:?}"
            );
            assert_eq!(parse_documents(&written).unwrap()[0].1["k"], text);
        }
        for plain in [
            "nginx",
            "web-tls",
            "Prefix",
            "nginx.ingress.kubernetes.io/auth",
            "a.b_c",
        ] {
            assert_eq!(to_string(&json!({ "k": plain })), format!("k: {plain}\n"));
        }
        // Keys follow the same rule: an annotation named `on` stays a string key.
        let written = to_string(&json!({"on": {"y": 1}}));
        assert_eq!(written, "\"on\":\n  \"y\": 1\n");
    }

    #[test]
    fn block_layout_is_kubectl_like() {
        let value = json!({"metadata": {"annotations": {"snippet": "line 1\n  line 2\n"}, "name": "web"},
            "spec": {"ports": [{"name": "http", "port": 80}, {"port": 443}], "empty": {}, "none": [],
                     "nested": [[1, 2], ["x"]], "tls": [{"hosts": ["a.example.com"]}]}});
        let text = to_string(&value);
        assert_eq!(
            text,
            "metadata:\n  annotations:\n    snippet: |\n      line 1\n        line 2\n  name: web\n\
             spec:\n  empty: {}\n  nested:\n  - - 1\n    - 2\n  - - x\n  none: []\n  ports:\n  \
             - name: http\n    port: 80\n  - port: 443\n  tls:\n  - hosts:\n    - a.example.com\n"
        );
        assert_eq!(parse_documents(&text).unwrap()[0].1, value);
    }

    #[test]
    fn deep_nesting_indents_past_the_spaces_written_at_once() {
        let mut value = json!({"leaf": "x\ny\n", "list": [1, {"k": "on"}]});
        for level in 0..24 {
            value = json!({ format!("l{level}"): value });
        }
        let text = to_string(&value);
        assert!(
            text.contains(&format!("\n{}leaf: |\n", " ".repeat(48))),
            "{text}"
        );
        assert!(text.contains(&format!("\n{}x\n", " ".repeat(50))), "{text}");
        assert_eq!(parse_documents(&text).unwrap()[0].1, value);
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "(?s).{0,12}".prop_map(Value::String),
            "[a-z0-9 :#\n-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z0-9 ._/:-]{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_value_reads_back_as_written(value in json_value()) {
            let text = to_string(&value);
            let parsed = parse_documents(&text).unwrap();
            let back = parsed.first().map(|(_, v)| v.clone()).unwrap_or(Value::Null);
            proptest::prop_assert_eq!(back, value, "{}", text);
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_in_linear_time_and_quoted_brackets_do_not_count() {
        // 100,000 levels of `a: [` took 48 s in libyaml before this check.
        let hostile = "a: [".repeat(100_000);
        let err = parse_documents(&hostile).unwrap_err().to_string();
        assert!(err.contains("nested deeper than 64"), "{err}");
        let second = format!("a: 1\n---\nb: {}", "{".repeat(65));
        let err = parse_documents(&second).unwrap_err().to_string();
        assert!(err.starts_with("document 2:"), "{err}");
        let fine = format!(
            "a: \"{0}\"\nb: '{0}'\nc: [1, [2, {{d: 3}}]] # {0}\n",
            "[".repeat(200)
        );
        let parsed = parse_documents(&fine).unwrap();
        assert_eq!(parsed[0].1["c"][1][1]["d"], 3);
        let nested_ok = format!("x: {}1{}", "[".repeat(64), "]".repeat(64));
        assert!(parse_documents(&nested_ok).is_ok());
        // Escaped and doubled quotes do not end a scalar early; multi-byte characters neither
        // hide nor make a bracket; the line is counted through quoted scalars.
        let quoted = format!(
            "a: \"é\\\"{0}\"\nb: 'it''s {0}'\nc: «{0}»\n",
            "[".repeat(70)
        );
        let err = parse_documents(&quoted).unwrap_err().to_string();
        assert!(err.contains("at line 3"), "{err}");
        let fine = format!("a: \"é\\\"{0}\"\nb: 'it''s {0}'\n", "[".repeat(70));
        let parsed = parse_documents(&fine).unwrap();
        assert_eq!(parsed[0].1["b"], format!("it's {}", "[".repeat(70)));
    }
}
