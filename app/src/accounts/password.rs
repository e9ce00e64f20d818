//! Password hashing, verification and the password policy.
//!
//! Hashes are Argon2id with the OWASP parameters (19 MiB of memory, 2 passes, 1 lane) in the
//! PHC string format, so the parameters travel with each hash and can be raised later without
//! breaking stored ones ([`needs_rehash`] says when a hash should be replaced at the next
//! successful sign-in). Hashing is slow and memory-hungry on purpose, so it always runs on
//! tokio's blocking pool: a burst of sign-ins must never stall the async workers.
//!
//! This module must never log, store in plain text, or put into an error message a password,
//! nor any part of one. Passwords arrive as [`SecretString`] and are only exposed to Argon2
//! and to the policy check. Policy violations are message *keys*, not sentences, so the page
//! translates them.

use argon2::password_hash::{self, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Argon2 memory cost in KiB (OWASP: 19 MiB).
const MEMORY_KIB: u32 = 19_456;
/// Argon2 passes over memory (OWASP: 2).
const ITERATIONS: u32 = 2;
/// Argon2 lanes (OWASP: 1). More lanes would let one sign-in occupy several cores.
const PARALLELISM: u32 = 1;

/// Shortest password accepted, in characters.
pub const MIN_LENGTH: usize = 12;
/// Longest password accepted, in characters. Argon2 copes with more; the cap keeps a
/// malicious multi-megabyte "password" from costing memory and time before hashing.
pub const MAX_LENGTH: usize = 128;

/// Context words shorter than this are not looked for inside a password: a three-letter
/// name such as "Ali" occurs inside too many unrelated words to be a useful signal.
const MIN_PERSONAL_WORD: usize = 4;

/// The bundled list of common passwords, lowercased, one per line; `#` lines are comments.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// A well-formed hash with the same parameters as [`hash_password`] whose digest belongs to
/// no known password (salt and digest are random bytes). [`dummy_verify`] checks against it
/// so that an unknown email costs what a known one costs. A test keeps its parameters equal
/// to the real ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$3pbY4wX9qx+4LzyF8T7pEA$\
                          wJ/qJgBnW5Y5mMNCQ6P8wS4v6yPxDGLsmf0x0d6r1nY";

/// Hashing or verifying failed for a reason other than a wrong password.
///
/// `Display` never contains the password or the stored hash.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Argon2 refused its input or parameters.
    #[error("the password hasher failed: {0}")]
    Hasher(password_hash::Error),
    /// The stored value is not a PHC string Argon2 understands.
    #[error("the stored password hash is not a valid PHC string")]
    MalformedHash,
    /// The hashing thread dropped the job (it panicked, or the process is stopping).
    #[error("the password hashing task did not finish")]
    Task,
}

/// An Argon2id hash in PHC string format, ready to store.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    // A hash is not the password, but it is offline-attackable: keep it out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// Why a password was refused; [`PolicyViolation::key`] is the translation key to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("password.too_short")]
    TooShort,
    #[error("password.too_long")]
    TooLong,
    #[error("password.common")]
    Common,
    #[error("password.contains_personal")]
    ContainsPersonal,
}

impl PolicyViolation {
    /// The message key, e.g. `password.too_short`.
    pub fn key(self) -> &'static str {
        match self {
            PolicyViolation::TooShort => "password.too_short",
            PolicyViolation::TooLong => "password.too_long",
            PolicyViolation::Common => "password.common",
            PolicyViolation::ContainsPersonal => "password.contains_personal",
        }
    }
}

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| PasswordError::Hasher(e.into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A copy the blocking task can own; `SecretString` keeps it zeroed on drop.
fn owned(password: &SecretString) -> SecretString {
    SecretString::from(password.expose_secret().to_owned())
}

/// Hashes `password` with Argon2id and a fresh random salt, off the async runtime.
pub async fn hash_password(password: &SecretString) -> Result<PasswordHash, PasswordError> {
    let password = owned(password);
    on_hashing_thread(move || hash_blocking(&password)).await?
}

/// Argon2 is meant to be expensive, and a flood of sign-ins must not starve the rest of the
/// server. Hashing therefore runs on threads of its own, one a core, scheduled `SCHED_IDLE` on
/// Linux: they use only the CPU time nothing else wants, so `/health`, pages and server
/// functions keep their latency while sign-ins queue (`server/benches/sign_in_flood.rs`
/// measures this). Where the policy cannot be set, they run at normal priority.
async fn on_hashing_thread<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    type Job = Box<dyn FnOnce() + Send>;
    static QUEUE: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        for n in 0..threads {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    lower_own_priority();
                    loop {
                        let next = match receiver.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(cause = %err, "could not start a password hashing thread");
            }
        }
        std::sync::Mutex::new(sender)
    });
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(job());
    });
    queue
        .lock()
        .map_err(|_| PasswordError::Task)?
        .send(job)
        .map_err(|_| PasswordError::Task)?;
    result.await.map_err(|_| PasswordError::Task)
}

