//! Argon2id password hashes in the PHC string format (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`),
//! so that each stored hash says which parameters made it and can be redone when they change.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP's Password Storage Cheat Sheet (2024), first Argon2id line: 19 MiB, 2 passes, 1 lane.
/// Measured on the 2-core test machine: see docs/benchmarks.md ("Accounts").
pub const MEMORY_KIB: u32 = 19_456;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

/// NIST SP 800-63B: at least 8 characters. The upper bound only keeps a body from making
/// Argon2 hash megabytes.
pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 256;

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs {MIN_CHARS} to {MAX_CHARS} characters")]
    Length,
    #[error("hashing the password failed")]
    Hash(#[source] argon2::password_hash::Error),
}

pub fn check_length(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if (MIN_CHARS..=MAX_CHARS).contains(&n) {
        Ok(())
    } else {
        Err(PasswordError::Length)
    }
}

/// A new PHC string with a random salt. Slow on purpose (tens of milliseconds): call it on the
/// blocking pool.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(PasswordError::Hash)
}

/// What a login learns from a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Right, but made with other parameters or another algorithm: store a new hash.
    YesRehash,
}

/// Checks `password` against `stored` with the parameters `stored` names; a hash that does not
/// parse never matches.
pub fn verify(password: &str, stored: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    if is_current(&parsed) {
        Verified::Yes
    } else {
        Verified::YesRehash
    }
}

fn is_current(parsed: &PasswordHash<'_>) -> bool {
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    parsed.algorithm == argon2::ARGON2ID_IDENT
        && parsed.version == Some(Version::V0x13 as u32)
        && params.m_cost() == MEMORY_KIB
        && params.t_cost() == PASSES
        && params.p_cost() == LANES
}

/// A hash of a password nobody has, verified for unknown accounts so that a login for a
/// name that does not exist takes as long as a wrong password for one that does.
pub fn dummy() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash(&format!("{random:x?}")).expect("hashing a fixed-size input cannot fail")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_eq!(verify("correct horse", &stored), Verified::Yes);
        assert_eq!(verify("correct hors", &stored), Verified::No);
        assert_eq!(verify("correct horse", "not a hash"), Verified::No);
    }

    #[test]
    fn a_hash_with_older_parameters_asks_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let old = weak.hash_password(b"hunter22", &salt).unwrap().to_string();
        assert_eq!(verify("hunter22", &old), Verified::YesRehash);
        assert_eq!(verify("hunter23", &old), Verified::No);
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(check_length("1234567").is_err());
        assert!(check_length("12345678").is_ok());
        assert!(check_length(&"x".repeat(257)).is_err());
    }
}
