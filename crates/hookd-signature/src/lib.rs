//! Webhook signature schemes: signing and constant-time verification, free of any runtime.
//!
//! This crate sits under the `ingest` stage of hookd (which verifies every inbound webhook
//! against its source's secrets before anything else reads the body) and under the `http`
//! target (which signs outgoing deliveries per Standard Webhooks). It knows nothing about
//! HTTP, headers or configuration: callers pass in the raw header values, the raw body
//! bytes and the clock, and get back `Ok(())` or a [`SignatureError`] whose `Display` text is
//! precise enough to show an API client as the `detail` of a 4xx answer.
//!
//! Building blocks, shared by the provider presets:
//! - [`hmac_sha256`], [`verify_hmac_sha256`] and [`encode_signature`]: HMAC-SHA256 over a
//!   message given in parts (so `{t}.{body}` never needs to be concatenated), with hex or
//!   base64 encoding, an optional exact prefix (`sha256=`) and secret rotation (any of
//!   several secrets may match).
//! - [`parse_unix_timestamp`] and [`check_timestamp`]: replay protection by tolerance.
//! - [`constant_time_eq`]: the comparison every scheme must use.
//! - [`standard_webhooks`]: the complete Standard Webhooks v1 (symmetric) scheme.
//! - [`stripe`]: Stripe's `Stripe-Signature` (`t=…,v1=…`) scheme, signing and verifying.
//! - [`highlevel`]: HighLevel's Ed25519 and RSA signatures with public keys.
//! - [`twilio`]: Twilio's HMAC-SHA1 over the URL and the sorted form parameters, and its
//!   `bodySHA256` variant for JSON bodies.
//!
//! # Invariants
//!
//! - Signatures are always compared in constant time, and every configured secret is tried
//!   (no early exit on the first match), so timing reveals neither the MAC nor which secret
//!   matched.
//! - Verification works on the exact bytes given; nothing is parsed or re-serialised.
//! - Secrets never appear in `Debug` output or error messages.

#![deny(missing_docs)]

mod error;
pub mod highlevel;
mod mac;
pub mod standard_webhooks;
pub mod stripe;
mod timestamp;
pub mod twilio;

pub use crate::error::SignatureError;
pub use crate::mac::{
    Encoding, constant_time_eq, encode_signature, hmac_sha256, verify_hmac_sha256,
};
pub use crate::timestamp::{check_timestamp, parse_unix_timestamp};
