//! HighLevel (GoHighLevel) marketplace webhooks: signed with HighLevel's private keys, so
//! they verify with public keys and no shared secret.
//!
//! - `x-ghl-signature`: base64 Ed25519 signature of the raw body (current).
//! - `x-wh-signature`: base64 RSASSA-PKCS1-v1_5 / SHA-256 signature of the raw body
//!   (legacy).
//!
//! The caller picks the header (Ed25519 when present, with no fall-back to RSA) and passes
//! every configured key, so that a key can be rotated.
//!
//! [`sign_ed25519`] and [`ed25519_public_key_pem`] play HighLevel's part with a key of
//! one's own, for tests and `hookd send`. There is no RSA signer: the legacy scheme is
//! being retired by HighLevel, and no RSA test private key is published with the vectors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rsa::pkcs1v15;
use rsa::sha2::Sha256;
use rsa::traits::PublicKeyParts as _;

use crate::SignatureError;

/// HighLevel's published Ed25519 public key for `x-ghl-signature`.
pub const PUBLISHED_ED25519_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
";

/// HighLevel's published RSA public key for the legacy `x-wh-signature`.
pub const PUBLISHED_RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
";

/// An Ed25519 public key that verifies `x-ghl-signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519Key(VerifyingKey);

impl Ed25519Key {
    /// Reads a `-----BEGIN PUBLIC KEY-----` (SPKI) PEM.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Malformed`] when the text is not an Ed25519 public key in PEM.
    pub fn from_pem(pem: &str) -> Result<Self, SignatureError> {
        VerifyingKey::from_public_key_pem(pem.trim())
            .map(Ed25519Key)
            .map_err(|_| SignatureError::Malformed("not an Ed25519 public key in PEM"))
    }
}

/// An RSA public key that verifies `x-wh-signature`.
#[derive(Debug, Clone)]
pub struct RsaKey(pkcs1v15::VerifyingKey<Sha256>);

impl RsaKey {
    /// Reads a `-----BEGIN PUBLIC KEY-----` (SPKI) PEM.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Malformed`] when the text is not an RSA public key in PEM.
    pub fn from_pem(pem: &str) -> Result<Self, SignatureError> {
        rsa::RsaPublicKey::from_public_key_pem(pem.trim())
            .map(|key| RsaKey(pkcs1v15::VerifyingKey::new(key)))
            .map_err(|_| SignatureError::Malformed("not an RSA public key in PEM"))
    }
}

