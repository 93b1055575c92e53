//! Keyed digests of sealed Secret values, so two snapshots (or a snapshot and a live cluster)
//! can say whether a Secret value changed without anyone unsealing it.
//!
//! The digest key is derived from the signing key (HMAC-SHA256 of a fixed label under the
//! key's seed): digests are comparable between snapshots signed by the same key, and someone
//! who reads the bucket but holds no key cannot test guesses of a value against them (a plain
//! hash would let them brute-force a short password). What they do learn is which values are
//! equal — between snapshots of one signer, and between Secrets of one snapshot.

use ed25519_dalek::SigningKey;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const DERIVATION_LABEL: &[u8] = b"routevault/value-digest/v1";

/// Computes value digests under one signing key's digest key.
pub struct ValueDigester {
    key: [u8; 32],
}

impl ValueDigester {
    pub fn from_signing_key(signing_key: &SigningKey) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(signing_key.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(DERIVATION_LABEL);
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// The digest of one plaintext value, as lowercase hex (how a manifest records it).
    pub fn digest(&self, plain: &[u8]) -> String {
        hex::encode(self.digest_bytes(plain))
    }

    /// The digest of one plaintext value.
    pub fn digest_bytes(&self, plain: &[u8]) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(plain);
        mac.finalize().into_bytes().into()
    }
}

impl Drop for ValueDigester {
    fn drop(&mut self) {
        self.key.fill(0);
    }
}

/// Whether `text` has the form of a value digest (64 lowercase hex digits).
pub fn is_well_formed(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_the_value_and_the_key_only() {
        let key = crate::sign::generate_signing_key();
        let other = crate::sign::generate_signing_key();
        let a = ValueDigester::from_signing_key(&key);
        let again = ValueDigester::from_signing_key(&key);
        let b = ValueDigester::from_signing_key(&other);
        assert_eq!(a.digest(b"hunter2"), again.digest(b"hunter2"));
        assert_ne!(a.digest(b"hunter2"), a.digest(b"hunter3"));
        assert_ne!(a.digest(b"hunter2"), b.digest(b"hunter2"));
        assert!(is_well_formed(&a.digest(b"")));
        assert!(!is_well_formed("ABC"));
        assert!(!is_well_formed(&"G".repeat(64)));
    }

    #[test]
    fn a_digest_is_not_the_unkeyed_hash() {
        use sha2::Digest;
        let key = crate::sign::generate_signing_key();
        let digester = ValueDigester::from_signing_key(&key);
        assert_ne!(
            digester.digest(b"secret"),
            hex::encode(Sha256::digest(b"secret"))
        );
    }
}
