//! Profile checks that run in the browser for speed and on the server for truth. Results are
//! message keys (see `strings.rs`).

use super::types::{HealthProfile, Sex};
use crate::error::FieldErrors;

/// At most this many entries in each list, each at most [`ITEM_MAX_CHARS`] characters.
pub const LIST_MAX_ITEMS: usize = 30;
pub const ITEM_MAX_CHARS: usize = 120;

/// A phone number in E.164 form, and its M-Pesa form when it is a Kenyan mobile number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// `+254712345678`
    pub e164: String,
}

impl Phone {
    /// Parses what people type: `0712 345 678`, `+254 712 345678`, `254712345678`,
    /// `0110 123456` (Kenyan mobile numbers start 7 or 1 after the country code), or any other
    /// number in international form (`+` then 8 to 15 digits).
    pub fn parse(raw: &str) -> Result<Phone, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("phone.required");
        }
        if trimmed
            .chars()
            .any(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '+')))
            || trimmed.rfind('+').is_some_and(|i| i != 0)
        {
            return Err("phone.invalid");
        }
        let international = trimmed.starts_with('+');
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let national = if let Some(rest) = digits.strip_prefix("254") {
            Some(rest.to_owned())
        } else if international {
            None
        } else if let Some(rest) = digits.strip_prefix('0') {
            Some(rest.to_owned())
        } else if digits.len() == 9 {
            Some(digits.clone())
        } else {
            return Err("phone.invalid");
        };
        match national {
            Some(n) => {
                let rest = n.strip_prefix('0').unwrap_or(&n);
                if rest.len() == 9 && (rest.starts_with('7') || rest.starts_with('1')) {
                    Ok(Phone {
                        e164: format!("+254{rest}"),
                    })
                } else if rest.len() < 9 {
                    // Too short to be any phone number: a typo, not a landline.
                    Err("phone.invalid")
                } else {
                    Err("phone.invalid_kenyan")
                }
            }
            None if (8..=15).contains(&digits.len()) && !digits.starts_with('0') => Ok(Phone {
                e164: format!("+{digits}"),
            }),
            None => Err("phone.invalid"),
        }
    }

    /// The `2547XXXXXXXX` form Safaricom's Daraja API takes, for Kenyan mobile numbers only.
    pub fn mpesa(&self) -> Option<String> {
        let rest = self.e164.strip_prefix("+254")?;
        (rest.len() == 9 && (rest.starts_with('7') || rest.starts_with('1')))
            .then(|| format!("254{rest}"))
    }
}

/// Age in whole and fractional years on `today` for a `YYYY-MM-DD` birth date.
pub fn age_years(dob: &str, today: (i32, u32, u32)) -> Option<f32> {
    let mut parts = dob.split('-').map(str::parse::<i64>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let (ty, tm, td) = (i64::from(today.0), i64::from(today.1), i64::from(today.2));
    let mut months = (ty - y) * 12 + (tm - m);
    if td < d {
        months -= 1;
    }
    #[allow(clippy::cast_precision_loss)]
    (months >= 0).then(|| months as f32 / 12.0)
}

/// One list as typed: one entry per line (commas and semicolons also separate), trimmed, empty
/// lines and repeats dropped.
pub fn list(raw: &str) -> Result<Vec<String>, &'static str> {
    let mut items: Vec<String> = Vec::new();
    for item in raw.split(['\n', ',', ';']).map(str::trim) {
        if item.is_empty() {
            continue;
        }
        if item.chars().count() > ITEM_MAX_CHARS {
            return Err("list.item_too_long");
        }
        if item.chars().any(char::is_control) {
            return Err("list.invalid");
        }
        if !items.iter().any(|i| i.eq_ignore_ascii_case(item)) {
            items.push(item.to_owned());
        }
    }
    if items.len() > LIST_MAX_ITEMS {
        return Err("list.too_many");
    }
    Ok(items)
}

/// The profile form as submitted: every field a string, as a plain HTML form posts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileForm<'a> {
    pub date_of_birth: &'a str,
    pub sex: &'a str,
    pub pregnant: &'a str,
    pub allergies: &'a str,
    pub medications: &'a str,
    pub conditions: &'a str,
    pub phone: &'a str,
}