fn lower_own_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(err) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            tracing::warn!(cause = ?err, "password hashing runs at normal priority");
        }
    }
}

fn hash_blocking(password: &SecretString) -> Result<PasswordHash, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hasher)?;
    let hash = argon2()?
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(PasswordError::Hasher)?;
    Ok(PasswordHash(hash.to_string()))
}

/// Whether `password` matches the stored PHC string, checked off the async runtime.
///
/// `Ok(false)` is a wrong password; `Err` means the stored hash is unusable or the task failed.
pub async fn verify_password(password: &SecretString, stored: &str) -> Result<bool, PasswordError> {
    let password = owned(password);
    let stored = stored.to_owned();
    on_hashing_thread(move || verify_blocking(&password, &stored)).await?
}

fn verify_blocking(password: &SecretString, stored: &str) -> Result<bool, PasswordError> {
    let parsed =
        password_hash::PasswordHash::new(stored).map_err(|_| PasswordError::MalformedHash)?;
    // The parameters come from the stored string, so older, weaker hashes still verify.
    match Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError::Hasher(e)),
    }
}

/// Spends the time and memory of one real verification and throws the result away.
///
/// Call it when the email is unknown (or the account disabled), so the answer takes as long
/// as for a known account and timing does not reveal which emails have accounts.
pub async fn dummy_verify(password: &SecretString) {
    let password = owned(password);
    // The outcome is meaningless by design; only the cost matters.
    let _ = on_hashing_thread(move || verify_blocking(&password, DUMMY_HASH)).await;
}

/// Whether a stored hash was made with other parameters (or another algorithm) than today's,
/// and so should be replaced by a fresh [`hash_password`] after the next successful sign-in.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = password_hash::PasswordHash::new(stored) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(params) => {
            params.m_cost() != MEMORY_KIB
                || params.t_cost() != ITERATIONS
                || params.p_cost() != PARALLELISM
        }
        Err(_) => true,
    }
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
}

