//! Lab values in a report's text: one value per line, in the shapes lab reports print,
//! such as `Haemoglobin 10.2 g/dL 12.0 - 15.5`, `WBC: 13.5 x10^9/L (4.0-11.0) H` or
//! `Potassium 3.1 mmol/L [3.5-5.1] L`.
//!
//! A line counts only when it reads as *name, number, unit and/or reference range*, with
//! nothing left over; dates, phone numbers, page numbers, addresses and identifiers do not.
//! The flag compares the value with the range printed in the same document (the report's own
//! range wins over any flag letter it printed, which is used only when it printed no range).
//!
//! Pure: no I/O, nothing logged (the text is medical content).

use super::types::Flag;

/// One value found in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub test_name: String,
    pub value: f64,
    pub unit: String,
    pub ref_low: Option<f64>,
    pub ref_high: Option<f64>,
    pub flag: Option<Flag>,
}

/// Most values taken from one document.
pub const MAX_RESULTS: usize = 500;
/// Longest line looked at, in characters.
const MAX_LINE: usize = 200;

/// Words that start lines which are never lab values, however they continue.
const NOT_TESTS: &[&str] = &[
    "page",
    "date",
    "time",
    "tel",
    "telephone",
    "phone",
    "mobile",
    "fax",
    "box",
    "po",
    "pobox",
    "age",
    "dob",
    "id",
    "no",
    "number",
    "patient",
    "ref",
    "lab",
    "sample",
    "specimen",
    "invoice",
    "receipt",
    "account",
    "street",
    "road",
    "avenue",
    "floor",
    "room",
    "bed",
    "ward",
    "year",
    "collected",
    "received",
    "reported",
    "printed",
    "total pages",
    "tests",
    "test",
];

/// Units without a `/`, `%` or `^` that lab reports print on their own.
const BARE_UNITS: &[&str] = &[
    "fl", "pg", "g", "mg", "u", "iu", "s", "sec", "secs", "seconds", "ratio", "index", "mm", "meq",
    "mosm", "cells", "copies",
];

/// Every lab value in `text`, in the order printed.
pub fn extract(text: &str) -> Vec<Found> {
    text.lines()
        .filter_map(parse_line)
        .take(MAX_RESULTS)
        .collect()
}

fn normalise(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
            '\u{00d7}' => 'x',
            '\u{2264}' => '<',
            '\u{2265}' => '>',
            '\t' | '\u{a0}' => ' ',
            other => other,
        })
        .collect()
}

/// A plain decimal number: digits, at most one point, nothing else.
fn number(token: &str) -> Option<f64> {
    let digits = token.chars().filter(char::is_ascii_digit).count();
    let points = token.chars().filter(|&c| c == '.').count();
    let shape = digits > 0
        && points <= 1
        && digits + points == token.len()
        && !token.starts_with('.')
        && !token.ends_with('.');
    if !shape || digits > 9 {
        return None;
    }
    token.parse().ok()
}

/// The value of one lab line, if it is one.
pub fn parse_line(line: &str) -> Option<Found> {
    if line.chars().count() > MAX_LINE {
        return None;
    }
    let line = normalise(line);
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let value_at = tokens.iter().position(|t| number(t).is_some())?;
    let name = tokens[..value_at].join(" ");
    let name = name.trim_end_matches([':', '=', '-', '.']).trim();
    if !is_test_name(name) {
        return None;
    }
    let value = number(tokens[value_at])?;
    let mut rest = &tokens[value_at + 1..];

    let mut printed_flag = None;
    if let Some(flag) = rest.first().and_then(|t| flag_word(t)) {
        printed_flag = Some(flag);
        rest = &rest[1..];
    }
    let mut unit = String::new();
    if let Some((text, used)) = unit_at(rest) {
        unit = text;
        rest = &rest[used..];
    }
    if let Some(flag) = rest.last().and_then(|t| flag_word(t)) {
        printed_flag = printed_flag.or(Some(flag));
        rest = &rest[..rest.len() - 1];
    }
    let range = if rest.is_empty() {
        None
    } else {
        Some(reference_range(&rest.join(" "))?)
    };
    if unit.is_empty() && range.is_none() {
        return None;
    }
    let (ref_low, ref_high) = range.unwrap_or((None, None));
    let flag = match (ref_low, ref_high) {
        (None, None) => printed_flag,
        (low, high) => Some(if low.is_some_and(|l| value < l) {
            Flag::Low
        } else if high.is_some_and(|h| value > h) {
            Flag::High
        } else {
            Flag::Normal
        }),
    };
    Some(Found {
        test_name: name.to_owned(),
        value,
        unit,
        ref_low,
        ref_high,
        flag,
    })
}

