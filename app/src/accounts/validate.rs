//! Form validation that runs twice: in the browser for speed, on the server for truth. Both
//! call these same functions, so they can never disagree. Results are message keys that the
//! pages translate (see `strings.rs`). The server adds the checks only it can make (the
//! common-password list, whether an email is taken).

use crate::error::FieldErrors;

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;
const NAME_MAX_CHARS: usize = 120;
const EMAIL_MAX_CHARS: usize = 254;

/// An email address, trimmed and lowercased, with the shape `local@domain.tld`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("email.required");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err("email.invalid");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty() && !local.chars().any(|c| c.is_whitespace() || c == '@');
        if email.len() > EMAIL_MAX_CHARS || !domain_ok || !local_ok {
            return Err("email.invalid");
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The length rules of a new password (the server also checks it against common passwords).
pub fn password_shape(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        Err("password.too_short")
    } else if chars > PASSWORD_MAX_CHARS {
        Err("password.too_long")
    } else {
        Ok(())
    }
}

/// A person's name as they write it.
pub fn name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        Err("name.required")
    } else if name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        Err("name.invalid")
    } else {
        Ok(name.to_owned())
    }
}

/// A date of birth `YYYY-MM-DD`, not in the future, at most 130 years ago. `today` is
/// `(year, month, day)`.
pub fn date_of_birth(raw: &str, today: (i32, u32, u32)) -> Result<String, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("dob.required");
    }
    let parts: Vec<&str> = raw.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err("dob.invalid");
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return Err("dob.invalid");
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err("dob.invalid");
    }
    if (y, m, d) > today {
        return Err("dob.future");
    }
    if y < today.0 - 130 {
        return Err("dob.invalid");
    }
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// The sign-up form, validated.
#[derive(Debug, Clone)]
pub struct SignUpForm {
    pub email: Email,
    pub name: String,
    pub date_of_birth: String,
}

/// Checks every field of the sign-up form; all problems at once, one per field.
pub fn sign_up(
    email: &str,
    password: &str,
    name_raw: &str,
    dob: &str,
    today: (i32, u32, u32),
) -> Result<SignUpForm, FieldErrors> {
    let mut errors = FieldErrors::new();
    let email = Email::parse(email)
        .map_err(|e| errors.insert("email".into(), e.into()))
        .ok();
    if let Err(e) = password_shape(password) {
        errors.insert("password".into(), e.into());
    }
    let name = name(name_raw)
        .map_err(|e| errors.insert("name".into(), e.into()))
        .ok();
    let dob = date_of_birth(dob, today)
        .map_err(|e| errors.insert("date_of_birth".into(), e.into()))
        .ok();
    match (email, name, dob) {
        (Some(email), Some(name), Some(date_of_birth)) if errors.is_empty() => Ok(SignUpForm {
            email,
            name,
            date_of_birth,
        }),
        _ => Err(errors),
    }
}

/// Today's date in UTC as `(year, month, day)`, from milliseconds since the epoch.
pub fn civil_date(ms: i64) -> (i32, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: (i32, u32, u32) = (2026, 12, 3);

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Wanjiku@Example.CO.KE ").unwrap().as_str(),
            "wanjiku@example.co.ke"
        );
        for bad in [
            "",
            "no-at-sign",
            "a@b",
            "a@.com",
            "a b@example.com",
            "@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_short_password_is_refused_before_it_leaves_the_browser() {
        assert_eq!(password_shape("short"), Err("password.too_short"));
        assert_eq!(password_shape("twelve chars"), Ok(()));
        assert_eq!(password_shape(&"x".repeat(129)), Err("password.too_long"));
    }

    #[test]
    fn dates_of_birth_must_be_real_and_past() {
        assert_eq!(date_of_birth("1990-2-3", TODAY).unwrap(), "1990-02-03");
        assert_eq!(date_of_birth("2024-02-29", TODAY).unwrap(), "2024-02-29");
        assert_eq!(date_of_birth("2023-02-29", TODAY), Err("dob.invalid"));
        assert_eq!(date_of_birth("2027-01-01", TODAY), Err("dob.future"));
        assert_eq!(date_of_birth("1880-01-01", TODAY), Err("dob.invalid"));
        assert_eq!(date_of_birth("", TODAY), Err("dob.required"));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let errors = sign_up("bad", "short", "", "x", TODAY).unwrap_err();
        assert_eq!(errors.len(), 4);
        assert!(
            sign_up(
                "a@example.com",
                "a long password",
                "Amina",
                "1990-01-01",
                TODAY
            )
            .is_ok()
        );
    }

    #[test]
    fn civil_dates_come_from_epoch_milliseconds() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(1_796_342_400_000), (2026, 12, 4));
        assert_eq!(civil_date(951_782_400_000), (2000, 2, 29));
    }
}
