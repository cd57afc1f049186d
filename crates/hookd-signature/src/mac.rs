//! HMAC-SHA256 signatures carried in a header as hex or base64, with an optional prefix.
//!
//! This is the scheme behind most providers (GitHub and Meta `sha256=<hex>`, Shopify
//! `<base64>`, Stripe and Slack hex over a timestamped message); their presets choose the
//! message parts, the encoding and the prefix and call [`verify_hmac_sha256`]. Outgoing
//! signing and test helpers use [`hmac_sha256`] with [`encode_signature`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq as _};

use crate::SignatureError;

/// Length in bytes of an HMAC-SHA256 tag.
const MAC_LEN: usize = 32;

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Hexadecimal: produced in lower case, accepted in either case.
    Hex,
    /// Standard base64 alphabet (`+/`) with `=` padding.
    Base64,
}

/// Computes HMAC-SHA256 with `key` over the concatenation of the `message` parts.
///
/// The parts are fed to the MAC one after another, so a signed string such as
/// `{timestamp}.{body}` is never assembled in memory. Any key length is valid, including
/// empty.
pub fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in message {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Verifies a signature header value against the MAC of `message` under each of `secrets`.
///
/// Steps: strip `prefix` (exact, case-sensitive match), decode the rest per `encoding`,
/// require 32 bytes, then compute the MAC with every secret (each used as raw bytes) and
/// compare in constant time. All secrets are always tried, so timing does not reveal which
/// one matched. Several secrets allow rotation: old and new are both accepted meanwhile.
///
/// # Errors
///
/// - [`SignatureError::Malformed`] if the prefix is missing or different, the text is not
///   valid hex/base64, or it does not decode to 32 bytes.
/// - [`SignatureError::Mismatch`] if no secret produces the signature (also when `secrets`
///   is empty).
pub fn verify_hmac_sha256<S: AsRef<[u8]>>(
    secrets: &[S],
    message: &[&[u8]],
    signature: &str,
    encoding: Encoding,
    prefix: Option<&str>,
) -> Result<(), SignatureError> {
    let encoded = match prefix {
        Some(prefix) => signature
            .strip_prefix(prefix)
            .ok_or(SignatureError::Malformed(
                "signature does not start with the expected prefix",
            ))?,
        None => signature,
    };
    let expected = decode_mac(encoded, encoding)?;
    let mut matched = Choice::from(0);
    for secret in secrets {
        matched |= hmac_sha256(secret.as_ref(), message).ct_eq(&expected);
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Decodes an encoded HMAC-SHA256 tag (without any prefix) into its 32 bytes.
///
/// Shared with [`crate::standard_webhooks`], whose list entries are base64 tags.
pub(crate) fn decode_mac(
    encoded: &str,
    encoding: Encoding,
) -> Result<[u8; MAC_LEN], SignatureError> {
    let (bytes, wrong_length) = match encoding {
        Encoding::Hex => (
            hex::decode(encoded)
                .map_err(|_| SignatureError::Malformed("signature is not valid hex"))?,
            "signature is not 32 bytes long (64 hex digits expected for HMAC-SHA256)",
        ),
        Encoding::Base64 => (
            BASE64
                .decode(encoded)
                .map_err(|_| SignatureError::Malformed("signature is not valid base64"))?,
            "signature is not 32 bytes long (44 base64 characters expected for HMAC-SHA256)",
        ),
    };
    <[u8; MAC_LEN]>::try_from(bytes.as_slice()).map_err(|_| SignatureError::Malformed(wrong_length))
}

/// Encodes a MAC as a header would carry it: `prefix` followed by lower-case hex or padded
/// standard base64.
///
/// Used when signing (the `http` target, `hookd send`), in tests and in benchmarks; the
/// output is accepted by [`verify_hmac_sha256`] with the same `encoding` and `prefix`.
pub fn encode_signature(mac: &[u8], encoding: Encoding, prefix: Option<&str>) -> String {
    let encoded = match encoding {
        Encoding::Hex => hex::encode(mac),
        Encoding::Base64 => BASE64.encode(mac),
    };
    match prefix {
        Some(prefix) => format!("{prefix}{encoded}"),
        None => encoded,
    }
}

/// Compares two byte strings in time independent of their contents.
///
/// Slices of different lengths compare unequal immediately: lengths are public (every tag of
/// a scheme has the same length), contents are not.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::{Encoding, constant_time_eq, encode_signature, hmac_sha256, verify_hmac_sha256};
    use crate::SignatureError;

    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    /// Published in GitHub's "Validating webhook deliveries" docs.
    const GITHUB_HEX: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn github_header() -> String {
        format!("sha256={GITHUB_HEX}")
    }

    #[test]
    fn hmac_matches_published_github_vector() {
        let mac = hmac_sha256(GITHUB_SECRET.as_bytes(), &[GITHUB_BODY]);
        assert_eq!(hex::encode(mac), GITHUB_HEX);
    }

    #[test]
    fn hmac_over_parts_equals_hmac_over_concatenation() {
        let whole = hmac_sha256(b"key", &[b"1492774577.{\"a\":1}"]);
        let parts = hmac_sha256(b"key", &[b"1492774577", b".", b"", b"{\"a\":1}"]);
        assert_eq!(whole, parts);
    }

    #[test]
    fn rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn accepts_github_docs_signature() {
        let result = verify_hmac_sha256(
            &[GITHUB_SECRET],
            &[GITHUB_BODY],
            &github_header(),
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn accepts_upper_case_hex() {
        let header = format!("sha256={}", GITHUB_HEX.to_ascii_uppercase());
        let result = verify_hmac_sha256(
            &[GITHUB_SECRET],
            &[GITHUB_BODY],
            &header,
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn rotation_accepts_when_second_secret_matches() {
        let secrets = ["the old secret".to_owned(), GITHUB_SECRET.to_owned()];
        let result = verify_hmac_sha256(
            &secrets,
            &[GITHUB_BODY],
            &github_header(),
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn rotation_accepts_when_first_secret_matches() {
        let secrets = [GITHUB_SECRET, "the next secret"];
        let result = verify_hmac_sha256(
            &secrets,
            &[GITHUB_BODY],
            &github_header(),
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn rotation_rejects_when_no_secret_matches() {
        let result = verify_hmac_sha256(
            &["one", "two"],
            &[GITHUB_BODY],
            &github_header(),
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(result, Err(SignatureError::Mismatch));
    }

    #[test]
    fn no_secrets_is_a_mismatch() {
        let result = verify_hmac_sha256::<&str>(
            &[],
            &[GITHUB_BODY],
            &github_header(),
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(result, Err(SignatureError::Mismatch));
    }

    #[test]
    fn prefix_with_wrong_case_is_rejected() {
        let header = format!("SHA256={GITHUB_HEX}");
        let result = verify_hmac_sha256(
            &[GITHUB_SECRET],
            &[GITHUB_BODY],
            &header,
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(
            result,
            Err(SignatureError::Malformed(
                "signature does not start with the expected prefix"
            ))
        );
    }

    #[test]
    fn missing_prefix_is_rejected() {
        let result = verify_hmac_sha256(
            &[GITHUB_SECRET],
            &[GITHUB_BODY],
            GITHUB_HEX,
            Encoding::Hex,
            Some("sha256="),
        );
        assert!(
            matches!(result, Err(SignatureError::Malformed(_))),
            "{result:?}"
        );
    }

    #[test]
    fn prefix_is_not_stripped_when_none_is_configured() {
        let result = verify_hmac_sha256(
            &[GITHUB_SECRET],
            &[GITHUB_BODY],
            &github_header(),
            Encoding::Hex,
            None,
        );
        assert_eq!(
            result,
            Err(SignatureError::Malformed("signature is not valid hex"))
        );
    }

    #[test]
    fn truncated_hex_signature_is_rejected() {
        for cut in [2, 1] {
            let header = format!("sha256={}", &GITHUB_HEX[..GITHUB_HEX.len() - cut]);
            let result = verify_hmac_sha256(
                &[GITHUB_SECRET],
                &[GITHUB_BODY],
                &header,
                Encoding::Hex,
                Some("sha256="),
            );
            assert!(
                matches!(result, Err(SignatureError::Malformed(_))),
                "cut {cut}: {result:?}"
            );
        }
    }

    #[test]
    fn truncated_base64_signature_is_rejected() {
        let mac = hmac_sha256(GITHUB_SECRET.as_bytes(), &[GITHUB_BODY]);
        let full = encode_signature(&mac, Encoding::Base64, None);
        let short_mac = encode_signature(&mac[..31], Encoding::Base64, None);
        for (signature, detail) in [
            (&full[..full.len() - 1], "signature is not valid base64"),
            (
                short_mac.as_str(),
                "signature is not 32 bytes long (44 base64 characters expected for HMAC-SHA256)",
            ),
        ] {
            let result = verify_hmac_sha256(
                &[GITHUB_SECRET],
                &[GITHUB_BODY],
                signature,
                Encoding::Base64,
                None,
            );
            assert_eq!(
                result,
                Err(SignatureError::Malformed(detail)),
                "{signature}"
            );
        }
    }

    #[test]
    fn overlong_signature_is_rejected() {
        let header = format!("sha256={GITHUB_HEX}00");
        let result = verify_hmac_sha256(
            &[GITHUB_SECRET],
            &[GITHUB_BODY],
            &header,
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(
            result,
            Err(SignatureError::Malformed(
                "signature is not 32 bytes long (64 hex digits expected for HMAC-SHA256)"
            ))
        );
    }

    #[test]
    fn non_hex_signature_is_rejected() {
        let header = format!("sha256={}g", &GITHUB_HEX[..63]);
        let result = verify_hmac_sha256(
            &[GITHUB_SECRET],
            &[GITHUB_BODY],
            &header,
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(
            result,
            Err(SignatureError::Malformed("signature is not valid hex"))
        );
    }

    #[test]
    fn base64_without_padding_is_rejected() {
        let mac = hmac_sha256(b"k", &[b"m"]);
        let signature = encode_signature(&mac, Encoding::Base64, None);
        let unpadded = signature.trim_end_matches('=');
        assert_ne!(unpadded, signature, "a 32-byte tag always needs padding");
        let result = verify_hmac_sha256(&[b"k"], &[b"m"], unpadded, Encoding::Base64, None);
        assert_eq!(
            result,
            Err(SignatureError::Malformed("signature is not valid base64"))
        );
    }

    #[test]
    fn one_flipped_bit_is_a_mismatch() {
        let mut mac = hmac_sha256(GITHUB_SECRET.as_bytes(), &[GITHUB_BODY]);
        mac[31] ^= 1;
        let header = encode_signature(&mac, Encoding::Hex, Some("sha256="));
        let result = verify_hmac_sha256(
            &[GITHUB_SECRET],
            &[GITHUB_BODY],
            &header,
            Encoding::Hex,
            Some("sha256="),
        );
        assert_eq!(result, Err(SignatureError::Mismatch));
    }

    #[test]
    fn sign_then_verify_roundtrips_in_both_encodings() {
        let secret = b"\x00\xffraw secret bytes";
        let message: &[&[u8]] = &[b"1614265330", b".", b"{\"test\": 2432232314}"];
        let mac = hmac_sha256(secret, message);
        for (encoding, prefix) in [
            (Encoding::Hex, Some("sha256=")),
            (Encoding::Hex, None),
            (Encoding::Base64, Some("v1=")),
            (Encoding::Base64, None),
        ] {
            let header = encode_signature(&mac, encoding, prefix);
            assert_eq!(
                verify_hmac_sha256(&[secret], message, &header, encoding, prefix),
                Ok(()),
                "{encoding:?} {prefix:?} {header}"
            );
            assert_eq!(
                verify_hmac_sha256(&[secret], &[b"tampered"], &header, encoding, prefix),
                Err(SignatureError::Mismatch),
                "{encoding:?} {prefix:?} {header}"
            );
        }
    }

    #[test]
    fn encode_signature_formats() {
        let mac = [0xabu8; 32];
        assert_eq!(
            encode_signature(&mac, Encoding::Hex, Some("sha256=")),
            format!("sha256={}", "ab".repeat(32))
        );
        assert_eq!(
            encode_signature(&[0xfb, 0xff], Encoding::Base64, None),
            "+/8="
        );
    }

    #[test]
    fn constant_time_eq_compares_contents_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
