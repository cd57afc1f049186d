//! Signature verification per preset scheme on a 1 KiB JSON body.
//!
//! Every input is signed before the clock starts (the signing keys and secrets are fixed
//! test values), checked once to verify (or, for the mismatch case, to fail with
//! [`SignatureError::Mismatch`]), and only the verifying call is measured. One secret or
//! key per source, as a source without rotation has.
//!
//! ```sh
//! cargo bench -p hookd-signature --bench verify
//! ```

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use hookd_signature::highlevel::{self, Ed25519Key, RsaKey};
use hookd_signature::standard_webhooks::{self, Secret};
use hookd_signature::{
    Encoding, SignatureError, encode_signature, hmac_sha256, stripe, twilio, verify_hmac_sha256,
};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;
use rsa::pkcs1v15::SigningKey as RsaSigningKey;
use rsa::pkcs8::EncodePublicKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// The size of every body: a typical small webhook.
const BODY_LEN: usize = 1024;

/// The clock of every timestamped scheme, and the timestamp its deliveries are signed at.
const NOW: i64 = 1_700_000_000;

/// HighLevel signs `x-wh-signature` with a 4096-bit RSA key; the cost of verifying grows
/// with the modulus, so the benchmark key has the same size.
const RSA_BITS: usize = 4096;

