//! Twilio's `X-Twilio-Signature`: HMAC-SHA1 over the URL Twilio called and the POST
//! parameters, in standard base64.
//!
//! Used by hookd's `twilio` ingest preset, which rebuilds the URL from the source's
//! `public_url` and the request's query string and hands the decoded form parameters in;
//! `hookd send` and the tests sign with [`sign`].
//!
//! # Format (Twilio's "Webhooks security" page and its helper libraries)
//!
//! - Key: the account's auth token, used as its raw bytes.
//! - Signed content, form-encoded bodies: the full URL Twilio called (scheme, host, optional
//!   port, path, query exactly as sent), then every POST parameter as name followed by
//!   value, sorted by name and then by value, with no delimiters. Values are the *decoded*
//!   ones (`+14158675309`, not `%2B14158675309`).
//! - Signed content, JSON bodies: the URL alone. It carries a `bodySHA256` query parameter,
//!   the lower-case hex SHA-256 of the raw body, which binds the body to the signature;
//!   nothing is appended.
//! - Port: Twilio signs sometimes with, sometimes without the port, so its libraries accept
//!   the URL without any port and with the scheme's default port (443 or 80) added when
//!   it has none ([`url_variants`]). The URL's fragment (connection overrides such as
//!   `#rc=3`) is never sent and never signed; callers leave it out.
//! - There is no timestamp, so no replay protection beyond the dedup of the receiver.
//!
//! # Invariants
//!
//! Every token is tried against every URL variant, and the body hash is compared too, all
//! in constant time with no early exit, so timing reveals neither which token matched nor
//! how far a forged signature got.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConstantTimeEq as _};

use crate::SignatureError;

/// Length in bytes of an HMAC-SHA1 tag.
pub const SIGNATURE_LEN: usize = 20;

/// The query parameter that carries the hex SHA-256 of a JSON body.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// Signs a request as Twilio does: standard base64 of HMAC-SHA1 with `auth_token` over
/// `url` followed by every `(name, value)` of `params` sorted by name, then value.
///
/// `url` is used exactly as given (no port is added or removed); for a JSON body it holds
/// the `bodySHA256` parameter ([`body_sha256`]) and `params` is empty. The result is what
/// [`verify`] and [`verify_body`] accept.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(mac(auth_token.as_bytes(), url, params))
}

/// The lower-case hex SHA-256 of `body`: the `bodySHA256` query parameter Twilio adds to
/// the URL of a request with a JSON body.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The value of the `bodySHA256` parameter in `query` (a query string without `?`), when
/// there is one: what tells a JSON-bodied request from a form-encoded one.
pub fn body_sha256_param(query: &str) -> Option<&str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == BODY_SHA256_PARAM)
        .map(|(_, value)| value)
}

/// The URLs a Twilio signature may cover for a request to `url`: `url` itself, `url`
/// without its port, and `url` with the scheme's default port (443 for https, 80 for http)
/// when it has none. Duplicates are left out; the order is that one.
///
/// Twilio's own validators (twilio-python `RequestValidator.validate`, twilio-node
/// `validateRequest`) accept the same set, because Twilio's back end signs sometimes
/// with and sometimes without the port. Like them, this removes any port, not only the
/// default one. A URL that is not `scheme://authority…` is returned alone.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some(at) = Authority::find(url) else {
        return variants;
    };
    let mut add = |variant: String| {
        if !variants.contains(&variant) {
            variants.push(variant);
        }
    };
    match at.port {
        Some(port) => {
            // Remove `:port`, the colon included.
            add(format!("{}{}", &url[..port.start - 1], &url[port.end..]));
        }
        None => {
            let default = if at.scheme.eq_ignore_ascii_case("https") {
                Some("443")
            } else if at.scheme.eq_ignore_ascii_case("http") {
                Some("80")
            } else {
                None
            };
            if let Some(default) = default {
                add(format!("{}:{default}{}", &url[..at.end], &url[at.end..]));
            }
        }
    }
    variants
}