/// Checks `password` against the policy.
///
/// `context` holds words a guesser would try first: the email address, its local part, the
/// person's names. Each is also split at non-alphanumeric characters (so `amina.otieno@…`
/// yields `amina` and `otieno`); pieces shorter than four characters are ignored.
/// Length is counted in Unicode scalar values. The first violation found is returned, in the
/// order: too short, too long, common, contains personal words.
pub fn check_policy(password: &SecretString, context: &[&str]) -> Result<(), PolicyViolation> {
    let password = password.expose_secret();
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PolicyViolation::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PolicyViolation::TooLong);
    }
    let lower = password.to_lowercase();
    let common = common_passwords();
    // "Password2024!" is as weak as "password": people append digits and a symbol to satisfy
    // rules, so the list is checked again without that tail.
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    if common.contains(lower.as_str()) || (!stem.is_empty() && common.contains(stem)) {
        return Err(PolicyViolation::Common);
    }
    let personal = context.iter().flat_map(|word| {
        let word = word.trim();
        std::iter::once(word).chain(word.split(|c: char| !c.is_alphanumeric()))
    });
    for word in personal {
        let word = word.to_lowercase();
        if word.chars().count() >= MIN_PERSONAL_WORD && lower.contains(&word) {
            return Err(PolicyViolation::ContainsPersonal);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_different_one_does_not() {
        let hash = hash_password(&secret("correct horse battery staple"))
            .await
            .unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify_password(&secret("correct horse battery staple"), hash.as_str())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(&secret("correct horse battery stapler"), hash.as_str())
                .await
                .unwrap()
        );
        assert!(!needs_rehash(hash.as_str()));
    }

    #[tokio::test]
    async fn the_same_password_hashes_differently_each_time() {
        let a = hash_password(&secret("same password twice")).await.unwrap();
        let b = hash_password(&secret("same password twice")).await.unwrap();
        assert_ne!(a, b, "each hash has its own salt");
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_an_error_not_a_wrong_password() {
        let err = verify_password(&secret("anything at all"), "not-a-phc-string")
            .await
            .unwrap_err();
        assert!(matches!(err, PasswordError::MalformedHash));
    }

    #[tokio::test]
    async fn the_dummy_hash_uses_todays_parameters_and_dummy_verify_completes() {
        assert!(
            !needs_rehash(DUMMY_HASH),
            "DUMMY_HASH must cost what a real hash costs"
        );
        // It must parse, or dummy_verify would return early and be cheap.
        assert!(matches!(
            verify_blocking(&secret("whatever"), DUMMY_HASH),
            Ok(false)
        ));
        dummy_verify(&secret("whatever")).await;
    }

    #[test]
    fn hashes_with_weaker_parameters_or_another_algorithm_need_a_rehash() {
        assert!(needs_rehash(
            "$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A"
        ));
        assert!(needs_rehash(
            "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A"
        ));
        assert!(needs_rehash("garbage"));
    }

    #[test]
    fn debug_output_of_a_hash_is_redacted() {
        let hash = PasswordHash("$argon2id$secret-looking".into());
        assert_eq!(format!("{hash:?}"), "PasswordHash([redacted])");
    }

    #[test]
    fn passwords_shorter_than_twelve_characters_are_too_short() {
        assert_eq!(
            check_policy(&secret("Xk9#mq2Lp0a"), &[]),
            Err(PolicyViolation::TooShort)
        );
        // Twelve characters, counted as characters rather than bytes.
        assert_eq!(check_policy(&secret("ñandú-kijiji"), &[]), Ok(()));
    }

    #[test]
    fn passwords_longer_than_128_characters_are_too_long() {
        assert_eq!(
            check_policy(&secret(&"Zq7-".repeat(33)), &[]),
            Err(PolicyViolation::TooLong)
        );
        assert_eq!(check_policy(&secret(&"Zq7-".repeat(32)), &[]), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused_even_with_digits_and_symbols_appended() {
        for weak in [
            "123456654321",
            "qwertyasdfgh",
            "PASSWORD1234567!",
            "Sunshine2024!!!!",
            "iloveyou12345",
        ] {
            assert_eq!(
                check_policy(&secret(weak), &[]),
                Err(PolicyViolation::Common),
                "{weak} is common"
            );
        }
    }

    #[test]
    fn a_long_unusual_passphrase_passes() {
        assert_eq!(
            check_policy(&secret("mvua ya jioni inanyesha polepole"), &[]),
            Ok(())
        );
    }

    #[test]
    fn passwords_containing_the_email_or_name_are_refused() {
        let context = ["amina.otieno@example.org", "Amina Otieno"];
        assert_eq!(
            check_policy(&secret("xx-Otieno-1987-yy"), &context),
            Err(PolicyViolation::ContainsPersonal)
        );
        assert_eq!(
            check_policy(&secret("my AMINA secret phrase"), &context),
            Err(PolicyViolation::ContainsPersonal)
        );
        // Short name pieces are ignored: "Ali" is inside too many words.
        assert_eq!(
            check_policy(&secret("totally vivid rhubarb"), &["ali@example.org"]),
            Ok(())
        );
    }

    #[test]
    fn the_common_list_is_loaded_without_its_header() {
        let set = common_passwords();
        assert!(set.len() > 10_000);
        assert!(set.contains("password"));
        assert!(!set.iter().any(|w| w.starts_with('#')));
    }

    #[test]
    fn violations_display_as_their_keys_only() {
        for v in [
            PolicyViolation::TooShort,
            PolicyViolation::TooLong,
            PolicyViolation::Common,
            PolicyViolation::ContainsPersonal,
        ] {
            assert_eq!(v.to_string(), v.key());
        }
    }
}
