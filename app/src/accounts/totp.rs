//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP: HMAC-SHA-1, 6 digits, 30 s
//! steps), the secrets behind them, and the recovery codes that stand in when the phone is lost.
//!
//! What the caller stores: the secret sealed with [`seal`] (AES-256-GCM under a server key,
//! never the raw bytes), the last accepted step (so [`verify`] can refuse a replayed code), and
//! recovery codes only as [`hash_recovery_code`] digests.
//!
//! This module must never log or put into an error message a secret, a code, a recovery code
//! or an `otpauth://` URI (which holds the secret). Types holding secrets print `[redacted]`.

use aes_gcm::aead::{Aead, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of a generated secret: 160 bits, the HMAC-SHA-1 output size RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;
/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that still count, for phones whose clocks drift.
const DRIFT_STEPS: i64 = 1;
/// How many recovery codes a user gets at once.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// RFC 4648 base32 alphabet.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Crockford's base32 alphabet (no i, l, o, u): nothing a person can misread or mistype.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Sealed secrets start with this, so a future format can be told apart.
const SEALED_PREFIX: &str = "v1.";
/// Binds a sealed value to its purpose, so a ciphertext made for something else never opens.
const SEAL_AAD: &[u8] = b"tabibu/totp-secret/v1";
/// AES-GCM nonce length.
const NONCE_LEN: usize = 12;

/// A secret could not be read or unsealed. `Display` never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("the text is not valid base32")]
    InvalidBase32,
    #[error("a TOTP secret must be {SECRET_LEN} bytes")]
    WrongSecretLength,
    #[error("the sealed secret is not in the expected format")]
    MalformedSealed,
    #[error("the sealed secret does not open with this key (wrong key or altered data)")]
    Unseal,
    #[error("sealing the secret failed")]
    Seal,
}

/// The shared secret between Tabibu and the user's authenticator app.
pub struct TotpSecret(SecretBox<[u8; SECRET_LEN]>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> TotpSecret {
        TotpSecret(SecretBox::new(Box::new(bytes)))
    }

    /// Reads a secret typed or pasted as base32 (case and spaces ignored).
    pub fn from_base32(text: &str) -> Result<TotpSecret, TotpError> {
        let bytes = base32_decode(text)?;
        let bytes: [u8; SECRET_LEN] = bytes.try_into().map_err(|_| TotpError::WrongSecretLength)?;
        Ok(TotpSecret::from_bytes(bytes))
    }

    /// The secret as base32, for a person to type into an app that cannot scan the QR code.
    pub fn to_base32(&self) -> String {
        base32_encode(self.expose_bytes())
    }

    pub fn expose_bytes(&self) -> &[u8; SECRET_LEN] {
        self.0.expose_secret()
    }
}

/// A fresh random secret.
pub fn generate_secret() -> TotpSecret {
    let mut bytes = [0u8; SECRET_LEN];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    TotpSecret::from_bytes(bytes)
}

/// RFC 4648 base32 without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// RFC 4648 base32; ignores case, spaces, dashes and trailing `=` padding.
pub fn base32_decode(text: &str) -> Result<Vec<u8>, TotpError> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in text.trim_end_matches('=').chars() {
        if c == ' ' || c == '-' {
            continue;
        }
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return Err(TotpError::InvalidBase32),
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            // Truncation to the low byte is the point: the higher bits were emitted before.
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Ok(out)
}

/// The `otpauth://` URI an authenticator app scans from a QR code.
///
/// It contains the secret: show it to the user once, never log or store it.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account_label: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{label}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        label = percent_encode(account_label),
        secret = secret.to_base32(),
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// HOTP (RFC 4226 section 5.3): `digits` decimal digits of HMAC-SHA-1(key, counter).
pub fn hotp(key: &[u8; SECRET_LEN], counter: u64, digits: u32) -> u32 {
    // HMAC pads a key shorter than the hash's block (64 bytes for SHA-1) with zeros, so
    // padding it here is the same HMAC and lets us use the constructor that cannot fail.
    let mut block = [0u8; 64];
    block[..SECRET_LEN].copy_from_slice(key);
    let mut mac = <Hmac<Sha1> as hmac::digest::KeyInit>::new(&block.into());
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The step that `unix_time` (seconds) falls into.
pub fn step_at(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP_SECONDS)
}

/// The 6-digit code for `unix_time` (seconds), zero-padded: what the user's app shows.
pub fn code_at(secret: &TotpSecret, unix_time: i64) -> String {
    code_for_step(secret, step_at(unix_time)).unwrap_or_default()
}

