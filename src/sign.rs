//! Signing keys, trusted keys, key ids, and the detached signature of an artifact.
//!
//! A signature covers a domain-separated message naming the environment, the snapshot id and
//! the SHA-256 of the artifact bytes (see docs/artifact-format.md), so a signature cannot be
//! moved to another artifact, another id or another environment.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::error::VerifyError;

/// Domain separation for artifact signatures, format version 1.
pub const SIGNATURE_DOMAIN: &[u8] = b"routevault/artifact-signature/v1\0";
/// The `format` field of a signature file.
pub const SIGNATURE_FORMAT: &str = "routevault.dev/signature/v1";
/// A signature file is small; anything bigger is hostile.
pub const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot use the private key {path}: {reason}")]
    Private { path: PathBuf, reason: String },
    #[error(
        "{path} is not an ed25519 {what} in PEM form ({reason}); make keys with `routevault keygen`"
    )]
    Parse {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error(
        "no trusted keys found at {path}: put one or more *.sign.pub files there, or pass --trust FILE_OR_DIR"
    )]
    NoTrustedKeys { path: PathBuf },
}

/// A short, stable name for a public key: the first 16 hex digits of SHA-256 of its 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyId(pub String);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn key_id(key: &VerifyingKey) -> KeyId {
    let digest = Sha256::digest(key.as_bytes());
    KeyId(hex::encode(&digest[..8]))
}

/// A fresh signing key from the operating system's random source.
pub fn generate_signing_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system's random source failed");
    SigningKey::from_bytes(&seed)
}

/// PKCS#8 PEM of a private key, and the SubjectPublicKeyInfo PEM of its public key.
pub fn encode_key_pair(key: &SigningKey) -> (String, String) {
    let private = key
        .to_pkcs8_pem(Default::default())
        .expect("an ed25519 key always encodes")
        .to_string();
    let public = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .expect("an ed25519 key always encodes");
    (private, public)
}

pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = crate::keyfile::read_private(path).map_err(|reason| KeyError::Private {
        path: path.into(),
        reason,
    })?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyError::Parse {
        path: path.into(),
        what: "private key",
        reason: e.to_string(),
    })
}

/// The header line that retires a key: it stays trusted only for signatures the store
/// received before this time.
pub const NOT_AFTER_HEADER: &str = "# not-after:";

/// A `.sign.pub` file: optional `#` header lines (one may be `# not-after: RFC3339`), then
/// the PEM public key.
pub fn load_trusted_key(path: &Path) -> Result<(VerifyingKey, Option<jiff::Timestamp>), KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.into(),
        source,
    })?;
    parse_trusted_key(&text).map_err(|reason| KeyError::Parse {
        path: path.into(),
        what: "public key",
        reason,
    })
}

pub fn parse_trusted_key(text: &str) -> Result<(VerifyingKey, Option<jiff::Timestamp>), String> {
    let begin = text
        .find("-----BEGIN")
        .ok_or_else(|| "no -----BEGIN PUBLIC KEY----- block".to_string())?;
    let mut not_after = None;
    for (number, line) in text[..begin]
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        let at = |what: String| format!("line {}: {what}", number + 1);
        let Some(comment) = line.strip_prefix('#') else {
            return Err(at(format!(
                "unexpected text before the key: {:?} (header lines start with #)",
                line.chars().take(40).collect::<String>()
            )));
        };
        // `# word:` is a directive. The only one is `# not-after: TIME`, spelled exactly:
        // a near miss (`#not-after:`, `# Not-After:`, `# not-after :`) would otherwise be read
        // as a comment and leave a retired key fully trusted.
        let Some((word, value)) = comment.split_once(':') else {
            continue; // a plain comment
        };
        let word_trimmed = word.trim();
        if word_trimmed.is_empty()
            || !word_trimmed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            continue; // a comment that happens to hold a colon
        }
        if !line.starts_with(NOT_AFTER_HEADER) {
            return Err(at(format!(
                "unknown or misspelt directive `#{word}:`; the only directive is \
                 `{NOT_AFTER_HEADER} RFC3339-TIME` (write other notes without a colon after the first word)"
            )));
        }
        let stamp: jiff::Timestamp = value.trim().parse().map_err(|e| {
            at(format!(
                "`{NOT_AFTER_HEADER}` needs an RFC 3339 time like 2026-11-20T00:00:00Z ({e})"
            ))
        })?;
        if not_after.replace(stamp).is_some() {
            return Err(at(format!("more than one `{NOT_AFTER_HEADER}` line")));
        }
    }
    let key = VerifyingKey::from_public_key_pem(text[begin..].trim()).map_err(|e| e.to_string())?;
    Ok((key, not_after))
}