/// A compact JSON body of exactly [`BODY_LEN`] bytes.
fn body() -> Vec<u8> {
    let head = r#"{"type":"order.paid","id":"evt_01JABCDEF0123456789","data":{"note":""#;
    let tail = r#""}}"#;
    let mut body = head.as_bytes().to_vec();
    body.resize(BODY_LEN - tail.len(), b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Form parameters of about [`BODY_LEN`] bytes when encoded, as Twilio posts them.
fn twilio_params() -> Vec<(String, String)> {
    let mut params = vec![
        ("AccountSid".to_owned(), format!("AC{}", "0".repeat(32))),
        ("From".to_owned(), "+14158675309".to_owned()),
        ("To".to_owned(), "+14155550100".to_owned()),
        ("MessageSid".to_owned(), format!("SM{}", "1".repeat(32))),
    ];
    let encoded: usize = params.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    params.push(("Body".to_owned(), "x".repeat(BODY_LEN - encoded - 6)));
    params
}

/// Fails the benchmark before it starts when an input does not verify as intended.
fn check(case: &str, result: &Result<(), SignatureError>, expected: &Result<(), SignatureError>) {
    assert_eq!(result, expected, "{case}: the setup is wrong");
}

fn verify(c: &mut Criterion) {
    let body = body();
    let mut group = c.benchmark_group("verify_1KiB");
    group.throughput(Throughput::Bytes(BODY_LEN as u64));

    // Generic HMAC-SHA256 (the `generic-hmac` source and the GitHub preset): hex with the
    // `sha256=` prefix, and plain base64.
    let secret = b"It's a Secret to Everybody";
    let mac = hmac_sha256(secret, &[&body]);
    let hex = encode_signature(&mac, Encoding::Hex, Some("sha256="));
    let base64 = encode_signature(&mac, Encoding::Base64, None);
    let hmac_hex = |signature: &str| {
        verify_hmac_sha256(
            &[secret],
            &[&body],
            signature,
            Encoding::Hex,
            Some("sha256="),
        )
    };
    check("hmac_sha256_hex", &hmac_hex(&hex), &Ok(()));
    group.bench_function("hmac_sha256_hex", |b| {
        b.iter(|| hmac_hex(black_box(&hex)));
    });
    check(
        "hmac_sha256_base64",
        &verify_hmac_sha256(&[secret], &[&body], &base64, Encoding::Base64, None),
        &Ok(()),
    );
    group.bench_function("hmac_sha256_base64", |b| {
        b.iter(|| {
            verify_hmac_sha256(
                &[secret],
                &[black_box(&body)],
                black_box(&base64),
                Encoding::Base64,
                None,
            )
        });
    });

    // A well-formed signature of another secret: every MAC is still computed and compared,
    // so a forgery costs what a genuine delivery costs.
    let forged = encode_signature(
        &hmac_sha256(b"another secret", &[&body]),
        Encoding::Hex,
        Some("sha256="),
    );
    check(
        "hmac_sha256_hex_mismatch",
        &hmac_hex(&forged),
        &Err(SignatureError::Mismatch),
    );
    group.bench_function("hmac_sha256_hex_mismatch", |b| {
        b.iter(|| hmac_hex(black_box(&forged)));
    });

    // Standard Webhooks v1.
    let secrets = [Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret")];
    let id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
    let timestamp = NOW.to_string();
    let signature = secrets[0].sign(id, NOW, &body);
    let standard = |body: &[u8]| {
        standard_webhooks::verify(
            &secrets,
            id,
            &timestamp,
            &signature,
            body,
            NOW,
            standard_webhooks::DEFAULT_TOLERANCE_SECS,
        )
    };
    check("standard_webhooks", &standard(&body), &Ok(()));
    group.bench_function("standard_webhooks", |b| {
        b.iter(|| standard(black_box(&body)));
    });

    // Stripe: `Stripe-Signature: t=…,v1=…`.
    let stripe_secret = ["whsec_test_secret"];
    let header = stripe::sign(stripe_secret[0], NOW, &body);
    let stripe_verify = |body: &[u8]| {
        stripe::verify(
            &stripe_secret,
            &header,
            body,
            NOW,
            stripe::DEFAULT_TOLERANCE_SECS,
        )
    };
    check("stripe", &stripe_verify(&body), &Ok(()));
    group.bench_function("stripe", |b| {
        b.iter(|| stripe_verify(black_box(&body)));
    });

    // Twilio: HMAC-SHA1 over the URL and the sorted form parameters, for every URL
    // variant (with and without the default port); and a JSON body bound by `bodySHA256`.
    let token = ["12345"];
    let url = "https://hooks.example.com/in/twilio";
    let params = twilio_params();
    let form_signature = twilio::sign(token[0], url, &params);
    check(
        "twilio_form",
        &twilio::verify(&token, url, &params, &form_signature),
        &Ok(()),
    );
    group.bench_function("twilio_form", |b| {
        b.iter(|| twilio::verify(&token, url, black_box(&params), black_box(&form_signature)));
    });
    let json_url = format!(
        "{url}?{}={}",
        twilio::BODY_SHA256_PARAM,
        twilio::body_sha256(&body)
    );
    let json_signature = twilio::sign(token[0], &json_url, &[]);
    check(
        "twilio_json",
        &twilio::verify_body(&token, &json_url, &body, &json_signature),
        &Ok(()),
    );
    group.bench_function("twilio_json", |b| {
        b.iter(|| twilio::verify_body(&token, &json_url, black_box(&body), &json_signature));
    });

    // HighLevel `x-ghl-signature`: Ed25519 over the raw body.
    let private_pem = SigningKey::from_bytes(&[7; 32])
        .to_pkcs8_pem(LineEnding::LF)
        .expect("PKCS#8 PEM");
    let ed_keys = [Ed25519Key::from_pem(
        &highlevel::ed25519_public_key_pem(&private_pem).expect("public key"),
    )
    .expect("Ed25519 key")];
    let ed_signature = highlevel::sign_ed25519(&private_pem, &body).expect("sign");
    check(
        "highlevel_ed25519",
        &highlevel::verify_ed25519(&ed_keys, &body, &ed_signature),
        &Ok(()),
    );
    group.bench_function("highlevel_ed25519", |b| {
        b.iter(|| highlevel::verify_ed25519(&ed_keys, black_box(&body), &ed_signature));
    });

    // HighLevel `x-wh-signature`: RSA PKCS#1 v1.5 with SHA-256. The key is generated from a
    // fixed seed, so every run verifies with the same key.
    let private = RsaPrivateKey::new(&mut ChaCha8Rng::seed_from_u64(7), RSA_BITS).expect("RSA key");
    let public_pem = RsaPublicKey::from(&private)
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .expect("SPKI PEM");
    let rsa_keys = [RsaKey::from_pem(&public_pem).expect("RSA key")];
    let rsa_signature = BASE64.encode(RsaSigningKey::<Sha256>::new(private).sign(&body).to_vec());
    check(
        "highlevel_rsa",
        &highlevel::verify_rsa(&rsa_keys, &body, &rsa_signature),
        &Ok(()),
    );
    group.bench_function("highlevel_rsa", |b| {
        b.iter(|| highlevel::verify_rsa(&rsa_keys, black_box(&body), &rsa_signature));
    });

    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
