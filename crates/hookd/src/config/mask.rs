//! Secrets of configuration objects are write-only: the API shows them masked, and takes
//! a masked value sent back unchanged as "keep the current secret".
//!
//! A secret of [`SHOWN_FROM_CHARS`] characters or more is shown as `••••` and its last
//! [`SHOWN_CHARS`] characters (`••••aSw1`), enough to tell secrets apart in a rotation
//! without giving away a useful part of them; a shorter one is shown as `••••` alone. A
//! value that starts with `••••` is a masked one: it stands for the current secret at the
//! same place in the list when that one masks to it, else for the one current secret that
//! masks to it; one that matches none (or several) is refused, so that a typo never
//! becomes a secret.

use hookd_store::ConfigKind;
use toml::{Table, Value};

/// What every masked value starts with.
pub(crate) const MASK: &str = "••••";

/// How many trailing characters of a long secret are shown.
pub(crate) const SHOWN_CHARS: usize = 4;

/// How long a secret must be, in characters, for its last characters to be shown.
pub(crate) const SHOWN_FROM_CHARS: usize = 16;

/// The keys of an object of `kind` whose values are secrets: a string or a list of them.
pub(crate) fn secret_keys(kind: ConfigKind) -> &'static [&'static str] {
    match kind {
        ConfigKind::Source => &["secrets", "verify_token"],
        ConfigKind::Destination => &["secret"],
        ConfigKind::Route | ConfigKind::Queue => &[],
    }
}

/// `secret` as the API shows it.
pub(crate) fn mask_value(secret: &str) -> String {
    let chars = secret.chars().count();
    if chars < SHOWN_FROM_CHARS {
        return MASK.to_owned();
    }
    let tail: String = secret.chars().skip(chars - SHOWN_CHARS).collect();
    format!("{MASK}{tail}")
}

/// Whether `value` is a masked secret rather than a secret.
fn is_masked(value: &str) -> bool {
    value.starts_with(MASK)
}

/// `object` (of `kind`) with every secret masked.
pub(crate) fn mask(kind: ConfigKind, object: &Table) -> Table {
    let mut masked = object.clone();
    for key in secret_keys(kind) {
        match masked.get_mut(*key) {
            Some(Value::String(secret)) => *secret = mask_value(secret),
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::String(secret) = item {
                        *secret = mask_value(secret);
                    }
                }
            }
            _ => {}
        }
    }
    masked
}

/// Replaces every masked value in `object` (of `kind`) by the secret of `current` it
/// stands for.
///
/// # Errors
///
/// `(JSON pointer, problem)` for each masked value that stands for no current secret.
pub(crate) fn unmask(
    kind: ConfigKind,
    object: &mut Table,
    current: Option<&Table>,
) -> Result<(), Vec<(String, String)>> {
    let mut problems = Vec::new();
    for key in secret_keys(kind) {
        let known = current.map(|c| strings(c.get(*key))).unwrap_or_default();
        match object.get_mut(*key) {
            Some(Value::String(value)) if is_masked(value) => match resolve(value, 0, &known) {
                Some(secret) => *value = secret,
                None => problems.push((format!("/{key}"), unknown_mask(value))),
            },
            Some(Value::Array(items)) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let Value::String(value) = item
                        && is_masked(value)
                    {
                        match resolve(value, i, &known) {
                            Some(secret) => *value = secret,
                            None => problems.push((format!("/{key}/{i}"), unknown_mask(value))),
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The strings of a secret key: one, or those of a list.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The current secret the masked `value` at place `i` stands for.
fn resolve(value: &str, i: usize, known: &[String]) -> Option<String> {
    if let Some(same_place) = known.get(i)
        && mask_value(same_place) == value
    {
        return Some(same_place.clone());
    }
    let mut matching = known.iter().filter(|secret| mask_value(secret) == value);
    match (matching.next(), matching.next()) {
        (Some(one), None) => Some(one.clone()),
        _ => None,
    }
}

fn unknown_mask(value: &str) -> String {
    format!(
        "{value:?} is a masked secret that stands for none of the current secrets (or for \
         several); send the secret itself"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        toml::from_str(text).expect("valid TOML")
    }

    #[test]
    fn long_secrets_show_their_last_four_characters_and_short_ones_nothing() {
        assert_eq!(
            mask_value("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "••••LaSw"
        );
        assert_eq!(mask_value("s3cr3t"), "••••");
        assert_eq!(mask_value("0123456789abcdef"), "••••cdef");
        assert_eq!(mask_value("0123456789abcde"), "••••");
    }

    #[test]
    fn every_secret_key_is_masked_and_nothing_else() {
        let source = table(
            r#"secrets = ["old-secret-0123456789", "new"]
               verify_token = "tok"
               signature_header = "x-signature""#,
        );
        let masked = mask(ConfigKind::Source, &source);
        assert_eq!(
            masked,
            table(
                r#"secrets = ["••••6789", "••••"]
                   verify_token = "••••"
                   signature_header = "x-signature""#
            )
        );
        let destination = table(r#"secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw""#);
        assert_eq!(
            mask(ConfigKind::Destination, &destination),
            table(r#"secret = "••••LaSw""#)
        );
    }

    #[test]
    fn masked_values_sent_back_keep_their_secrets_and_new_ones_are_taken() {
        let current = table(r#"secrets = ["old-secret-0123456789", "short"]"#);
        // Rotation: a new secret first, the old ones kept by their masks.
        let mut edited = table(r#"secrets = ["brand-new", "••••6789", "••••"]"#);
        unmask(ConfigKind::Source, &mut edited, Some(&current)).expect("resolves");
        assert_eq!(
            edited,
            table(r#"secrets = ["brand-new", "old-secret-0123456789", "short"]"#)
        );
    }

    #[test]
    fn a_masked_value_that_stands_for_no_current_secret_is_refused() {
        let current = table(r#"secrets = ["a", "b"]"#);
        // Two short secrets mask alike: only the same place decides.
        let mut kept = table(r#"secrets = ["••••", "••••"]"#);
        unmask(ConfigKind::Source, &mut kept, Some(&current)).expect("by place");
        assert_eq!(kept, current);
        let mut ambiguous = table(r#"secrets = ["x", "y", "••••"]"#);
        let problems =
            unmask(ConfigKind::Source, &mut ambiguous, Some(&current)).expect_err("ambiguous");
        assert_eq!(problems[0].0, "/secrets/2");
        let mut new = table(r#"verify_token = "••••abcd""#);
        let problems = unmask(ConfigKind::Source, &mut new, None).expect_err("nothing current");
        assert_eq!(problems[0].0, "/verify_token");
    }
}
