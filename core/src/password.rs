//! Password hashing with argon2id (the RustCrypto `argon2` crate, OWASP's
//! recommended parameters by default) and the password policy.

use crate::{CoreError, CoreResult};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// How much of a password the strength estimate reads: zxcvbn's matching
/// grows faster than linearly with length, and a passphrase longer than
/// this is not made weak by what follows.
const ESTIMATE_CHARS: usize = 100;

/// Checks the policy: long enough to resist guessing, short enough that
/// hashing it cannot be used to exhaust the server, not built on the user
/// name, and not guessable. Guessability is zxcvbn's estimate, which knows
/// the passwords most common in breaches, dictionary words, names, keyboard
/// patterns, dates and repeats; a password must score 3 of 4 (about 10^10
/// guesses: safe against an offline attack on a slow hash like ours).
pub fn check_policy(password: &SecretString, user: &str) -> CoreResult<()> {
    let pw = password.expose_secret();
    let len = pw.chars().count();
    if len < MIN_LEN {
        return Err(CoreError::invalid("password", format!("at least {MIN_LEN} characters")));
    }
    if len > MAX_LEN {
        return Err(CoreError::invalid("password", format!("at most {MAX_LEN} characters")));
    }
    let user = user.trim().to_lowercase();
    if user.chars().count() >= 3 && pw.to_lowercase().contains(&user) {
        return Err(CoreError::invalid("password", "must not contain the user name"));
    }
    let head: String = pw.chars().take(ESTIMATE_CHARS).collect();
    let estimate = zxcvbn::zxcvbn(&head, &[user.as_str(), "attest"]);
    if (estimate.score() as u8) < 3 {
        let why = estimate.feedback().and_then(|f| f.warning()).map(|w| w.to_string());
        let message = match why {
            Some(w) => format!("is too easy to guess: {}", w.trim_end_matches('.').to_lowercase()),
            None => "is too easy to guess".to_string(),
        };
        return Err(CoreError::invalid(
            "password",
            format!("{message}; use a longer phrase of unrelated words, or let the portal generate one"),
        ));
    }
    Ok(())
}

pub fn hash(password: &SecretString) -> CoreResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("hashing a password: {e}")))
}

/// Verifies a password against a stored PHC string. A malformed stored hash
/// counts as a mismatch (and is logged), never as a success.
pub fn verify(password: &SecretString, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash is malformed");
            false
        }
    }
}

/// A valid hash of a random password, verified against when the account does
/// not exist so that a failed sign-in takes as long either way.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let random = SecretString::from(crate::tokens::random_secret());
        hash(&random).unwrap_or_default()
    })
}

/// A random password for a new account, printed once to whoever created it.
pub fn generate() -> SecretString {
    SecretString::from(crate::tokens::random_secret()[..24].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let pw = SecretString::from("correct horse battery staple");
        let h = hash(&pw).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify(&pw, &h));
        assert!(!verify(&SecretString::from("correct horse battery stapler"), &h));
        assert!(!verify(&pw, "not a phc string"));
    }

    fn refusal(pw: &str, user: &str) -> Option<String> {
        check_policy(&SecretString::from(pw), user).err().map(|e| e.to_string())
    }

    #[test]
    fn the_policy_bounds_length() {
        assert!(refusal("short", "vera").unwrap().contains("at least 12"));
        assert!(refusal(&"x".repeat(MAX_LEN + 1), "vera").unwrap().contains("at most"));
        assert_eq!(refusal("quiet violin orbit marmalade", "vera"), None);
    }

    #[test]
    fn common_and_breached_passwords_are_refused_with_the_reason() {
        for pw in ["password1234", "123456789012", "qwertyuiop123", "iloveyou2024!", "aaaaaaaaaaaa", "Password123!"] {
            let why = refusal(pw, "vera").unwrap_or_else(|| panic!("{pw:?} was accepted"));
            assert!(why.contains("too easy to guess"), "{pw}: {why}");
        }
        let why = refusal("qwertyuiopasdf", "vera").unwrap();
        assert!(why.contains("commonly used password"), "the reason says why: {why}");
    }

    #[test]
    fn a_password_must_not_contain_the_user_name() {
        assert_eq!(refusal("Vera-quiet-violin-orbit", "vera").unwrap(), "password: must not contain the user name");
        assert_eq!(refusal("quiet violin orbit marmalade", "al"), None, "names under 3 letters are not matched");
    }

    #[test]
    fn a_long_repeat_is_still_weak() {
        // Only the first 100 characters are estimated (the matcher's cost
        // grows faster than the length); a repeat is still found in them.
        let why = refusal(&"abcd".repeat(MAX_LEN / 4), "vera").unwrap();
        assert!(why.contains("too easy to guess"), "{why}");
    }

    #[test]
    fn generated_passwords_meet_the_policy_and_differ() {
        let a = generate();
        let b = generate();
        assert!(check_policy(&a, "vera").is_ok());
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