/// Verifies the signature of a form-encoded request (or one without a body) to `url`
/// with decoded POST parameters `params`, under each of `tokens`.
///
/// Every token is tried against every variant of [`url_variants`]; any match is enough.
/// Several tokens allow rotation: the old and the new auth token both verify meanwhile.
///
/// # Errors
///
/// - [`SignatureError::Malformed`] if `signature` is not padded standard base64 of 20
///   bytes.
/// - [`SignatureError::Mismatch`] if no token produces it for any URL variant (also when
///   `tokens` is empty).
pub fn verify<T: AsRef<[u8]>>(
    tokens: &[T],
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> Result<(), SignatureError> {
    let expected = decode(signature)?;
    if bool::from(matches_any(tokens, url, params, &expected)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies the signature of a request with a JSON (or any non-form) body: `url` carries
/// the `bodySHA256` parameter, the signature covers `url` alone (any variant of
/// [`url_variants`], under any of `tokens`), and the SHA-256 of `body` must equal the
/// parameter.
///
/// The hash is compared as bytes in constant time (the hex may be in either case), and
/// both checks always run.
///
/// # Errors
///
/// - [`SignatureError::Malformed`] if `signature` is not padded standard base64 of 20
///   bytes, if the query of `url` has no `bodySHA256` parameter, or if that is not the
///   hex of 32 bytes.
/// - [`SignatureError::Mismatch`] if the body does not hash to the parameter, or if no
///   token produces the signature.
pub fn verify_body<T: AsRef<[u8]>>(
    tokens: &[T],
    url: &str,
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let expected = decode(signature)?;
    let query = url
        .split_once('?')
        .map(|(_, rest)| rest.split_once('#').map_or(rest, |(query, _)| query));
    let claimed = query
        .and_then(body_sha256_param)
        .ok_or(SignatureError::Malformed(
            "the signed URL has no bodySHA256 query parameter",
        ))?;
    let claimed = hex::decode(claimed).map_err(|_| {
        SignatureError::Malformed("the bodySHA256 query parameter is not hex of a SHA-256")
    })?;
    if claimed.len() != 32 {
        return Err(SignatureError::Malformed(
            "the bodySHA256 query parameter is not hex of a SHA-256",
        ));
    }
    let body_matches = Sha256::digest(body).as_slice().ct_eq(&claimed);
    let signed = matches_any(tokens, url, &[], &expected);
    if bool::from(body_matches & signed) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Whether any token signs any URL variant with `params` as `expected`, trying all.
fn matches_any<T: AsRef<[u8]>>(
    tokens: &[T],
    url: &str,
    params: &[(String, String)],
    expected: &[u8; SIGNATURE_LEN],
) -> Choice {
    let mut matched = Choice::from(0);
    for variant in url_variants(url) {
        for token in tokens {
            matched |= mac(token.as_ref(), &variant, params).ct_eq(expected);
        }
    }
    matched
}

/// HMAC-SHA1 over `url` and the sorted parameters, fed part by part.
fn mac(key: &[u8], url: &str, params: &[(String, String)]) -> [u8; SIGNATURE_LEN] {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = <Hmac<Sha1>>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.finalize().into_bytes().into()
}

/// Decodes the header value into the 20 bytes of an HMAC-SHA1 tag.
fn decode(signature: &str) -> Result<[u8; SIGNATURE_LEN], SignatureError> {
    let bytes = BASE64
        .decode(signature)
        .map_err(|_| SignatureError::Malformed("signature is not valid base64"))?;
    <[u8; SIGNATURE_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
        SignatureError::Malformed(
            "signature is not 20 bytes long (28 base64 characters expected for HMAC-SHA1)",
        )
    })
}

/// Where the parts of a URL's authority are, as byte offsets into the URL.
struct Authority<'a> {
    scheme: &'a str,
    /// The end of the authority (where the path, query or fragment starts).
    end: usize,
    /// The digits after the host's `:`, when there is one (possibly empty).
    port: Option<std::ops::Range<usize>>,
}

impl<'a> Authority<'a> {
    /// Finds the authority of `scheme://[userinfo@]host[:port]…`; `None` for anything else.
    fn find(url: &'a str) -> Option<Self> {
        let (scheme, _) = url.split_once("://")?;
        let start = scheme.len() + 3;
        let end = url[start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| start + i);
        let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
        let host = &url[host_start..end];
        // An IPv6 literal holds colons of its own; the port can only follow its `]`.
        let after_host = if host.starts_with('[') {
            host_start + host.find(']')? + 1
        } else {
            host.rfind(':').map_or(end, |i| host_start + i)
        };
        let port = url[after_host..end]
            .strip_prefix(':')
            .map(|_| after_host + 1..end);
        Some(Authority { scheme, end, port })
    }
}

#[cfg(test)]
mod tests {
    use super::{
        BODY_SHA256_PARAM, body_sha256, body_sha256_param, sign, url_variants, verify, verify_body,
    };
    use crate::SignatureError;
    use serde_json::Value;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    /// The parameters of twilio-python's `test_compute_signature`.
    fn official_params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// Decodes an `application/x-www-form-urlencoded` body the way a receiver must: `+`
    /// is a space, `%XX` a byte. Enough for the fixture bodies, which are ASCII.
    fn form(body: &str) -> Vec<(String, String)> {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            let mut out = Vec::new();
            let bytes = s.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                    out.push(u8::from_str_radix(hex, 16).expect("a %XX escape"));
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).expect("utf-8")
        };
        body.split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect()
    }

    #[test]
    fn sign_matches_twilio_python_compute_signature() {
        assert_eq!(
            sign(TOKEN, URL, &official_params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut params = official_params();
        params.reverse();
        assert_eq!(sign(TOKEN, URL, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }

    #[test]
    fn repeated_names_sort_by_value() {
        let params = form("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234");
        assert_eq!(sign(TOKEN, URL, &params), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    #[test]
    fn url_variants_remove_and_add_ports() {
        assert_eq!(
            url_variants("https://mycompany.com/myapp.php?foo=1"),
            [
                "https://mycompany.com/myapp.php?foo=1",
                "https://mycompany.com:443/myapp.php?foo=1"
            ]
        );
        assert_eq!(
            url_variants("http://mycompany.com?x=1:2"),
            [
                "http://mycompany.com?x=1:2",
                "http://mycompany.com:80?x=1:2"
            ]
        );
        assert_eq!(
            url_variants("https://mycompany.com:1234/a"),
            ["https://mycompany.com:1234/a", "https://mycompany.com/a"]
        );
        assert_eq!(
            url_variants("https://user:pw@[::1]:8443/a"),
            ["https://user:pw@[::1]:8443/a", "https://user:pw@[::1]/a"]
        );
        assert_eq!(
            url_variants("https://[::1]/a"),
            ["https://[::1]/a", "https://[::1]:443/a"]
        );
        assert_eq!(url_variants("ftp://host/a"), ["ftp://host/a"]);
        assert_eq!(url_variants("not a url"), ["not a url"]);
    }

    #[test]
    fn rotation_accepts_either_token_and_rejects_others() {
        let signature = sign(TOKEN, URL, &official_params());
        for tokens in [["old", TOKEN], [TOKEN, "next"]] {
            assert_eq!(verify(&tokens, URL, &official_params(), &signature), Ok(()));
        }
        assert_eq!(
            verify(&["old", "next"], URL, &official_params(), &signature),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify::<&str>(&[], URL, &official_params(), &signature),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_changed_parameter_is_a_mismatch() {
        let signature = sign(TOKEN, URL, &official_params());
        let mut params = official_params();
        params[2].1.push('5');
        assert_eq!(
            verify(&[TOKEN], URL, &params, &signature),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_signatures_are_named() {
        let signature = sign(TOKEN, URL, &official_params());
        for (bad, detail) in [
            ("not base64!", "signature is not valid base64"),
            (
                signature.trim_end_matches('='),
                "signature is not valid base64",
            ),
            (
                "AAAA",
                "signature is not 20 bytes long (28 base64 characters expected for HMAC-SHA1)",
            ),
        ] {
            assert_eq!(
                verify(&[TOKEN], URL, &official_params(), bad),
                Err(SignatureError::Malformed(detail)),
                "{bad}"
            );
        }
    }

    #[test]
    fn body_sha256_param_reads_only_that_exact_name() {
        assert_eq!(body_sha256_param("a=1&bodySHA256=ab&c"), Some("ab"));
        assert_eq!(body_sha256_param("bodysha256=ab"), None);
        assert_eq!(body_sha256_param("xbodySHA256=ab"), None);
        assert_eq!(body_sha256_param(""), None);
    }

    #[test]
    fn json_body_is_bound_by_its_hash() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = format!("{URL}&{BODY_SHA256_PARAM}={}", body_sha256(body));
        let signature = sign(TOKEN, &url, &[]);
        assert_eq!(signature, "a9nBmqA0ju/hNViExpshrM61xv4=");
        assert_eq!(verify_body(&[TOKEN], &url, body, &signature), Ok(()));
        let upper = url.replace(&body_sha256(body), &body_sha256(body).to_ascii_uppercase());
        assert_eq!(
            verify_body(&[TOKEN], &upper, body, &sign(TOKEN, &upper, &[])),
            Ok(()),
            "the hash compares as bytes"
        );

        let mut changed = body.to_vec();
        changed[2] = b'P';
        assert_eq!(
            verify_body(&[TOKEN], &url, &changed, &signature),
            Err(SignatureError::Mismatch),
            "a changed body no longer hashes to the signed parameter"
        );
        assert_eq!(
            verify_body(&["other"], &url, body, &signature),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_body(&[TOKEN], URL, body, &sign(TOKEN, URL, &[])),
            Err(SignatureError::Malformed(
                "the signed URL has no bodySHA256 query parameter"
            ))
        );
        let short = format!("{URL}&{BODY_SHA256_PARAM}=abcd");
        assert_eq!(
            verify_body(&[TOKEN], &short, body, &sign(TOKEN, &short, &[])),
            Err(SignatureError::Malformed(
                "the bodySHA256 query parameter is not hex of a SHA-256"
            ))
        );
    }

    /// The vectors of `tests/fixtures/twilio.json` (a copy of hookd's shared provider
    /// fixtures): each is checked with the URL the vector names, and valid ones must
    /// re-sign to the published signature over the URL variant Twilio used.
    #[test]
    fn fixture_vectors() {
        let path = format!("{}/tests/fixtures/twilio.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let json: Value = serde_json::from_str(&text).expect("the fixture is JSON");
        let vectors = json["vectors"].as_array().expect("vectors");
        assert_eq!(vectors.len(), 6, "every vector is checked below");
        for v in vectors {
            let id = v["id"].as_str().expect("id");
            let url = v["url"].as_str().expect("url");
            let body = v["body"].as_str().expect("body");
            let token = v["secret"].as_str().expect("secret");
            let signature = v["headers"]["X-Twilio-Signature"].as_str().expect("sig");
            assert_eq!(Some(signature), v["expected_signature"].as_str(), "{id}");
            assert_eq!(
                Some(body_sha256(body.as_bytes()).as_str()),
                v["body_sha256"].as_str(),
                "{id}: the loaded body is the signed bytes"
            );
            let json_body = v["body_sha256_query_param"].as_str().is_some();
            let result = if json_body {
                verify_body(&[token], url, body.as_bytes(), signature)
            } else {
                verify(&[token], url, &form(body), signature)
            };
            let valid = v["expected_result"] == "valid";
            if valid {
                assert_eq!(result, Ok(()), "{id}");
                let params = if json_body { Vec::new() } else { form(body) };
                let resigned = url_variants(url)
                    .iter()
                    .any(|variant| sign(token, variant, &params) == signature);
                assert!(resigned, "{id}: sign() reproduces the signature");
            } else {
                assert_eq!(result, Err(SignatureError::Mismatch), "{id}");
            }
            if let Some(params) = v["params"].as_object() {
                let given: Vec<(String, String)> = params
                    .iter()
                    .map(|(n, v)| (n.clone(), v.as_str().expect("text").to_owned()))
                    .collect();
                let mut decoded = form(body);
                decoded.sort();
                let mut given_sorted = given.clone();
                given_sorted.sort();
                assert_eq!(decoded, given_sorted, "{id}: the body encodes the params");
                let signed: String = std::iter::once(url.to_owned())
                    .chain(given_sorted.iter().map(|(n, v)| format!("{n}{v}")))
                    .collect();
                assert_eq!(Some(signed.as_str()), v["string_to_sign"].as_str(), "{id}");
            }
        }
    }
}
