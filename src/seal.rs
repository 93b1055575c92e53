//! Sealing Secret data with age.
//!
//! One age encryption per snapshot: a random 256-bit data key is wrapped once to the age
//! X25519 recipients and stored in the manifest; every Secret value is then encrypted with
//! XChaCha20-Poly1305 under that key, with a random nonce and the Secret's identity and data
//! key as associated data (so a sealed value cannot be moved to another Secret or key). This
//! keeps sealing cheap for tens of thousands of Secrets and streams: each object stays
//! self-contained. The format is in docs/artifact-format.md.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::object::Object;

pub const SEAL_SCHEME: &str = "age-x25519+xchacha20poly1305/v1";
/// Every sealed value starts with this, so a sealed Secret can never be mistaken for a
/// plaintext one (nor applied by accident: it is not valid base64).
pub const SEALED_PREFIX: &str = "rv-sealed:v1:";
const AAD_DOMAIN: &[u8] = b"routevault/seal/v1\0";

#[derive(Debug, Error)]
pub enum SealError {
    #[error(
        "{value:?} is neither an age recipient (age1...) nor a readable file of recipients: {reason}"
    )]
    BadRecipient { value: String, reason: String },
    #[error("no age recipients given to seal to")]
    NoRecipients,
    #[error("cannot read unseal key {path}: {reason}")]
    ReadIdentity { path: PathBuf, reason: String },
    #[error(
        "the unseal key {path} is not one of the recipients this snapshot was sealed to; use the \
         .seal.key that matches one of: {recipients}"
    )]
    WrongKey { path: PathBuf, recipients: String },
    #[error("{object}: data key {key:?} is not valid base64; fix the manifest")]
    NotBase64 { object: String, key: String },
    #[error("{object}: sealed value of data key {key:?} does not decrypt ({reason})")]
    Corrupt {
        object: String,
        key: String,
        reason: String,
    },
    #[error("cannot wrap the data key with age: {0}")]
    Wrap(String),
}

/// How a snapshot's Secret data was sealed; recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealing {
    pub scheme: String,
    /// The recipients, as `age1...` strings, so an operator can tell which key unseals.
    pub recipients: Vec<String>,
    /// The data key, age-encrypted to the recipients, base64 of the binary age file.
    pub wrapped_key: String,
}

/// Parses `--seal-to` values: an `age1...` recipient, or a file of them (one a line, `#`
/// comments allowed).
pub fn parse_recipients(values: &[String]) -> Result<Vec<age::x25519::Recipient>, SealError> {
    let mut out = Vec::new();
    let private_key = |place: String| SealError::BadRecipient {
        value: place,
        reason: "this is a private unseal key (AGE-SECRET-KEY-...), not a recipient; pass its \
                 public half (the .seal.pub file or its age1... line), and keep the private key \
                 away from the snapshot job"
            .into(),
    };
    for value in values {
        // A private key pasted where a recipient belongs is never echoed back.
        if value
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("AGE-SECRET-KEY-")
        {
            return Err(private_key("a --seal-to value".into()));
        }
        if value.starts_with("age1") {
            out.push(age::x25519::Recipient::from_str(value).map_err(|e| {
                SealError::BadRecipient {
                    value: value.clone(),
                    reason: e.to_string(),
                }
            })?);
            continue;
        }
        let text = fs::read_to_string(value).map_err(|e| SealError::BadRecipient {
            value: value.clone(),
            reason: e.to_string(),
        })?;
        for (number, line) in text
            .lines()
            .map(str::trim)
            .enumerate()
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        {
            let place = format!("{value}, line {}", number + 1);
            if line.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
                return Err(private_key(place));
            }
            // The line itself is not echoed: a file given by mistake may hold anything.
            out.push(age::x25519::Recipient::from_str(line).map_err(|e| {
                SealError::BadRecipient {
                    value: place,
                    reason: e.to_string(),
                }
            })?);
        }
    }
    if out.is_empty() {
        return Err(SealError::NoRecipients);
    }
    Ok(out)
}

/// An age identity that can unseal (X25519, from a `.seal.key` file).
pub type Identity = Box<dyn age::Identity + Send + Sync>;

