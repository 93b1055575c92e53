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
    #[error("cannot write YAML: {0}")]
    Write(String),
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
    let mut depth = 0usize;
    let mut document = 1;
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let mut previous = '\n';
    while let Some(c) = chars.next() {
        let starts_token = matches!(previous, ' ' | '\t' | '\n' | '[' | '{' | ',' | ':');
        match c {
            '\n' => {
                line += 1;
                if chars.peek() == Some(&'-') && text_at_document_marker(&mut chars.clone()) {
                    document += 1;
                }
            }
            '#' if matches!(previous, ' ' | '\t' | '\n') => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '"' if starts_token => {
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '\'' if starts_token => {
                while let Some(n) = chars.next() {
                    match n {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                        }
                        '\'' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
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
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    Ok(())
}

/// Whether the characters after a newline are a `---` document marker.
fn text_at_document_marker(rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let marker: String = rest.take(3).collect();
    marker == "---" && rest.next().is_none_or(|c| c.is_whitespace())
}

/// Serialises one object as a YAML document. Map keys come out sorted (serde_json's map is
/// ordered), so equal values give byte-identical text.
pub fn to_string(value: &Value) -> Result<String, YamlError> {
    serde_yaml::to_string(value).map_err(|e| YamlError::Write(e.to_string()))
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
        let text = to_string(&value).unwrap();
        assert_eq!(text, to_string(&value.clone()).unwrap());
        assert!(text.find("a:").unwrap() < text.find("z:").unwrap());
        assert_eq!(parse_documents(&text).unwrap()[0].1, value);
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
    }
}
