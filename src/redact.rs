//! Credentials never reach a log line. At debug and trace levels the AWS SDK, hyper and kube
//! print requests, headers included: SigV4 `authorization` values, `x-amz-security-token`
//! (STS / IRSA session tokens), presigned `X-Amz-Signature`, Kubernetes bearer tokens. Every
//! log line passes through [`redact`] on its way out (progress::LogWriter), whatever crate
//! wrote it and at whatever level.

use std::borrow::Cow;

/// Names whose values are secret, lowercase.
const SECRET_NAMES: &[&str] = &[
    "authorization",
    "x-amz-security-token",
    "x-amz-signature",
    "aws_secret_access_key",
    "secret_access_key",
    "aws_session_token",
    "session_token",
];

const MASK: &str = "[redacted]";

/// The line with the value after every secret name replaced by `[redacted]`. The value is
/// what follows the name and its separator (`": "`, `=`, `: `, JSON-escaped quotes): up to
/// the closing quote when quoted, the end of the line for a bare `Authorization:`, else up to
/// a space, comma, `&` or `;`.
pub fn redact(line: &str) -> Cow<'_, str> {
    let lower = line.to_ascii_lowercase();
    if !SECRET_NAMES.iter().any(|name| lower.contains(name)) {
        return Cow::Borrowed(line);
    }
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        let Some(name) = SECRET_NAMES
            .iter()
            .find(|name| lower[at..].starts_with(*name))
        else {
            at += 1;
            continue;
        };
        let mut value = at + name.len();
        let mut quoted = false;
        let mut separated = false;
        while value < bytes.len()
            && matches!(bytes[value], b'"' | b'\'' | b'\\' | b':' | b'=' | b' ')
        {
            separated |= matches!(bytes[value], b':' | b'=');
            quoted |= separated && matches!(bytes[value], b'"' | b'\'');
            value += 1;
        }
        if !separated {
            at += name.len();
            continue;
        }
        // A Debug wrapper before the quoted value: `HeaderValue { _private: H0("...") }`.
        if !quoted
            && let Some(offset) = bytes[value..bytes.len().min(value + 48)]
                .iter()
                .position(|c| matches!(c, b'"' | b',' | b'}' | b'\n'))
                .filter(|&i| bytes[value + i] == b'"')
        {
            value += offset + 1;
            quoted = true;
        }
        // An unquoted Authorization value is a scheme, a space and credentials: to the end.
        let whole_line = !quoted && *name == "authorization";
        let mut end = value;
        while end < bytes.len() {
            let c = bytes[end];
            let stop = if quoted || whole_line {
                matches!(c, b'"' | b'\'' | b'\\' | b'\n')
            } else {
                matches!(c, b' ' | b',' | b'&' | b';' | b'"' | b'\\' | b'\n')
            };
            if stop {
                break;
            }
            end += 1;
        }
        if end > value {
            out.push_str(&line[copied..value]);
            out.push_str(MASK);
            copied = end;
        }
        at = end.max(at + 1);
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_masked_in_every_shape() {
        let sig = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261126/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd";
        for line in [
            format!(
                "headers: {{\"authorization\": \"{sig}\", \"x-amz-date\": \"20261126T000000Z\"}}"
            ),
            format!(
                "{{\"fields\":{{\"message\":\"headers {{\\\"authorization\\\": \\\"{sig}\\\"}}\"}}}}"
            ),
            format!("Authorization: {sig}\n"),
            "x-amz-security-token=IQoJb3JpZ2luX2VjEXAMPLETOKEN&x-amz-date=1".to_string(),
            "GET /b/k?X-Amz-Signature=deadbeef&X-Amz-Expires=60".to_string(),
            "authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig".to_string(),
            format!("{{\"authorization\": HeaderValue {{ _private: H0(\"{sig}\") }}, \"x\": 1}}"),
        ] {
            let out = redact(&line);
            for secret in [
                "Signature=0123abcd",
                "AKIAEXAMPLE",
                "EXAMPLETOKEN",
                "deadbeef",
                "eyJhbGci",
            ] {
                assert!(!out.contains(secret), "{secret} survived in {out}");
            }
            assert!(out.contains(MASK), "{out}");
        }
        let line =
            format!("{{\"authorization\": \"{sig}\", \"x-amz-date\": \"20261126T000000Z\"}}");
        let out = redact(&line);
        assert!(out.contains("x-amz-date\": \"20261126T000000Z"), "{out}");
        assert_eq!(
            redact("authorization failed for the bucket"),
            "authorization failed for the bucket"
        );
        assert_eq!(redact("plain line"), "plain line");
    }
}