/// Reads the age identities of a `.seal.key` file (age's identity-file format, parsed by
/// `age::IdentityFile`: one identity per line, `#` comments). The file must be private (see
/// `keyfile::read_private`); errors name lines by number, never by content.
pub fn load_identities(path: &Path) -> Result<Vec<Identity>, SealError> {
    let read_error = |reason: String| SealError::ReadIdentity {
        path: path.into(),
        reason,
    };
    let text = crate::keyfile::read_private(path).map_err(read_error)?;
    let identities = age::IdentityFile::from_buffer(text.as_bytes())
        .map_err(|e| read_error(format!("{e} (expected AGE-SECRET-KEY-1... lines)")))?
        .into_identities()
        .map_err(|e| read_error(e.to_string()))?;
    if identities.is_empty() {
        return Err(read_error("no age identity in the file".into()));
    }
    Ok(identities)
}

/// A new identity and its recipient string, for keygen. The identity text is secret.
pub fn generate_identity() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    (identity.to_string().expose_secret().to_string(), recipient)
}

fn aad(namespace: &str, name: &str, key: &str) -> Vec<u8> {
    let mut aad = AAD_DOMAIN.to_vec();
    for part in [namespace, name, key] {
        aad.extend_from_slice(part.as_bytes());
        aad.push(0);
    }
    aad
}

/// Seals Secret data under one data key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    sealing: Sealing,
    digester: Option<crate::value_digest::ValueDigester>,
}

impl Sealer {
    pub fn new(recipients: &[age::x25519::Recipient]) -> Result<Self, SealError> {
        if recipients.is_empty() {
            return Err(SealError::NoRecipients);
        }
        let mut data_key = [0u8; 32];
        getrandom::fill(&mut data_key).expect("the operating system's random source failed");
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| SealError::Wrap(e.to_string()))?;
        let mut wrapped = Vec::new();
        let mut writer = encryptor
            .wrap_output(&mut wrapped)
            .map_err(|e| SealError::Wrap(e.to_string()))?;
        writer
            .write_all(&data_key)
            .map_err(|e| SealError::Wrap(e.to_string()))?;
        writer
            .finish()
            .map_err(|e| SealError::Wrap(e.to_string()))?;
        let cipher = XChaCha20Poly1305::new((&data_key).into());
        data_key.fill(0);
        Ok(Self {
            cipher,
            sealing: Sealing {
                scheme: SEAL_SCHEME.into(),
                recipients: recipients.iter().map(|r| r.to_string()).collect(),
                wrapped_key: BASE64.encode(wrapped),
            },
            digester: None,
        })
    }

    /// Also records each value's keyed digest (see `value_digest`), so `diff` can tell a
    /// changed value without unsealing.
    pub fn with_digests(mut self, digester: crate::value_digest::ValueDigester) -> Self {
        self.digester = Some(digester);
        self
    }

    pub fn sealing(&self) -> &Sealing {
        &self.sealing
    }

    /// Replaces every `data` value of a Secret with its sealed form. Returns the values' keyed
    /// digests by data key (empty without a digester).
    pub fn seal_secret(
        &self,
        secret: &mut Object,
    ) -> Result<std::collections::BTreeMap<String, String>, SealError> {
        let object = secret.object_ref().to_string();
        let namespace = secret.namespace().unwrap_or("").to_string();
        let name = secret.name().to_string();
        let mut digests = std::collections::BTreeMap::new();
        let Some(data) = secret.0.get_mut("data").and_then(Value::as_object_mut) else {
            return Ok(digests);
        };
        for (key, value) in data.iter_mut() {
            let encoded = value.as_str().ok_or_else(|| SealError::NotBase64 {
                object: object.clone(),
                key: key.clone(),
            })?;
            let plain = BASE64.decode(encoded).map_err(|_| SealError::NotBase64 {
                object: object.clone(),
                key: key.clone(),
            })?;
            if let Some(digester) = &self.digester {
                digests.insert(key.clone(), digester.digest(&plain));
            }
            let mut nonce = [0u8; 24];
            getrandom::fill(&mut nonce).expect("the operating system's random source failed");
            let aad = aad(&namespace, &name, key);
            let sealed = self
                .cipher
                .encrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &plain,
                        aad: &aad,
                    },
                )
                .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory data");
            let mut blob = nonce.to_vec();
            blob.extend_from_slice(&sealed);
            *value = Value::String(format!("{SEALED_PREFIX}{}", BASE64.encode(blob)));
        }
        Ok(digests)
    }
}