fn is_test_name(name: &str) -> bool {
    let letters = name.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 2 || name.chars().count() > 60 {
        return false;
    }
    if !name.chars().next().is_some_and(char::is_alphanumeric) {
        return false;
    }
    if name
        .chars()
        .any(|c| matches!(c, '@' | '+' | '#' | '/' | '\\' | '|'))
    {
        return false;
    }
    // A word of digits alone (a house or box number) is not part of a test's name.
    if name.split_whitespace().any(|w| number(w).is_some()) {
        return false;
    }
    let lower = name.to_lowercase();
    let first: String = lower
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or_default()
        .to_owned();
    let joined: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    !NOT_TESTS.contains(&first.as_str()) && !NOT_TESTS.contains(&joined.as_str())
}

fn flag_word(token: &str) -> Option<Flag> {
    match token
        .trim_matches(['(', ')', '*', '[', ']'])
        .to_lowercase()
        .as_str()
    {
        "h" | "hh" | "high" => Some(Flag::High),
        "l" | "ll" | "low" => Some(Flag::Low),
        "n" | "normal" => Some(Flag::Normal),
        _ => None,
    }
}

/// A unit at the start of `tokens` (`x 10^9/L` may be two tokens); returns it and how many
/// tokens it took.
fn unit_at(tokens: &[&str]) -> Option<(String, usize)> {
    let first = *tokens.first()?;
    if (first == "x" || first == "X") && tokens.len() > 1 && is_unit(&format!("x{}", tokens[1])) {
        return Some((format!("x{}", tokens[1]), 2));
    }
    is_unit(first).then(|| (first.to_owned(), 1))
}

fn is_unit(token: &str) -> bool {
    if token.is_empty() || token.chars().count() > 20 || reference_range(token).is_some() {
        return false;
    }
    let allowed = token.chars().all(|c| {
        c.is_alphanumeric() || matches!(c, '/' | '%' | '^' | '.' | '*' | '\u{b5}' | '\u{3bc}')
    });
    let has_letter = token.chars().any(|c| c.is_alphabetic() || c == '%');
    if !allowed || !has_letter || token.starts_with('/') && token.len() == 1 {
        return false;
    }
    token.contains(['/', '%', '^']) || BARE_UNITS.contains(&token.to_lowercase().as_str())
}