/// The keys an operator trusts: one `.sign.pub` file, or every `*.sign.pub` in a folder.
#[derive(Debug, Clone)]
pub struct TrustSet {
    pub source: PathBuf,
    keys: Vec<TrustedKey>,
}

/// One trusted key; a retired one (`not_after`) vouches only for signatures stored before then.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub id: KeyId,
    pub key: VerifyingKey,
    pub file: PathBuf,
    pub not_after: Option<jiff::Timestamp>,
}

impl TrustSet {
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let mut files = Vec::new();
        if path.is_dir() {
            let entries = fs::read_dir(path).map_err(|source| KeyError::Read {
                path: path.into(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| KeyError::Read {
                    path: path.into(),
                    source,
                })?;
                let file = entry.path();
                if file.to_string_lossy().ends_with(".sign.pub") {
                    files.push(file);
                }
            }
            files.sort();
        } else {
            files.push(path.to_path_buf());
        }
        let mut keys: Vec<TrustedKey> = Vec::new();
        for file in files {
            let (key, not_after) = load_trusted_key(&file)?;
            // Two files for one key would let the first by name silently win: one may retire
            // the key and the other not.
            if let Some(earlier) = keys.iter().find(|k| k.key == key) {
                return Err(KeyError::Parse {
                    path: file,
                    what: "public key",
                    reason: format!(
                        "it holds the same key ({}) as {}; keep one file per key",
                        earlier.id,
                        earlier.file.display()
                    ),
                });
            }
            keys.push(TrustedKey {
                id: key_id(&key),
                key,
                file,
                not_after,
            });
        }
        if keys.is_empty() {
            return Err(KeyError::NoTrustedKeys { path: path.into() });
        }
        Ok(Self {
            source: path.into(),
            keys,
        })
    }

    pub fn from_keys(keys: Vec<VerifyingKey>) -> Self {
        Self::from_trusted(
            keys.into_iter()
                .map(|key| TrustedKey {
                    id: key_id(&key),
                    key,
                    file: PathBuf::new(),
                    not_after: None,
                })
                .collect(),
        )
    }

    pub fn from_trusted(keys: Vec<TrustedKey>) -> Self {
        Self {
            source: PathBuf::from("<memory>"),
            keys,
        }
    }

    /// Trusts one more key (fully), unless it is already in the set.
    pub fn add_key(&mut self, key: VerifyingKey) {
        let id = key_id(&key);
        if self.get(&id).is_none() {
            self.keys.push(TrustedKey {
                id,
                key,
                file: PathBuf::new(),
                not_after: None,
            });
        }
    }

    pub fn get(&self, id: &KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| &k.id == id)
    }
}

/// The detached signature object stored beside an artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    pub format: String,
    pub algorithm: String,
    pub key_id: KeyId,
    pub env: String,
    pub id: String,
    pub artifact_sha256: String,
    pub artifact_size: u64,
    pub created: String,
    pub signature: String,
}

/// The exact bytes an ed25519 signature covers.
pub fn signed_message(env: &str, id: &str, artifact_sha256: &[u8; 32]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + env.len() + id.len() + 34);
    message.extend_from_slice(SIGNATURE_DOMAIN);
    message.extend_from_slice(env.as_bytes());
    message.push(0);
    message.extend_from_slice(id.as_bytes());
    message.push(0);
    message.extend_from_slice(artifact_sha256);
    message
}

