//! Signs requests the way a `generic-hmac` sender does: real HMAC-SHA256 (from
//! `hookd-signature`) over the `signed_payload` template, encoded in hex or base64 with an
//! optional prefix, with an optional timestamp header.

use hookd_signature::{Encoding, encode_signature, hmac_sha256};

use super::now_secs;

/// One sender's signing settings; mirror the source's keys.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    secret: String,
    header: String,
    encoding: Encoding,
    prefix: Option<String>,
    timestamp_header: Option<String>,
    template: String,
}

/// Headers of a request, lower case names, in the order they are sent.
pub(crate) type Headers = Vec<(String, String)>;

impl Signer {
    /// Hex HMAC of `{body}` with `secret` in `x-signature`, no prefix, no timestamp: the
    /// defaults of a `generic-hmac` source with `signature_header = "x-signature"`.
    pub(crate) fn new(secret: &str) -> Self {
        Self {
            secret: secret.to_owned(),
            header: "x-signature".to_owned(),
            encoding: Encoding::Hex,
            prefix: None,
            timestamp_header: None,
            template: "{body}".to_owned(),
        }
    }

    /// Signs with another secret, all else equal.
    pub(crate) fn secret(mut self, secret: &str) -> Self {
        secret.clone_into(&mut self.secret);
        self
    }

    /// `encoding = "base64"`.
    pub(crate) fn base64(mut self) -> Self {
        self.encoding = Encoding::Base64;
        self
    }

    /// `prefix = "…"`.
    pub(crate) fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = Some(prefix.to_owned());
        self
    }

    /// `timestamp_header = "…"`: the current time is sent (and signed where the template
    /// says `{timestamp}`).
    pub(crate) fn timestamp_header(mut self, name: &str) -> Self {
        self.timestamp_header = Some(name.to_owned());
        self
    }

    /// `signed_payload = "…"`.
    pub(crate) fn payload(mut self, template: &str) -> Self {
        template.clone_into(&mut self.template);
        self
    }

    /// The signature header value for `body`, with `timestamp` standing for
    /// `{timestamp}` and `headers` for `{header:NAME}`.
    pub(crate) fn signature(
        &self,
        body: &[u8],
        timestamp: &str,
        headers: &[(String, String)],
    ) -> String {
        let parts = render(&self.template, body, timestamp, headers);
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let mac = hmac_sha256(self.secret.as_bytes(), &parts);
        encode_signature(&mac, self.encoding, self.prefix.as_deref())
    }

    /// Every header of a genuine JSON request now: `content-type`, the timestamp (when the
    /// signer has one) and the signature.
    pub(crate) fn headers(&self, body: &[u8]) -> Headers {
        self.headers_at(body, &now_secs().to_string())
    }

    /// As [`Signer::headers`], with `timestamp` sent and signed as given (stale, future
    /// or garbage timestamps are correctly signed, so only the timestamp is wrong).
    pub(crate) fn headers_at(&self, body: &[u8], timestamp: &str) -> Headers {
        self.headers_with(body, timestamp, Vec::new())
    }

    /// As [`Signer::headers_at`], plus `extra` headers, which are sent and available to
    /// `{header:NAME}`.
    pub(crate) fn headers_with(&self, body: &[u8], timestamp: &str, extra: Headers) -> Headers {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(name) = &self.timestamp_header {
            headers.push((name.clone(), timestamp.to_owned()));
        }
        headers.extend(extra);
        let signature = self.signature(body, timestamp, &headers);
        headers.push((self.header.clone(), signature));
        headers
    }
}

/// The message parts of `template`: `{body}`, `{timestamp}`, `{header:NAME}` and literal
/// text between them.
fn render(
    template: &str,
    body: &[u8],
    timestamp: &str,
    headers: &[(String, String)],
) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        parts.push(rest.as_bytes()[..open].to_vec());
        let close = rest[open..].find('}').expect("a closed placeholder") + open;
        let name = &rest[open + 1..close];
        let value = match name {
            "body" => body.to_vec(),
            "timestamp" => timestamp.as_bytes().to_vec(),
            _ => {
                let header = name
                    .strip_prefix("header:")
                    .unwrap_or_else(|| panic!("the test signer has no placeholder {{{name}}}"));
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(header))
                    .map(|(_, v)| v.as_bytes().to_vec())
                    .unwrap_or_default()
            }
        };
        parts.push(value);
        rest = &rest[close + 1..];
    }
    parts.push(rest.as_bytes().to_vec());
    parts
}