/// Checks the whole form; on success the profile to store (without `updated_at`).
pub fn profile(
    form: &ProfileForm<'_>,
    today: (i32, u32, u32),
) -> Result<HealthProfile, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut fail = |field: &str, key: &str| {
        errors.insert(field.to_owned(), key.to_owned());
    };
    let date_of_birth = match crate::accounts::validate::date_of_birth(form.date_of_birth, today) {
        Ok(d) => Some(d),
        Err(key) => {
            fail("date_of_birth", key);
            None
        }
    };
    let sex = match form.sex.trim() {
        "" => None,
        s => Sex::parse(s).or_else(|| {
            fail("sex", "sex.invalid");
            None
        }),
    };
    let pregnant = match form.pregnant.trim() {
        "" | "unknown" => None,
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            fail("pregnant", "pregnant.invalid");
            None
        }
    };
    let mut lists = [
        ("allergies", form.allergies, Vec::new()),
        ("medications", form.medications, Vec::new()),
        ("conditions", form.conditions, Vec::new()),
    ];
    for (field, raw, out) in &mut lists {
        match list(raw) {
            Ok(items) => *out = items,
            Err(key) => fail(field, key),
        }
    }
    let phone = match form.phone.trim() {
        "" => None,
        raw => match Phone::parse(raw) {
            Ok(p) => Some(p.e164),
            Err(key) => {
                fail("phone", key);
                None
            }
        },
    };
    let [(_, _, allergies), (_, _, medications), (_, _, conditions)] = lists;
    let mut profile = HealthProfile {
        date_of_birth,
        sex,
        pregnant,
        allergies,
        medications,
        conditions,
        phone,
        updated_at: None,
    };
    if !profile.may_be_pregnant(today) {
        // Not asked of this patient: whatever the form carried is not kept.
        profile.pregnant = None;
    }
    if errors.is_empty() {
        Ok(profile)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: (i32, u32, u32) = (2026, 12, 3);

    #[test]
    fn kenyan_numbers_in_every_common_spelling_become_e164() {
        for raw in [
            "0712345678",
            "0712 345 678",
            "+254712345678",
            "+254 712 345 678",
            "254712345678",
            "712345678",
            "+254 (0) 712-345-678",
        ] {
            let phone = Phone::parse(raw).unwrap();
            assert_eq!(phone.e164, "+254712345678", "{raw}");
            assert_eq!(phone.mpesa().as_deref(), Some("254712345678"), "{raw}");
        }
        let airtel_new = Phone::parse("0110 123 456").unwrap();
        assert_eq!(airtel_new.e164, "+254110123456");
        assert_eq!(airtel_new.mpesa().as_deref(), Some("254110123456"));
    }

    #[test]
    fn other_countries_are_kept_but_cannot_pay_with_mpesa() {
        let tz = Phone::parse("+255 754 123 456").unwrap();
        assert_eq!(tz.e164, "+255754123456");
        assert_eq!(tz.mpesa(), None);
        let de = Phone::parse("+49 30 1234567").unwrap();
        assert_eq!(de.mpesa(), None);
    }

    #[test]
    fn malformed_numbers_are_refused_with_a_reason() {
        assert_eq!(Phone::parse(""), Err("phone.required"));
        assert_eq!(Phone::parse("07123"), Err("phone.invalid"));
        assert_eq!(Phone::parse("0201234567"), Err("phone.invalid_kenyan"));
        assert_eq!(Phone::parse("+2547123456789"), Err("phone.invalid_kenyan"));
        assert_eq!(Phone::parse("07I2345678"), Err("phone.invalid"));
        assert_eq!(Phone::parse("+25+4712345678"), Err("phone.invalid"));
        assert_eq!(Phone::parse("+12"), Err("phone.invalid"));
        assert_eq!(Phone::parse("0712345678; DROP"), Err("phone.invalid"));
    }

    #[test]
    fn ages_count_whole_months() {
        assert_eq!(age_years("2000-12-03", TODAY), Some(26.0));
        assert_eq!(age_years("2000-12-04", TODAY), Some(25.0 + 11.0 / 12.0));
        assert_eq!(age_years("2026-09-03", TODAY), Some(0.25));
        assert_eq!(age_years("2027-01-01", TODAY), None);
        assert_eq!(age_years("nonsense", TODAY), None);
    }

    #[test]
    fn lists_split_trim_and_drop_repeats() {
        assert_eq!(
            list("Penicillin\n  peanuts, PENICILLIN;\n\nlatex").unwrap(),
            vec!["Penicillin", "peanuts", "latex"]
        );
        assert_eq!(list("").unwrap(), Vec::<String>::new());
        assert_eq!(list(&"x".repeat(121)), Err("list.item_too_long"));
        let many: Vec<String> = (0..31).map(|i| format!("item {i}")).collect();
        assert_eq!(list(&many.join("\n")), Err("list.too_many"));
    }

    #[test]
    fn the_form_keeps_pregnancy_only_where_it_applies() {
        let form = ProfileForm {
            date_of_birth: "1995-05-01",
            sex: "female",
            pregnant: "yes",
            allergies: "penicillin",
            phone: "0712345678",
            ..ProfileForm::default()
        };
        let p = profile(&form, TODAY).unwrap();
        assert_eq!(p.pregnant, Some(true));
        assert_eq!(p.phone.as_deref(), Some("+254712345678"));
        let ctx = p.triage_context(TODAY);
        assert_eq!(ctx.pregnant, Some(true));
        assert_eq!(ctx.sex, Some(tabibu_ai::Sex::Female));

        let male = profile(
            &ProfileForm {
                sex: "male",
                ..form.clone()
            },
            TODAY,
        )
        .unwrap();
        assert_eq!(male.pregnant, None);
        let older = profile(
            &ProfileForm {
                date_of_birth: "1950-01-01",
                ..form
            },
            TODAY,
        )
        .unwrap();
        assert_eq!(older.pregnant, None);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let form = ProfileForm {
            date_of_birth: "2030-01-01",
            sex: "robot",
            pregnant: "maybe",
            allergies: &"a".repeat(200),
            phone: "12",
            ..ProfileForm::default()
        };
        let errors = profile(&form, TODAY).unwrap_err();
        assert_eq!(
            errors.get("date_of_birth").map(String::as_str),
            Some("dob.future")
        );
        assert_eq!(errors.get("sex").map(String::as_str), Some("sex.invalid"));
        assert_eq!(
            errors.get("pregnant").map(String::as_str),
            Some("pregnant.invalid")
        );
        assert_eq!(
            errors.get("allergies").map(String::as_str),
            Some("list.item_too_long")
        );
        assert_eq!(
            errors.get("phone").map(String::as_str),
            Some("phone.invalid")
        );
    }
}
