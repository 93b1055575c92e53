//! Retries for API requests, respecting the API server's back-pressure: 429 waits the time the
//! server asks for (Retry-After, which kube-apiserver also puts in the Status details), 5xx and
//! transport errors back off exponentially. Anything else fails at once.

use std::future::Future;
use std::time::Duration;

/// How many times a request is tried in all.
pub const ATTEMPTS: u32 = 8;

/// Whether an error is worth retrying, and how long the server asked us to wait.
pub fn classify(err: &kube::Error) -> Option<Option<Duration>> {
    match err {
        kube::Error::Api(status) => match status.code {
            429 => Some(
                status
                    .details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s))),
            ),
            // Server-side apply answers 500 for an object its schema cannot hold ("field not
            // declared in schema"): a property of the object, not of the server's health.
            500 if is_schema_mismatch(&status.message) => None,
            500 | 502 | 503 | 504 => Some(None),
            _ => None,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(None),
        _ => None,
    }
}

/// Whether a 500's message says the object does not fit the served schema.
fn is_schema_mismatch(message: &str) -> bool {
    message.contains("field not declared in schema")
        || message.contains("failed to create typed patch object")
}

/// Exponential backoff with jitter: 200 ms, 400 ms, ... capped at 10 s.
pub fn backoff(attempt: u32) -> Duration {
    let base = 200u64.saturating_mul(1 << attempt.min(6)).min(10_000);
    let mut jitter = [0u8; 2];
    let _ = getrandom::fill(&mut jitter);
    Duration::from_millis(base / 2 + u64::from(u16::from_le_bytes(jitter)) % (base / 2 + 1))
}

/// Runs `request` until it succeeds, fails for good, or runs out of attempts.
pub async fn with_retry<T, F, Fut>(what: &str, mut request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        match request().await {
            Ok(value) => return Ok(value),
            Err(err) => {
                attempt += 1;
                let Some(asked) = classify(&err) else {
                    return Err(err);
                };
                if attempt >= ATTEMPTS {
                    return Err(err);
                }
                let wait = asked.unwrap_or_else(|| backoff(attempt));
                tracing::warn!(request = what, attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, retry_after: Option<i32>) -> kube::Error {
        let mut status = kube::core::Status::failure("x", "y").with_code(code);
        if let Some(seconds) = retry_after {
            status.details = Some(
                serde_json::from_value(serde_json::json!({"retryAfterSeconds": seconds})).unwrap(),
            );
        }
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn back_pressure_is_retried_and_client_errors_are_not() {
        assert_eq!(
            classify(&api(429, Some(3))),
            Some(Some(Duration::from_secs(3)))
        );
        assert_eq!(classify(&api(429, None)), Some(None));
        assert_eq!(classify(&api(503, None)), Some(None));
        assert_eq!(classify(&api(500, None)), Some(None));
        assert_eq!(classify(&api(400, None)), None);
        assert_eq!(classify(&api(422, None)), None);
        // What kube-apiserver answers when an applied Ingress carries a removed field.
        let undeclared = kube::core::Status::failure(
            "failed to create typed patch object (/web; networking.k8s.io/v1, Kind=Ingress): \
             .spec.backend: field not declared in schema",
            "InternalError",
        )
        .with_code(500);
        assert_eq!(classify(&kube::Error::Api(Box::new(undeclared))), None);
        assert_eq!(classify(&api(403, None)), None);
        assert_eq!(classify(&api(404, None)), None);
        assert!(backoff(1) <= Duration::from_millis(400) && backoff(20) <= Duration::from_secs(10));
    }

    #[tokio::test]
    async fn retries_until_success() {
        let mut calls = 0;
        let result = with_retry("t", || {
            calls += 1;
            let fail = calls < 3;
            async move { if fail { Err(api(429, Some(0))) } else { Ok(7) } }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls, 3);
        let mut forbidden = 0;
        let result: Result<(), _> = with_retry("t", || {
            forbidden += 1;
            async { Err(api(403, None)) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(forbidden, 1);
    }
}