/// A printed reference range: `a - b`, `(a-b)`, `[a - b]`, `< b`, `> a`, `up to b`.
fn reference_range(text: &str) -> Option<(Option<f64>, Option<f64>)> {
    let inner = text.trim();
    let inner = inner
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .or_else(|| inner.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
        .unwrap_or(inner)
        .trim();
    let compact: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(high) = compact
        .strip_prefix("<=")
        .or_else(|| compact.strip_prefix('<'))
        .or_else(|| {
            compact
                .to_lowercase()
                .strip_prefix("upto")
                .map(|_| &compact[4..])
        })
    {
        return number(high).map(|h| (None, Some(h)));
    }
    if let Some(low) = compact
        .strip_prefix(">=")
        .or_else(|| compact.strip_prefix('>'))
    {
        return number(low).map(|l| (Some(l), None));
    }
    let (low, high) = compact.split_once('-')?;
    let (low, high) = (number(low)?, number(high)?);
    (low <= high).then_some((Some(low), Some(high)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Found {
        parse_line(line).unwrap_or_else(|| panic!("no value in {line:?}"))
    }

    #[test]
    fn the_shapes_in_the_issue_are_read_with_unit_range_and_flag() {
        let hb = one("Haemoglobin 10.2 g/dL 12.0 - 15.5");
        assert_eq!(hb.test_name, "Haemoglobin");
        assert_eq!(hb.value, 10.2);
        assert_eq!(hb.unit, "g/dL");
        assert_eq!((hb.ref_low, hb.ref_high), (Some(12.0), Some(15.5)));
        assert_eq!(hb.flag, Some(Flag::Low));

        let wbc = one("WBC: 13.5 x10^9/L (4.0-11.0) H");
        assert_eq!(wbc.test_name, "WBC");
        assert_eq!(wbc.unit, "x10^9/L");
        assert_eq!((wbc.ref_low, wbc.ref_high), (Some(4.0), Some(11.0)));
        assert_eq!(wbc.flag, Some(Flag::High));

        let glucose = one("Glucose (fasting) 7.8 mmol/L 3.9-5.6");
        assert_eq!(glucose.test_name, "Glucose (fasting)");
        assert_eq!(glucose.flag, Some(Flag::High));

        let k = one("Potassium 3.1 mmol/L [3.5-5.1] L");
        assert_eq!((k.value, k.unit.as_str()), (3.1, "mmol/L"));
        assert_eq!(k.flag, Some(Flag::Low));
    }

    #[test]
    fn other_common_shapes_are_read_too() {
        let sodium = one("Sodium 140 mmol/L (135 - 145)");
        assert_eq!(sodium.flag, Some(Flag::Normal));
        let crp = one("CRP 12 mg/L <5");
        assert_eq!(
            (crp.ref_low, crp.ref_high, crp.flag),
            (None, Some(5.0), Some(Flag::High))
        );
        let hba1c = one("HbA1c 6.5 %");
        assert_eq!((hba1c.unit.as_str(), hba1c.flag), ("%", None));
        let plt = one("Platelets\t250 x 10^9/L\t150\u{2013}400");
        assert_eq!(
            (plt.unit.as_str(), plt.flag),
            ("x10^9/L", Some(Flag::Normal))
        );
        let mcv = one("MCV 72 fL 80 - 100 L");
        assert_eq!(mcv.flag, Some(Flag::Low));
        let b12 = one("Vitamin B12 350 pg/mL 200-900");
        assert_eq!(b12.test_name, "Vitamin B12");
        let egfr = one("eGFR 85 mL/min/1.73m2 > 60");
        assert_eq!((egfr.ref_low, egfr.flag), (Some(60.0), Some(Flag::Normal)));
        let creat = one("Creatinine = 130 umol/L 45 - 90");
        assert_eq!(creat.flag, Some(Flag::High));
    }

    #[test]
    fn the_reports_own_range_wins_over_its_flag_letter() {
        // The lab printed "H" but the value is inside the range it printed.
        let alt = one("ALT 40 U/L 7-56 H");
        assert_eq!(alt.flag, Some(Flag::Normal));
        // Without a range, the printed letter is all there is.
        let tsh = one("TSH 9.1 mIU/L H");
        assert_eq!(tsh.flag, Some(Flag::High));
    }

    #[test]
    fn dates_phones_pages_addresses_and_ids_are_not_lab_values() {
        for line in [
            "Date: 12/03/2024",
            "Collected 2024-03-12 08:30",
            "Date of collection 12 March 2024",
            "Tel: +254 712 345 678",
            "Phone 0712 345 678",
            "Page 1 of 2",
            "Page 2",
            "P.O. Box 12345-00100 Nairobi",
            "123 Moi Avenue",
            "Moi Avenue 123",
            "Nairobi 00100",
            "Patient ID 123456",
            "Lab No 2024 5561",
            "Age 34 years",
            "Bed 12",
            "Test Result Unit Reference range",
            "Dr. Wanjiru, MBChB",
            "Kenyatta Hospital Road, 4th floor",
            "",
            "12.5",
            "Haemoglobin",
            "Haemoglobin 10.2 g/dL 15.5 - 12.0",
            "Haemoglobin 10.2 blah blah",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn a_whole_report_yields_its_values_in_order() {
        let report = "City Lab\nPage 1 of 1\nDate: 01/02/2026\n\
                      Haemoglobin 10.2 g/dL 12.0 - 15.5\nWBC: 13.5 x10^9/L (4.0-11.0) H\n\
                      Tel: 020 123 4567\nPotassium 3.1 mmol/L [3.5-5.1] L\n";
        let names: Vec<_> = extract(report).into_iter().map(|f| f.test_name).collect();
        assert_eq!(names, ["Haemoglobin", "WBC", "Potassium"]);
    }
}