pub fn sign_artifact(
    key: &SigningKey,
    env: &str,
    id: &str,
    artifact_sha256: &[u8; 32],
    artifact_size: u64,
    created: &str,
) -> SignatureFile {
    let signature = key.sign(&signed_message(env, id, artifact_sha256));
    SignatureFile {
        format: SIGNATURE_FORMAT.into(),
        algorithm: "ed25519".into(),
        key_id: key_id(&key.verifying_key()),
        env: env.into(),
        id: id.into(),
        artifact_sha256: hex::encode(artifact_sha256),
        artifact_size,
        created: created.into(),
        signature: BASE64.encode(signature.to_bytes()),
    }
}

impl SignatureFile {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a signature always serialises");
        bytes.push(b'\n');
        bytes
    }

    /// Parses a signature file; `key` names it in errors.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Self, VerifyError> {
        let malformed = |reason: String| VerifyError::MalformedSignature {
            key: key.into(),
            reason,
        };
        // serde's messages quote what they could not parse: escape, the bytes are unverified.
        let file: SignatureFile = serde_json::from_slice(bytes)
            .map_err(|e| malformed(crate::output::escape(&e.to_string()).into_owned()))?;
        if file.format != SIGNATURE_FORMAT || file.algorithm != "ed25519" {
            return Err(malformed(format!(
                "unknown format {:?} / algorithm {:?}",
                file.format, file.algorithm
            )));
        }
        if !is_valid_key_id(&file.key_id.0) {
            return Err(malformed(format!(
                "key_id {:?} is not 16 hex digits",
                file.key_id.0
            )));
        }
        Ok(file)
    }

    /// Checks this signature against the trusted keys, the expected environment and id, and
    /// the artifact's digest and size. `stored_at` is when the store received the signature;
    /// a retired key vouches only for signatures stored before its `not-after` time (a thief
    /// of the key cannot make the store backdate a new object). `what` names the snapshot.
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        &self,
        trust: &TrustSet,
        expected_env: &str,
        expected_id: &str,
        artifact_sha256: &[u8; 32],
        artifact_size: u64,
        stored_at: Option<jiff::Timestamp>,
        what: &str,
    ) -> Result<KeyId, VerifyError> {
        let key_id = self.verify_claim(trust, expected_env, expected_id, stored_at, what)?;
        if self.artifact_size != artifact_size
            || self.artifact_sha256 != hex::encode(artifact_sha256)
        {
            return Err(VerifyError::BadSignature {
                what: what.into(),
                reason: "the artifact's size or SHA-256 differs from the signed one (altered or truncated artifact)".into(),
            });
        }
        Ok(key_id)
    }

    /// Checks that a trusted key signed this file's claim — this environment, this id and the
    /// SHA-256 the file names — without the artifact. What the store lists can then be ranked
    /// by signed facts alone (which snapshot is `latest`); the artifact's bytes are checked
    /// against the claim when it is opened ([`Self::verify`]).
    pub fn verify_claim(
        &self,
        trust: &TrustSet,
        expected_env: &str,
        expected_id: &str,
        stored_at: Option<jiff::Timestamp>,
        what: &str,
    ) -> Result<KeyId, VerifyError> {
        let bad = |reason: String| VerifyError::BadSignature {
            what: what.into(),
            reason,
        };
        let key = trust
            .get(&self.key_id)
            .ok_or_else(|| VerifyError::UntrustedKey {
                what: what.into(),
                key_id: self.key_id.to_string(),
                trust: trust.source.display().to_string(),
            })?;
        if let Some(not_after) = key.not_after
            && stored_at.is_none_or(|stored| stored >= not_after)
        {
            return Err(VerifyError::RetiredKey {
                what: what.into(),
                key_id: self.key_id.to_string(),
                file: key.file.display().to_string(),
                not_after: not_after.to_string(),
                stored_at: stored_at.map_or_else(|| "an unknown time".into(), |s| s.to_string()),
            });
        }
        if self.env != expected_env || self.id != expected_id {
            return Err(bad(format!(
                "it was made for {}/{}, not {expected_env}/{expected_id} (renamed or moved artifact)",
                crate::output::escape(&self.env),
                crate::output::escape(&self.id)
            )));
        }
        let digest: [u8; 32] = hex::decode(&self.artifact_sha256)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| bad("artifact_sha256 is not 64 hex digits".into()))?;
        let raw = BASE64
            .decode(&self.signature)
            .map_err(|e| bad(format!("signature is not base64: {e}")))?;
        let raw: [u8; 64] = raw
            .try_into()
            .map_err(|_| bad("signature is not 64 bytes".into()))?;
        let signature = Signature::from_bytes(&raw);
        key.key
            .verify_strict(&signed_message(&self.env, &self.id, &digest), &signature)
            .map_err(|_| bad("the ed25519 signature does not verify".into()))?;
        Ok(self.key_id.clone())
    }
}