fn code_for_step(secret: &TotpSecret, step: i64) -> Option<String> {
    let counter = u64::try_from(step).ok()?;
    let code = hotp(secret.expose_bytes(), counter, DIGITS);
    Some(format!("{code:0width$}", width = DIGITS as usize))
}

/// Checks a code the user typed at `unix_time` (seconds).
///
/// Accepts the current step and one step either side (clock drift), but never a step at or
/// before `last_used_step`, so a code that was seen once (over a shoulder, in a phishing
/// proxy) cannot be used again. Returns the matched step, which the caller must store as the
/// new `last_used_step` in the same transaction that signs the user in. Spaces in the code are
/// ignored; anything else that is not six digits fails.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    unix_time: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_time);
    let mut matched = None;
    // Every candidate is computed and compared, so the time taken does not say which matched.
    for step in (now - DRIFT_STEPS)..=(now + DRIFT_STEPS) {
        let Some(expected) = code_for_step(secret, step) else {
            continue;
        };
        let equal: bool = expected.as_bytes().ct_eq(typed.as_bytes()).into();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// Encrypts `secret` with AES-256-GCM under `key` for storage: `v1.` then hex of
/// nonce ‖ ciphertext ‖ tag. A fresh random nonce each time.
pub fn seal(secret: &TotpSecret, key: &[u8; 32]) -> Result<String, TotpError> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret.expose_bytes(),
                aad: SEAL_AAD,
            },
        )
        .map_err(|_| TotpError::Seal)?;
    let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&sealed);
    Ok(format!("{SEALED_PREFIX}{}", hex::encode(bytes)))
}

/// Decrypts what [`seal`] produced. Fails on a wrong key or any altered byte.
pub fn open(sealed: &str, key: &[u8; 32]) -> Result<TotpSecret, TotpError> {
    let hex_part = sealed
        .strip_prefix(SEALED_PREFIX)
        .ok_or(TotpError::MalformedSealed)?;
    let bytes = hex::decode(hex_part).map_err(|_| TotpError::MalformedSealed)?;
    if bytes.len() <= NONCE_LEN {
        return Err(TotpError::MalformedSealed);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(key.into());
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: SEAL_AAD,
            },
        )
        .map_err(|_| TotpError::Unseal)?;
    let plain = secrecy::SecretSlice::from(plain);
    let bytes: [u8; SECRET_LEN] = plain
        .expose_secret()
        .try_into()
        .map_err(|_| TotpError::WrongSecretLength)?;
    Ok(TotpSecret::from_bytes(bytes))
}

/// Ten fresh recovery codes, each `xxxx-xxxx-xxxx-xxxx` from Crockford's alphabet.
///
/// 16 symbols of 5 bits make 80 bits per code. That is what lets [`hash_recovery_code`] be a
/// single fast SHA-256: even with the stored digests, guessing a code is out of reach. Shorter
/// codes would need a slow, salted hash instead.
pub fn generate_recovery_codes() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut raw = [0u8; 16];
            rng.fill_bytes(&mut raw);
            let mut code = String::with_capacity(19);
            for (i, byte) in raw.iter().enumerate() {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                // 256 is a multiple of 32, so masking keeps every symbol equally likely.
                code.push(char::from(RECOVERY_ALPHABET[usize::from(byte & 31)]));
            }
            code
        })
        .collect()
}

/// The canonical form of a typed recovery code: lowercase, without spaces and dashes, with
/// the letters people confuse with digits read as those digits (o → 0, i and l → 1).
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect()
}

