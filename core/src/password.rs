//! Password hashing with argon2id (the RustCrypto `argon2` crate, OWASP's
//! recommended parameters by default) and the password policy.

use crate::{CoreError, CoreResult};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// Checks the policy: long enough to resist guessing, short enough that
/// hashing it cannot be used to exhaust the server.
pub fn check_policy(password: &SecretString) -> CoreResult<()> {
    let len = password.expose_secret().chars().count();
    if len < MIN_LEN {
        return Err(CoreError::invalid("password", format!("at least {MIN_LEN} characters")));
    }
    if len > MAX_LEN {
        return Err(CoreError::invalid("password", format!("at most {MAX_LEN} characters")));
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

    #[test]
    fn the_policy_bounds_length() {
        assert!(check_policy(&SecretString::from("short")).is_err());
        assert!(check_policy(&SecretString::from("x".repeat(MAX_LEN + 1))).is_err());
        assert!(check_policy(&SecretString::from("twelve chars")).is_ok());
    }

    #[test]
    fn generated_passwords_meet_the_policy_and_differ() {
        let a = generate();
        let b = generate();
        assert!(check_policy(&a).is_ok());
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
