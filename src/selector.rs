//! kubectl's label selector syntax (`-l`): parsed once, at the command line, into kube-core's
//! [`Selector`] — kube-core matches and prints selectors but has no parser. The printed form
//! is what the API server receives as `labelSelector`, so the server filters what it can and
//! the same selector matches locally (folders, and kinds listed unfiltered).
//!
//! Grammar (as `k8s.io/apimachinery/pkg/labels`): requirements joined by commas, all of which
//! must hold; each is `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)` or `k notin (a,b)`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kube::core::{Expression, Selector, SelectorExt};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("label selector {selector:?}: {reason}")]
pub struct SelectorError {
    pub selector: String,
    pub reason: String,
}

/// A parsed label selector. Serialises as its canonical text (kept in manifests).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LabelSelector(Selector);

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let invalid = |reason: &str| SelectorError {
            selector: text.to_string(),
            reason: reason.to_string(),
        };
        let mut selector = Selector::default();
        if text.trim().is_empty() {
            // As kubectl's `-l ''`: no requirement, everything matches.
            return Ok(Self(selector));
        }
        for clause in split_top_level(text) {
            let clause = clause.trim();
            if clause.is_empty() {
                return Err(invalid("empty requirement (stray comma?)"));
            }
            selector.extend(requirement(clause).map_err(&invalid)?);
        }
        Ok(Self(selector))
    }

    /// A selector written in an object (`{matchLabels, matchExpressions}`, as in a Gateway's
    /// `allowedRoutes.namespaces.selector`); `None` when it is malformed.
    pub fn from_object(value: &serde_json::Value) -> Option<Self> {
        let api: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
            serde_json::from_value(value.clone()).ok()?;
        Selector::try_from(api).ok().map(Self)
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.matches(labels)
    }

    /// kube-core's form, for `ListParams::labels_from`.
    pub fn selector(&self) -> &Selector {
        &self.0
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = SelectorError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for LabelSelector {
    type Error = SelectorError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<LabelSelector> for String {
    fn from(selector: LabelSelector) -> Self {
        selector.to_string()
    }
}

fn requirement(clause: &str) -> Result<Expression, &'static str> {
    if let Some(key) = clause.strip_prefix('!') {
        return Ok(Expression::DoesNotExist(
            label_key(key).ok_or("bad key after '!'")?,
        ));
    }
    if let Some((key, values)) = split_set(clause, " notin ") {
        return Ok(Expression::NotIn(
            label_key(key).ok_or("bad key before 'notin'")?,
            parse_set(values).ok_or("values must be label values in parentheses: notin (a,b)")?,
        ));
    }
    if let Some((key, values)) = split_set(clause, " in ") {
        return Ok(Expression::In(
            label_key(key).ok_or("bad key before 'in'")?,
            parse_set(values).ok_or("values must be label values in parentheses: in (a,b)")?,
        ));
    }
    if let Some((key, value)) = clause.split_once("!=") {
        return Ok(Expression::NotEqual(
            label_key(key).ok_or("bad key before '!='")?,
            label_value(value).ok_or("bad value after '!='")?,
        ));
    }
    if let Some((key, value)) = clause.split_once("==").or_else(|| clause.split_once('=')) {
        return Ok(Expression::Equal(
            label_key(key).ok_or("bad key before '='")?,
            label_value(value).ok_or("bad value after '='")?,
        ));
    }
    Ok(Expression::Exists(
        label_key(clause).ok_or("bad label key")?,
    ))
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_set<'a>(clause: &'a str, operator: &str) -> Option<(&'a str, &'a str)> {
    clause
        .split_once(operator)
        .map(|(k, v)| (k.trim(), v.trim()))
}

fn parse_set(values: &str) -> Option<BTreeSet<String>> {
    let inner = values.strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(label_value)
        .collect()
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters of alphanumerics, `-`, `_` and `.`.
fn label_key(key: &str) -> Option<String> {
    let key = key.trim();
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    });
    (prefix_ok && label_name(name)).then(|| key.to_string())
}

/// A label value: empty, or a name as in [`label_key`].
fn label_value(value: &str) -> Option<String> {
    let value = value.trim();
    (value.is_empty() || label_name(value)).then(|| value.to_string())
}

fn label_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !name.is_empty()
        && name.len() <= 63
        && edge(name.chars().next())
        && edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_like_kubectl() {
        let on = labels(&[("app", "web"), ("tier", "front")]);
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&on);
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("!missing"));
        assert!(m("tier in (front, back)"));
        assert!(!m("tier notin (front)"));
        assert!(m("missing notin (x)"));
        assert!(m("app.kubernetes.io/name notin (x)"));
        assert!(m(""));
        for bad in [
            "app=web,",
            "tier in front",
            "a b=c",
            "app=we b",
            "-app=web",
            "Example.COM/app=x",
        ] {
            let err = LabelSelector::parse(bad).unwrap_err();
            assert_eq!(err.selector, bad, "{err}");
        }
    }

    #[test]
    fn the_text_sent_to_the_server_is_canonical() {
        let s = LabelSelector::parse(" app == web , tier in (b,a), !old").unwrap();
        assert_eq!(s.to_string(), "app=web,tier in (a,b),!old");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"app=web,tier in (a,b),!old\"");
        assert_eq!(serde_json::from_str::<LabelSelector>(&json).unwrap(), s);
        assert!(serde_json::from_str::<LabelSelector>("\"a b\"").is_err());
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9]{0,8}",
            "[a-z]{1,5}\\.(io|com)/[a-z][a-z0-9-]{0,6}[a-z0-9]",
        ]
    }
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z0-9]([a-z0-9._-]{0,6}[a-z0-9])?"]
    }
    fn expression() -> impl Strategy<Value = Expression> {
        prop_oneof![
            (key(), value()).prop_map(|(k, v)| Expression::Equal(k, v)),
            (key(), value()).prop_map(|(k, v)| Expression::NotEqual(k, v)),
            key().prop_map(Expression::Exists),
            key().prop_map(Expression::DoesNotExist),
            (
                key(),
                proptest::collection::btree_set(
                    value().prop_filter("non-empty", |v| !v.is_empty()),
                    1..4
                )
            )
                .prop_map(|(k, vs)| Expression::In(k, vs)),
            (
                key(),
                proptest::collection::btree_set(
                    value().prop_filter("non-empty", |v| !v.is_empty()),
                    1..4
                )
            )
                .prop_map(|(k, vs)| Expression::NotIn(k, vs)),
        ]
    }

    proptest! {
        /// Printing a selector and parsing the text gives the same selector, and it matches
        /// exactly what kube-core's evaluation of the expressions matches.
        #[test]
        fn printed_selectors_parse_back(
            expressions in proptest::collection::vec(expression(), 1..5),
            on in proptest::collection::btree_map(key(), value(), 0..4),
        ) {
            let expected: Selector = expressions.iter().cloned().collect();
            let text = expected.to_string();
            let parsed = LabelSelector::parse(&text).unwrap();
            prop_assert_eq!(parsed.selector(), &expected);
            prop_assert_eq!(parsed.matches(&on), expected.matches(&on));
        }

        /// Any text either parses or fails with an error naming it; never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "[ -~]{0,40}") {
            if let Err(err) = LabelSelector::parse(&text) {
                prop_assert_eq!(err.selector, text);
            }
        }
    }
}