/// SHA-256 hex of the normalised code: what is stored and looked up.
pub fn hash_recovery_code(code: &str) -> String {
    hex::encode(Sha256::digest(normalise_recovery_code(code).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6238 Appendix B SHA-1 key.
    const RFC_KEY: &[u8; 20] = b"12345678901234567890";

    #[test]
    fn the_rfc_6238_sha1_test_vectors_give_the_published_eight_digit_codes() {
        let vectors: [(i64, u32); 6] = [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ];
        for (time, expected) in vectors {
            let counter = u64::try_from(step_at(time)).unwrap();
            assert_eq!(hotp(RFC_KEY, counter, 8), expected, "at T={time}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_last_six_digits_of_the_rfc_vectors() {
        let secret = TotpSecret::from_bytes(*RFC_KEY);
        assert_eq!(code_at(&secret, 59), "287082");
        assert_eq!(code_at(&secret, 1_111_111_109), "081804");
        assert_eq!(code_at(&secret, 1_234_567_890), "005924");
    }

    #[test]
    fn the_rfc_4226_hotp_vectors_match() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_KEY, counter as u64, 6), *code);
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_but_not_two() {
        let secret = generate_secret();
        let t = 1_700_000_000;
        let now = step_at(t);
        assert_eq!(verify(&secret, &code_at(&secret, t), t, None), Some(now));
        assert_eq!(
            verify(&secret, &code_at(&secret, t - 30), t, None),
            Some(now - 1)
        );
        assert_eq!(
            verify(&secret, &code_at(&secret, t + 30), t, None),
            Some(now + 1)
        );
        let stale = code_at(&secret, t - 60);
        // A stale code could coincide with a current one by chance (1 in a million).
        if ![-30, 0, 30]
            .iter()
            .any(|d| code_at(&secret, t + d) == stale)
        {
            assert_eq!(verify(&secret, &stale, t, None), None);
        }
    }

    #[test]
    fn a_code_cannot_be_used_twice() {
        let secret = generate_secret();
        let t = 1_700_000_000;
        let code = code_at(&secret, t);
        let step = verify(&secret, &code, t, None).unwrap();
        assert_eq!(verify(&secret, &code, t + 5, Some(step)), None);
        // Nor can an older step after a newer one was used.
        let earlier = code_at(&secret, t - 30);
        assert_eq!(verify(&secret, &earlier, t, Some(step)), None);
        // The next step's code still works.
        let next = code_at(&secret, t + 30);
        assert_eq!(verify(&secret, &next, t + 30, Some(step)), Some(step + 1));
    }

    #[test]
    fn malformed_codes_are_refused_and_spaces_are_ignored() {
        let secret = generate_secret();
        let t = 1_700_000_000;
        let code = code_at(&secret, t);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(verify(&secret, &spaced, t, None).is_some());
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(verify(&secret, bad, t, None), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_matches_the_rfc_4648_examples_and_round_trips() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert!(base32_decode("MZXW1").is_err());
        let secret = generate_secret();
        let back = TotpSecret::from_base32(&secret.to_base32()).unwrap();
        assert_eq!(back.expose_bytes(), secret.expose_bytes());
        assert!(matches!(
            TotpSecret::from_base32("MZXW6"),
            Err(TotpError::WrongSecretLength)
        ));
    }

    #[test]
    fn the_otpauth_uri_names_issuer_account_and_parameters() {
        let secret = TotpSecret::from_bytes(*RFC_KEY);
        let uri = otpauth_uri(&secret, "Tabibu", "amina@example.org");
        assert_eq!(
            uri,
            "otpauth://totp/Tabibu:amina%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Tabibu&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn a_sealed_secret_opens_with_its_key_only() {
        let secret = generate_secret();
        let key = [7u8; 32];
        let sealed = seal(&secret, &key).unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains(&hex::encode(secret.expose_bytes())));
        assert_ne!(
            sealed,
            seal(&secret, &key).unwrap(),
            "fresh nonce each time"
        );
        assert_eq!(
            open(&sealed, &key).unwrap().expose_bytes(),
            secret.expose_bytes()
        );
        assert!(matches!(open(&sealed, &[8u8; 32]), Err(TotpError::Unseal)));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(matches!(open(&tampered, &key), Err(TotpError::Unseal)));
        assert!(matches!(
            open("v2.abcd", &key),
            Err(TotpError::MalformedSealed)
        ));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_unambiguous_codes() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 19);
            assert!(
                code.chars()
                    .all(|c| c == '-' || RECOVERY_ALPHABET.contains(&(c as u8)))
            );
            assert!(!code.contains(['i', 'l', 'o', 'u']));
        }
    }

    #[test]
    fn a_recovery_code_hashes_the_same_however_it_is_typed() {
        let stored = hash_recovery_code("ab1d-0xyz-2345-6789");
        assert_eq!(stored.len(), 64);
        assert_eq!(hash_recovery_code("AB1D 0XYZ 2345 6789"), stored);
        assert_eq!(hash_recovery_code("abld-oxyz23456789"), stored);
        assert_ne!(hash_recovery_code("ab1d-0xyz-2345-6788"), stored);
    }

    #[test]
    fn debug_output_of_a_secret_is_redacted() {
        let secret = TotpSecret::from_bytes(*RFC_KEY);
        assert_eq!(format!("{secret:?}"), "TotpSecret([redacted])");
    }
}
