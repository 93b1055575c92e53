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
}