/// Opens sealed Secret data.
pub struct Unsealer {
    cipher: XChaCha20Poly1305,
}

impl Unsealer {
    /// Unwraps the data key with one of `identities` (read from `path`, named in errors).
    pub fn new(sealing: &Sealing, identities: &[Identity], path: &Path) -> Result<Self, SealError> {
        let wrong = || SealError::WrongKey {
            path: path.into(),
            recipients: sealing.recipients.join(", "),
        };
        let wrapped = BASE64.decode(&sealing.wrapped_key).map_err(|_| wrong())?;
        let decryptor = age::Decryptor::new(&wrapped[..]).map_err(|_| wrong())?;
        let mut reader = decryptor
            .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|_| wrong())?;
        let mut data_key = Vec::new();
        reader.read_to_end(&mut data_key).map_err(|_| wrong())?;
        let key: [u8; 32] = data_key.as_slice().try_into().map_err(|_| wrong())?;
        data_key.fill(0);
        Ok(Self {
            cipher: XChaCha20Poly1305::new((&key).into()),
        })
    }

    /// Replaces every sealed `data` value of a Secret with its plaintext (base64) form.
    pub fn unseal_secret(&self, secret: &mut Object) -> Result<(), SealError> {
        let object = secret.object_ref().to_string();
        let namespace = secret.namespace().unwrap_or("").to_string();
        let name = secret.name().to_string();
        let Some(data) = secret.0.get_mut("data").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        for (key, value) in data.iter_mut() {
            let corrupt = |reason: &str| SealError::Corrupt {
                object: object.clone(),
                key: key.clone(),
                reason: reason.into(),
            };
            let sealed = value
                .as_str()
                .and_then(|v| v.strip_prefix(SEALED_PREFIX))
                .ok_or_else(|| corrupt("value is not sealed"))?;
            let blob = BASE64.decode(sealed).map_err(|_| corrupt("not base64"))?;
            if blob.len() < 24 {
                return Err(corrupt("too short"));
            }
            let (nonce, ciphertext) = blob.split_at(24);
            let aad = aad(&namespace, &name, key);
            let plain = self
                .cipher
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| corrupt("authentication failed"))?;
            *value = Value::String(BASE64.encode(plain));
        }
        Ok(())
    }
}