/// Whether `id` has the shape [`key_id`] makes: 16 lowercase hex digits. A signature file
/// naming anything else is malformed, so an unverified key id can never carry terminal
/// escapes or other text into a message.
pub fn is_valid_key_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem_and_keep_their_id() {
        let key = generate_signing_key();
        let (private, public) = encode_key_pair(&key);
        assert!(private.contains("BEGIN PRIVATE KEY"));
        let back = SigningKey::from_pkcs8_pem(&private).unwrap();
        let public_back = VerifyingKey::from_public_key_pem(&public).unwrap();
        assert_eq!(key_id(&back.verifying_key()), key_id(&public_back));
        assert_eq!(key_id(&public_back).0.len(), 16);
    }

    #[test]
    fn signature_binds_env_id_digest_and_key() {
        let key = generate_signing_key();
        let other = generate_signing_key();
        let trust = TrustSet::from_keys(vec![key.verifying_key()]);
        let digest = [7u8; 32];
        let sig = sign_artifact(&key, "prod", "id1", &digest, 10, "t");
        let parsed = SignatureFile::parse(&sig.to_bytes(), "k").unwrap();
        assert!(
            parsed
                .verify(&trust, "prod", "id1", &digest, 10, None, "s")
                .is_ok()
        );
        assert!(matches!(
            parsed.verify(&trust, "prod", "id2", &digest, 10, None, "s"),
            Err(VerifyError::BadSignature { .. })
        ));
        assert!(matches!(
            parsed.verify(&trust, "dev", "id1", &digest, 10, None, "s"),
            Err(VerifyError::BadSignature { .. })
        ));
        assert!(matches!(
            parsed.verify(&trust, "prod", "id1", &[8u8; 32], 10, None, "s"),
            Err(VerifyError::BadSignature { .. })
        ));
        assert!(matches!(
            parsed.verify(&trust, "prod", "id1", &digest, 11, None, "s"),
            Err(VerifyError::BadSignature { .. })
        ));
        let untrusted = TrustSet::from_keys(vec![other.verifying_key()]);
        assert!(matches!(
            parsed.verify(&untrusted, "prod", "id1", &digest, 10, None, "s"),
            Err(VerifyError::UntrustedKey { .. })
        ));

        // A signature edited to claim another id fails the cryptographic check.
        let mut forged = parsed.clone();
        forged.id = "id2".into();
        assert!(matches!(
            forged.verify(&trust, "prod", "id2", &digest, 10, None, "s"),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn a_retired_key_vouches_only_for_signatures_stored_before_its_not_after() {
        let key = generate_signing_key();
        let (_, public) = encode_key_pair(&key);
        let retired_text = format!(
            "# retired after the 2026-11 incident\n# not-after: 2026-11-20T00:00:00Z\n{public}"
        );
        let (parsed_key, not_after) = parse_trusted_key(&retired_text).unwrap();
        assert_eq!(key_id(&parsed_key), key_id(&key.verifying_key()));
        let not_after = not_after.unwrap();
        assert_eq!(parse_trusted_key(&public).unwrap().1, None);

        let trust = TrustSet::from_trusted(vec![TrustedKey {
            id: key_id(&key.verifying_key()),
            key: key.verifying_key(),
            file: PathBuf::from("keys/old.sign.pub"),
            not_after: Some(not_after),
        }]);
        let digest = [3u8; 32];
        let sig = SignatureFile::parse(
            &sign_artifact(&key, "prod", "id1", &digest, 10, "t").to_bytes(),
            "k",
        )
        .unwrap();
        let at = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap());
        assert!(
            sig.verify(
                &trust,
                "prod",
                "id1",
                &digest,
                10,
                at("2026-11-19T23:59:59Z"),
                "s"
            )
            .is_ok()
        );
        for refused in [at("2026-11-20T00:00:00Z"), at("2027-01-01T00:00:00Z"), None] {
            match sig.verify(&trust, "prod", "id1", &digest, 10, refused, "s") {
                Err(VerifyError::RetiredKey {
                    file, not_after, ..
                }) => {
                    assert_eq!(file, "keys/old.sign.pub");
                    assert_eq!(not_after, "2026-11-20T00:00:00Z");
                }
                other => panic!("stored at {refused:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn trusted_key_headers_are_strict() {
        let (_, public) = encode_key_pair(&generate_signing_key());
        for (text, needle) in [
            (format!("# not-after: yesterday\n{public}"), "RFC 3339"),
            (
                format!(
                    "# not-after: 2026-11-20T00:00:00Z\n# not-after: 2026-11-21T00:00:00Z\n{public}"
                ),
                "more than one",
            ),
            (
                format!("not-after: 2026-11-20T00:00:00Z\n{public}"),
                "header lines start with #",
            ),
            ("# not-after: 2026-11-20T00:00:00Z\n".to_string(), "BEGIN"),
            (
                format!("#not-after: 2026-11-20T00:00:00Z\n{public}"),
                "line 1: unknown or misspelt",
            ),
            (
                format!("# Not-After: 2026-11-20T00:00:00Z\n{public}"),
                "misspelt",
            ),
            (
                format!("# comment\n# not-after : 2026-11-20T00:00:00Z\n{public}"),
                "line 2",
            ),
            (
                format!("# not_after: 2026-11-20T00:00:00Z\n{public}"),
                "misspelt",
            ),
        ] {
            let err = parse_trusted_key(&text).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn plain_comments_stay_allowed_and_one_key_may_not_be_in_two_files() {
        let key = generate_signing_key();
        let (_, public) = encode_key_pair(&key);
        let text = format!(
            "# prod signer, made 2026-11-01 by the platform team\n# see: nothing\n{public}"
        );
        // "# see: nothing" is a directive and unknown: refused.
        assert!(parse_trusted_key(&text).is_err());
        let text = format!("# prod signer, made 2026-11-01 by the platform team\n{public}");
        assert_eq!(parse_trusted_key(&text).unwrap().1, None);

        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.sign.pub"), &public).unwrap();
        fs::write(
            dir.path().join("b.sign.pub"),
            format!("# not-after: 2026-11-20T00:00:00Z\n{public}"),
        )
        .unwrap();
        let err = TrustSet::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("b.sign.pub") && err.contains("a.sign.pub") && err.contains("same key"),
            "{err}"
        );
    }

    #[test]
    fn malformed_signature_files_are_verification_errors() {
        assert!(matches!(
            SignatureFile::parse(b"{}", "k"),
            Err(VerifyError::MalformedSignature { .. })
        ));
        assert!(matches!(
            SignatureFile::parse(b"\xff\x00", "k"),
            Err(VerifyError::MalformedSignature { .. })
        ));
    }
}