/// Verifies a base64 `x-ghl-signature` over `body` with any of `keys`.
///
/// # Errors
///
/// [`SignatureError::Malformed`] when the header is not base64 of 64 bytes;
/// [`SignatureError::Mismatch`] when no key verifies it.
pub fn verify_ed25519(
    keys: &[Ed25519Key],
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let bytes = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Malformed("x-ghl-signature is not valid base64"))?;
    let signature = Signature::from_slice(&bytes).map_err(|_| {
        SignatureError::Malformed("x-ghl-signature is not a 64-byte Ed25519 signature")
    })?;
    // Every key is tried, so timing does not reveal which one matched.
    let matched = keys
        .iter()
        .fold(false, |ok, key| key.0.verify(body, &signature).is_ok() | ok);
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies a base64 `x-wh-signature` (RSASSA-PKCS1-v1_5, SHA-256) over `body` with any of
/// `keys`.
///
/// # Errors
///
/// [`SignatureError::Malformed`] when the header is not base64, or not as long as the
/// modulus of any key; [`SignatureError::Mismatch`] when no key verifies it.
pub fn verify_rsa(keys: &[RsaKey], body: &[u8], signature: &str) -> Result<(), SignatureError> {
    let bytes = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Malformed("x-wh-signature is not valid base64"))?;
    // An RSA signature is exactly as long as the modulus; any other length is a broken
    // header rather than a wrong signature.
    if !keys.iter().any(|key| key.0.as_ref().size() == bytes.len()) {
        return Err(SignatureError::Malformed(
            "x-wh-signature is not an RSA signature of the length of the configured keys",
        ));
    }
    let signature = pkcs1v15::Signature::try_from(bytes.as_slice())
        .map_err(|_| SignatureError::Malformed("x-wh-signature is not an RSA signature"))?;
    let matched = keys.iter().fold(false, |ok, key| {
        rsa::signature::Verifier::verify(&key.0, body, &signature).is_ok() | ok
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs `body` as HighLevel signs `x-ghl-signature`: Ed25519 over the exact bytes, in
/// standard base64 with padding. Called by tests and `hookd send` with a key of their own;
/// the result verifies with [`verify_ed25519`] and the key from [`ed25519_public_key_pem`].
///
/// # Errors
///
/// [`SignatureError::Malformed`] when `private_key_pem` is not an Ed25519 private key in
/// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
pub fn sign_ed25519(private_key_pem: &str, body: &[u8]) -> Result<String, SignatureError> {
    let key = signing_key(private_key_pem)?;
    Ok(STANDARD.encode(key.sign(body).to_bytes()))
}

/// The public key (SPKI PEM, `-----BEGIN PUBLIC KEY-----`) of an Ed25519 private key in
/// PKCS#8 PEM: what a source's `public_key_ed25519` must hold to accept what
/// [`sign_ed25519`] signs with that private key.
///
/// # Errors
///
/// [`SignatureError::Malformed`] when `private_key_pem` is not an Ed25519 private key in
/// PKCS#8 PEM.
pub fn ed25519_public_key_pem(private_key_pem: &str) -> Result<String, SignatureError> {
    signing_key(private_key_pem)?
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| SignatureError::Malformed("the Ed25519 public key cannot be written as PEM"))
}

fn signing_key(private_key_pem: &str) -> Result<SigningKey, SignatureError> {
    SigningKey::from_pkcs8_pem(private_key_pem.trim()).map_err(|_| {
        SignatureError::Malformed("not an Ed25519 private key in PKCS#8 PEM (BEGIN PRIVATE KEY)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_keys_parse() {
        assert!(Ed25519Key::from_pem(PUBLISHED_ED25519_PEM).is_ok());
        assert!(RsaKey::from_pem(PUBLISHED_RSA_PEM).is_ok());
    }

    #[test]
    fn a_key_of_the_other_kind_is_refused() {
        assert!(Ed25519Key::from_pem(PUBLISHED_RSA_PEM).is_err());
        assert!(RsaKey::from_pem(PUBLISHED_ED25519_PEM).is_err());
        assert!(RsaKey::from_pem("not a key").is_err());
    }

    /// RFC 8410 section 10.3: an Ed25519 private key in PKCS#8 PEM.
    const RFC8410_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
";

    #[test]
    fn a_signature_made_here_verifies_with_the_derived_public_key() {
        let body = br#"{"type":"ContactCreate","webhookId":"w-1"}"#;
        let signature = sign_ed25519(RFC8410_PRIVATE_PEM, body).unwrap();
        let public = ed25519_public_key_pem(RFC8410_PRIVATE_PEM).unwrap();
        assert!(
            public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
            "{public}"
        );
        let key = Ed25519Key::from_pem(&public).unwrap();
        assert_eq!(
            verify_ed25519(std::slice::from_ref(&key), body, &signature),
            Ok(())
        );
        assert_eq!(
            verify_ed25519(&[key], b"{\"type\":\"ContactCreate\"}", &signature),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_published_key_does_not_verify_a_signature_made_here() {
        let body = b"{}";
        let signature = sign_ed25519(RFC8410_PRIVATE_PEM, body).unwrap();
        let published = Ed25519Key::from_pem(PUBLISHED_ED25519_PEM).unwrap();
        assert_eq!(
            verify_ed25519(&[published], body, &signature),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_private_key_of_another_kind_is_refused() {
        for pem in ["", "not a key", PUBLISHED_ED25519_PEM, PUBLISHED_RSA_PEM] {
            assert!(
                matches!(sign_ed25519(pem, b"{}"), Err(SignatureError::Malformed(_))),
                "{pem}"
            );
            assert!(ed25519_public_key_pem(pem).is_err(), "{pem}");
        }
    }
}