/// Whether any `data` value of this Secret is sealed.
#[cfg(test)]
pub fn is_sealed(secret: &Object) -> bool {
    secret
        .0
        .get("data")
        .and_then(Value::as_object)
        .is_some_and(|d| {
            d.values()
                .any(|v| v.as_str().is_some_and(|s| s.starts_with(SEALED_PREFIX)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(name: &str) -> Object {
        Object(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "shop"},
            "data": {"tls.crt": BASE64.encode("CERT"), "tls.key": BASE64.encode("PRIVATE KEY BYTES")}}),
        )
    }

    fn identity() -> (age::x25519::Identity, age::x25519::Recipient) {
        let id = age::x25519::Identity::generate();
        let r = id.to_public();
        (id, r)
    }

    #[test]
    fn two_sealers_of_one_signer_give_equal_digests_for_equal_values_only() {
        let signer = crate::sign::generate_signing_key();
        let sealer = |r: &age::x25519::Recipient| {
            Sealer::new(std::slice::from_ref(r)).unwrap().with_digests(
                crate::value_digest::ValueDigester::from_signing_key(&signer),
            )
        };
        let (_, r) = identity();
        let (mut a, mut b) = (secret("web-tls"), secret("web-tls"));
        b.0["data"]["tls.key"] = json!(BASE64.encode("ANOTHER KEY"));
        let da = sealer(&r).seal_secret(&mut a).unwrap();
        let db = sealer(&r).seal_secret(&mut b).unwrap();
        assert_eq!(da.len(), 2);
        assert_eq!(da["tls.crt"], db["tls.crt"]);
        assert_ne!(da["tls.key"], db["tls.key"]);
        // The sealed values themselves differ even where the plaintext is equal.
        assert_ne!(a.0["data"]["tls.crt"], b.0["data"]["tls.crt"]);
    }

    #[test]
    fn seal_then_unseal_round_trips_and_hides_plaintext() {
        let (id, r) = identity();
        let sealer = Sealer::new(&[r]).unwrap();
        let original = secret("web-tls");
        let mut sealed = original.clone();
        assert!(sealer.seal_secret(&mut sealed).unwrap().is_empty());
        let text = serde_json::to_string(&sealed.0).unwrap();
        assert!(!text.contains(&BASE64.encode("PRIVATE KEY BYTES")));
        assert!(!text.contains("PRIVATE KEY BYTES"));
        assert!(is_sealed(&sealed));
        let unsealer = Unsealer::new(
            sealer.sealing(),
            &[Box::new(id) as Identity],
            Path::new("k"),
        )
        .unwrap();
        unsealer.unseal_secret(&mut sealed).unwrap();
        assert_eq!(sealed, original);
    }

    #[test]
    fn wrong_key_is_refused_with_the_recipients_named() {
        let (_, r) = identity();
        let (other, _) = identity();
        let sealer = Sealer::new(std::slice::from_ref(&r)).unwrap();
        let err = Unsealer::new(
            sealer.sealing(),
            &[Box::new(other) as Identity],
            Path::new("other.seal.key"),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains(&r.to_string()), "{err}");
    }

    #[test]
    fn any_of_several_recipients_can_unseal() {
        let (a, ra) = identity();
        let (b, rb) = identity();
        let sealer = Sealer::new(&[ra, rb]).unwrap();
        assert!(
            Unsealer::new(sealer.sealing(), &[Box::new(a) as Identity], Path::new("a")).is_ok()
        );
        assert!(
            Unsealer::new(sealer.sealing(), &[Box::new(b) as Identity], Path::new("b")).is_ok()
        );
    }

    #[test]
    fn a_sealed_value_moved_to_another_secret_does_not_open() {
        let (id, r) = identity();
        let sealer = Sealer::new(&[r]).unwrap();
        let mut a = secret("a");
        let mut b = secret("b");
        sealer.seal_secret(&mut a).unwrap();
        sealer.seal_secret(&mut b).unwrap();
        b.0["data"]["tls.key"] = a.0["data"]["tls.key"].clone();
        let unsealer = Unsealer::new(
            sealer.sealing(),
            &[Box::new(id) as Identity],
            Path::new("k"),
        )
        .unwrap();
        let err = unsealer.unseal_secret(&mut b).unwrap_err();
        assert!(matches!(err, SealError::Corrupt { .. }));
        assert!(!err.to_string().contains("PRIVATE"));
    }

    #[test]
    fn recipients_come_from_strings_or_files() {
        let (_, r) = identity();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("team.seal.pub");
        fs::write(&file, format!("# ops team\n{r}\n")).unwrap();
        assert_eq!(
            parse_recipients(&[r.to_string(), file.display().to_string()])
                .unwrap()
                .len(),
            2
        );
        assert!(parse_recipients(&["age1nope".into()]).is_err());
        assert!(parse_recipients(&[]).is_err());
    }

    #[test]
    fn a_private_key_given_as_recipient_is_refused_without_echoing_it() {
        let (secret, _) = generate_identity();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prod.seal.key");
        std::fs::write(&file, format!("# created by keygen\n{secret}\n")).unwrap();
        for value in [file.display().to_string(), secret.clone()] {
            let err = parse_recipients(&[value]).unwrap_err().to_string();
            assert!(err.contains("private unseal key"), "{err}");
            assert!(
                !err.contains("AGE-SECRET-KEY-1"),
                "the key was echoed: {err}"
            );
        }
        std::fs::write(&file, "not-a-recipient-but-secret-looking\n").unwrap();
        let err = parse_recipients(&[file.display().to_string()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 1") && !err.contains("secret-looking"),
            "{err}"
        );
    }
}
