//! Numbers in the text: vital signs and lab values, the patient's age, and how long things
//! have lasted.
//!
//! These are grammar rather than clinical knowledge (how people write "BP 90/60", "a
//! 3-month-old", "wiki mbili"), so they live in code; the thresholds that make a value
//! dangerous live in the knowledge base. Values outside what a living person can have are
//! dropped rather than guessed at.
use crate::text::{Token, word_number};
use crate::types::{Sex, Vitals};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Bp,
    Systolic,
    Hr,
    Rr,
    Temp,
    Spo2,
    Glucose,
    Hb,
    Gcs,
}

/// Words that introduce a value. `true` means the value must follow at once ("p 120",
/// "t 39"), because a lone letter is too common to look further.
const VITAL_WORDS: &[(&[&str], Kind, bool)] = &[
    (&["blood", "pressure"], Kind::Bp, false),
    (&["bp"], Kind::Bp, false),
    (&["b", "p"], Kind::Bp, false),
    (&["nibp"], Kind::Bp, false),
    (&["presha"], Kind::Bp, false),
    (&["shinikizo", "la", "damu"], Kind::Bp, false),
    (&["systolic"], Kind::Systolic, false),
    (&["heart", "rate"], Kind::Hr, false),
    (&["pulse", "rate"], Kind::Hr, false),
    (&["pulse"], Kind::Hr, false),
    (&["hr"], Kind::Hr, false),
    (&["pr"], Kind::Hr, true),
    (&["p"], Kind::Hr, true),
    (&["mapigo", "ya", "moyo"], Kind::Hr, false),
    (&["respiratory", "rate"], Kind::Rr, false),
    (&["resp", "rate"], Kind::Rr, false),
    (&["breathing", "rate"], Kind::Rr, false),
    (&["respirations"], Kind::Rr, false),
    (&["resp"], Kind::Rr, false),
    (&["rr"], Kind::Rr, false),
    (&["temperature"], Kind::Temp, false),
    (&["temp"], Kind::Temp, false),
    (&["t"], Kind::Temp, true),
    (&["fever", "of"], Kind::Temp, false),
    (&["febrile", "to"], Kind::Temp, false),
    (&["joto"], Kind::Temp, false),
    (&["oxygen", "saturation"], Kind::Spo2, false),
    (&["oxygen", "sats"], Kind::Spo2, false),
    (&["oxygen", "level"], Kind::Spo2, false),
    (&["o2", "sat"], Kind::Spo2, false),
    (&["o2", "sats"], Kind::Spo2, false),
    (&["spo2"], Kind::Spo2, false),
    (&["sao2"], Kind::Spo2, false),
    (&["sats"], Kind::Spo2, false),
    (&["sat"], Kind::Spo2, false),
    (&["saturation"], Kind::Spo2, false),
    (&["saturations"], Kind::Spo2, false),
    (&["saturating"], Kind::Spo2, false),
    (&["oximeter"], Kind::Spo2, false),
    (&["oxygen"], Kind::Spo2, true),
    (&["blood", "glucose"], Kind::Glucose, false),
    (&["blood", "sugar"], Kind::Glucose, false),
    (&["sugar", "level"], Kind::Glucose, false),
    (&["glucose"], Kind::Glucose, false),
    (&["sugar"], Kind::Glucose, false),
    (&["sukari"], Kind::Glucose, false),
    (&["rbs"], Kind::Glucose, false),
    (&["fbs"], Kind::Glucose, false),
    (&["cbg"], Kind::Glucose, false),
    (&["bgl"], Kind::Glucose, false),
    (&["bg"], Kind::Glucose, true),
    (&["haemoglobin"], Kind::Hb, false),
    (&["hemoglobin"], Kind::Hb, false),
    (&["hb"], Kind::Hb, false),
    (&["hgb"], Kind::Hb, false),
    (&["gcs"], Kind::Gcs, false),
    (&["glasgow", "coma", "scale"], Kind::Gcs, false),
    (&["glasgow", "coma", "score"], Kind::Gcs, false),
];

/// Words allowed between a vital's name and its value ("BP was 90/60", "sats of 88").
const FILLER: &[&str] = &[
    "of",
    "is",
    "was",
    "were",
    "at",
    "about",
    "around",
    "approx",
    "approximately",
    "only",
    "now",
    "reading",
    "read",
    "measured",
    "recorded",
    "it",
    "its",
    "be",
    "been",
    "ni",
    "ya",
    "iko",
    "la",
    "cha",
    "down",
    "up",
    "to",
    "dropped",
    "just",
    "very",
    "low",
    "high",
    "are",
    "on",
    "level",
    "rate",
    "checked",
    "shows",
    "showed",
    "today",
    "currently",
];

/// Vital signs found in the tokens, and which tokens held their values (so the duration
/// reader does not take "HR 120" for 120 hours).
pub(crate) fn vitals(tokens: &[Token]) -> (Vitals, Vec<bool>) {
    let mut v = Vitals::default();
    let mut used = vec![false; tokens.len()];
    let mut i = 0;
    while i < tokens.len() {
        let Some((kind, immediate, len)) = vital_word_at(tokens, i) else {
            i += 1;
            continue;
        };
        let look = if immediate { 1 } else { 4 };
        let mut j = i + len;
        let mut found = false;
        while j < tokens.len() && j < i + len + look {
            let t = &tokens[j];
            if t.num.is_some() || t.pair.is_some() {
                found = read_value(&mut v, kind, tokens, j);
                if found {
                    used[j] = true;
                }
                break;
            }
            if !FILLER.contains(&t.text.as_str()) {
                break;
            }
            j += 1;
        }
        i = if found { j + 1 } else { i + len };
    }
    // Values recognised by their unit alone: "39.5 °C", "130 bpm", "30 breaths", "90/60 mmHg".
    for (i, t) in tokens.iter().enumerate() {
        if used[i] {
            continue;
        }
        let next = tokens.get(i + 1).map(|t| t.text.as_str()).unwrap_or("");
        if let Some((a, b)) = t.pair {
            if next == "mmhg" && v.systolic_bp.is_none() {
                used[i] = set_bp(&mut v, a, b);
            }
            continue;
        }
        let Some(n) = t.num else { continue };
        let kind = match next {
            "c" | "celsius" | "centigrade" | "degrees" | "deg" | "oc" => Some(Kind::Temp),
            "f" | "fahrenheit" if (95.0..=110.0).contains(&n) => Some(Kind::Temp),
            "bpm" | "beats" => Some(Kind::Hr),
            "breaths" => Some(Kind::Rr),
            _ => None,
        };
        if let Some(kind) = kind {
            used[i] = read_value(&mut v, kind, tokens, i);
        }
    }
    (v, used)
}

fn vital_word_at(tokens: &[Token], i: usize) -> Option<(Kind, bool, usize)> {
    VITAL_WORDS.iter().find_map(|(words, kind, immediate)| {
        let hit = words
            .iter()
            .enumerate()
            .all(|(k, w)| tokens.get(i + k).is_some_and(|t| t.text == *w));
        hit.then_some((*kind, *immediate, words.len()))
    })
}

fn set_bp(v: &mut Vitals, sys: f32, dia: f32) -> bool {
    if (40.0..=300.0).contains(&sys) && (15.0..=200.0).contains(&dia) && sys > dia {
        v.systolic_bp.get_or_insert(sys);
        v.diastolic_bp.get_or_insert(dia);
        return true;
    }
    false
}

fn read_value(v: &mut Vitals, kind: Kind, tokens: &[Token], j: usize) -> bool {
    let t = &tokens[j];
    let next = tokens.get(j + 1).map(|t| t.text.as_str()).unwrap_or("");
    if let Some((a, b)) = t.pair {
        return match kind {
            Kind::Bp => set_bp(v, a, b),
            Kind::Gcs if b == 15.0 && (3.0..=15.0).contains(&a) => {
                v.gcs.get_or_insert(a);
                true
            }
            _ => false,
        };
    }
    let Some(n) = t.num else { return false };
    let put = |slot: &mut Option<f32>, value: f32, range: std::ops::RangeInclusive<f32>| {
        if range.contains(&value) {
            slot.get_or_insert(value);
            true
        } else {
            false
        }
    };
    match kind {
        Kind::Bp => {
            // "BP 90 over 60"
            let dia = (next == "over")
                .then(|| tokens.get(j + 2).and_then(|t| t.num))
                .flatten();
            match dia {
                Some(d) => set_bp(v, n, d),
                None => put(&mut v.systolic_bp, n, 40.0..=300.0),
            }
        }
        Kind::Systolic => put(&mut v.systolic_bp, n, 40.0..=300.0),
        Kind::Hr => put(&mut v.heart_rate, n, 15.0..=300.0),
        Kind::Rr => put(&mut v.respiratory_rate, n, 3.0..=120.0),
        Kind::Temp => {
            let c = if (77.0..=113.0).contains(&n) || next == "f" || next == "fahrenheit" {
                (n - 32.0) * 5.0 / 9.0
            } else {
                n
            };
            put(&mut v.temperature_c, c, 25.0..=45.0)
        }
        Kind::Spo2 => put(&mut v.spo2, n, 40.0..=100.0),
        Kind::Glucose => {
            let mmol = if next == "mg" || next == "mgdl" || n > 35.0 {
                n / 18.0
            } else {
                n
            };
            put(&mut v.glucose_mmol, mmol, 0.3..=60.0)
        }
        Kind::Hb => {
            let gdl = if n > 25.0 { n / 10.0 } else { n };
            put(&mut v.haemoglobin_g_dl, gdl, 1.0..=25.0)
        }
        Kind::Gcs => put(&mut v.gcs, n, 3.0..=15.0),
    }
}

fn digits(t: Option<&Token>) -> Option<f32> {
    t.and_then(|t| {
        t.num.or_else(|| {
            if t.text == "a" || t.text == "an" {
                None
            } else {
                word_number(&t.text)
            }
        })
    })
}

fn text(tokens: &[Token], i: usize) -> &str {
    tokens.get(i).map(|t| t.text.as_str()).unwrap_or("")
}

fn text_before(tokens: &[Token], i: usize, back: usize) -> &str {
    i.checked_sub(back).map(|k| text(tokens, k)).unwrap_or("")
}

const YEAR_UNITS: &[&str] = &["year", "years", "yr", "yrs", "y", "yo", "yrold", "yearold"];
const MONTH_UNITS: &[&str] = &["month", "months", "mo", "mos", "mth", "mths", "mon"];
const WEEK_UNITS: &[&str] = &["week", "weeks", "wk", "wks"];
const DAY_UNITS: &[&str] = &["day", "days"];
/// Words before a number that mean it is a length of time, not an age ("for 45 m").
const TIME_WORDS: &[&str] = &[
    "for", "last", "past", "x", "over", "since", "after", "within",
];
const SW_AGE_LEADS: &[&str] = &["wa", "mwenye", "umri", "ana", "nina", "una", "ni"];

/// The first age written in the text, in years, and the sex when written with it ("45M").
pub(crate) fn age(tokens: &[Token]) -> Option<(f32, Option<Sex>)> {
    for i in 0..tokens.len() {
        // Swahili puts the unit first: "mtoto wa miaka 2", "ana miezi 6".
        let unit = text(tokens, i);
        if matches!(unit, "miaka" | "mwaka" | "miezi" | "mwezi" | "wiki")
            && SW_AGE_LEADS.contains(&text_before(tokens, i, 1))
            && let Some(n) = digits(tokens.get(i + 1))
        {
            let years = match unit {
                "miaka" | "mwaka" => n,
                "miezi" | "mwezi" => n / 12.0,
                _ => n / 52.0,
            };
            if (0.0..=120.0).contains(&years) {
                return Some((years, None));
            }
        }
        let Some(n) = digits(tokens.get(i)) else {
            continue;
        };
        if !(0.0..=120.0).contains(&n) {
            continue;
        }
        let next = text(tokens, i + 1);
        let after = text(tokens, i + 2);
        let old = after == "old" || after == "o" || next == "yo";
        let before = text_before(tokens, i, 1);
        if YEAR_UNITS.contains(&next) && (old || before == "aged" || before == "age") {
            return Some((n, None));
        }
        if MONTH_UNITS.contains(&next) && (old || before == "aged") {
            return Some((n / 12.0, None));
        }
        if WEEK_UNITS.contains(&next) && (old || before == "aged") {
            return Some((n / 52.0, None));
        }
        if DAY_UNITS.contains(&next) && old {
            return Some((n / 365.0, None));
        }
        if before == "aged" || (before == "age" && !YEAR_UNITS.contains(&next)) {
            return Some((n, None));
        }
        // "my son is 4", "I'm 40", "she is 70 and"
        let before2 = text_before(tokens, i, 2);
        let unit_follows = [YEAR_UNITS, MONTH_UNITS, WEEK_UNITS, DAY_UNITS]
            .iter()
            .any(|u| u.contains(&next))
            || matches!(
                next,
                "hours" | "hour" | "minutes" | "pm" | "am" | "kg" | "cm" | "times"
            );
        let person_is = before == "im"
            || (matches!(before, "is" | "turned")
                && matches!(
                    before2,
                    "son"
                        | "daughter"
                        | "child"
                        | "baby"
                        | "boy"
                        | "girl"
                        | "kid"
                        | "he"
                        | "she"
                        | "husband"
                        | "wife"
                        | "mother"
                        | "father"
                        | "dad"
                        | "mum"
                        | "mom"
                        | "brother"
                        | "sister"
                        | "patient"
                        | "toddler"
                ));
        if person_is
            && tokens[i].num.is_some()
            && (!unit_follows || (old && YEAR_UNITS.contains(&next)))
        {
            return Some((n, None));
        }
        if tokens[i].num.is_some() && !TIME_WORDS.contains(&before) {
            let sex = match next {
                "f" | "female" | "woman" | "lady" | "girl" => Some(Sex::Female),
                "m" | "male" | "man" | "gentleman" | "boy" => Some(Sex::Male),
                _ => None,
            };
            if sex.is_some() && n >= 1.0 {
                return Some((n, sex));
            }
            // "in her 70s"
            if next == "s" && matches!(before, "her" | "his" | "their" | "the") && n >= 10.0 {
                return Some((n + 5.0, None));
            }
        }
    }
    None
}

/// Durations in the text: `(token index, days)`.
pub(crate) fn durations(tokens: &[Token], used: &[bool]) -> Vec<(usize, f32)> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        if used.get(i).copied().unwrap_or(false) {
            continue;
        }
        let t = text(tokens, i);
        // Swahili: unit then number ("siku tatu", "wiki 2"), unless it is an age.
        let sw_unit = match t {
            "dakika" => Some(1.0 / 1440.0),
            "saa" | "masaa" => Some(1.0 / 24.0),
            "siku" => Some(1.0),
            "wiki" => Some(7.0),
            "mwezi" | "miezi" => Some(30.0),
            "mwaka" | "miaka" => Some(365.0),
            _ => None,
        };
        if let Some(unit) = sw_unit
            && !SW_AGE_LEADS.contains(&text_before(tokens, i, 1))
            && let Some(n) = tokens
                .get(i + 1)
                .and_then(|t| t.num.or_else(|| word_number(&t.text)))
        {
            out.push((i, n * unit));
            continue;
        }
        let relative = match (t, text(tokens, i + 1)) {
            ("yesterday" | "jana", _) => Some(1.0),
            ("juzi", _) => Some(2.0),
            ("today" | "tonight" | "leo", _) => Some(0.25),
            ("this", "morning" | "afternoon" | "evening") => Some(0.25),
            ("last", "night") => Some(0.5),
            ("last", "week") => Some(7.0),
            ("last", "month") => Some(30.0),
            ("wiki", "iliyopita") => Some(7.0),
            ("mwezi", "uliopita") => Some(30.0),
            ("for" | "kwa", "hours" | "masaa") => Some(0.2),
            ("for" | "kwa", "days" | "siku") => Some(3.0),
            ("for" | "kwa", "weeks" | "wiki") => Some(14.0),
            ("for" | "kwa", "months" | "miezi") => Some(60.0),
            ("for" | "kwa", "years" | "miaka") => Some(365.0),
            _ => None,
        };
        // "kwa wiki mbili" is read at "wiki" as two weeks, not here as "for weeks".
        let counted = tokens
            .get(i + 2)
            .is_some_and(|t| t.num.is_some() || word_number(&t.text).is_some());
        let relative = relative.filter(|_| !(matches!(t, "for" | "kwa") && counted));
        if let Some(days) = relative {
            out.push((i, days));
            continue;
        }
        let n = tokens[i].num.or_else(|| word_number(t));
        let Some(n) = n else { continue };
        let mut u = i + 1;
        if text(tokens, u) == "of" {
            // "a couple of days"
            u += 1;
        }
        let unit = match text(tokens, u) {
            "minute" | "minutes" | "min" | "mins" => 1.0 / 1440.0,
            "hour" | "hours" | "hr" | "hrs" | "h" => 1.0 / 24.0,
            "day" | "days" | "d" | "night" | "nights" => 1.0,
            "week" | "weeks" | "wk" | "wks" => 7.0,
            "month" | "months" | "mo" | "mos" | "mth" | "mths" => 30.0,
            "year" | "years" | "yr" | "yrs" => 365.0,
            _ => continue,
        };
        let after = text(tokens, u + 1);
        let is_age = matches!(after, "old" | "o") || text_before(tokens, i, 1) == "aged";
        let is_gestation = matches!(
            after,
            "pregnant" | "gestation" | "pregnancy" | "gestational"
        ) || (after == "of"
            && matches!(text(tokens, u + 2), "gestation" | "pregnancy"));
        if is_age || is_gestation {
            continue;
        }
        out.push((i, n * unit));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn vit(s: &str) -> Vitals {
        vitals(&tokenize(s).0).0
    }

    fn age_of(s: &str) -> Option<f32> {
        age(&tokenize(s).0).map(|(a, _)| a)
    }

    fn days(s: &str) -> Vec<f32> {
        let (tokens, _) = tokenize(s);
        let (_, used) = vitals(&tokens);
        durations(&tokens, &used)
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    }

    #[test]
    fn blood_pressure_heart_rate_and_saturation_are_read_with_their_names() {
        let v = vit("BP 80/50, HR 130, SpO2 88%, RR 32, temp 39.5");
        assert_eq!(v.systolic_bp, Some(80.0));
        assert_eq!(v.diastolic_bp, Some(50.0));
        assert_eq!(v.heart_rate, Some(130.0));
        assert_eq!(v.spo2, Some(88.0));
        assert_eq!(v.respiratory_rate, Some(32.0));
        assert_eq!(v.temperature_c, Some(39.5));
    }

    #[test]
    fn fahrenheit_and_mg_per_decilitre_are_converted() {
        let v = vit("temperature of 102 F, blood sugar 40 mg/dl");
        let t = v.temperature_c.unwrap();
        assert!((t - 38.9).abs() < 0.1, "{t}");
        let g = v.glucose_mmol.unwrap();
        assert!((g - 2.2).abs() < 0.1, "{g}");
        assert_eq!(vit("glucose 2.1 mmol/L").glucose_mmol, Some(2.1));
    }

    #[test]
    fn values_no_living_person_has_are_dropped() {
        let v = vit("HR 9000, temp 80 c, SpO2 150");
        assert_eq!(v.heart_rate, None);
        assert_eq!(v.spo2, None);
    }

    #[test]
    fn units_alone_identify_a_value() {
        let v = vit("she was 39.8 °C with a pulse of 124 bpm and 90/60 mmHg");
        assert_eq!(v.temperature_c, Some(39.8));
        assert_eq!(v.heart_rate, Some(124.0));
        assert_eq!(v.systolic_bp, Some(90.0));
    }

    #[test]
    fn ages_are_read_in_their_usual_english_forms() {
        assert_eq!(age_of("a 67-year-old woman"), Some(67.0));
        assert_eq!(age_of("my 2 year old son"), Some(2.0));
        assert_eq!(age_of("a 3-month-old baby"), Some(0.25));
        assert_eq!(age_of("45M presents with"), Some(45.0));
        assert_eq!(age_of("aged 70, she"), Some(70.0));
        assert_eq!(age_of("my two year old"), Some(2.0));
        assert_eq!(age_of("pain for 3 years"), None);
        assert_eq!(age_of("my son is 4 and has a cough"), Some(4.0));
        assert_eq!(age_of("I'm 40."), Some(40.0));
        assert_eq!(age_of("I'm 8 weeks pregnant"), None);
    }

    #[test]
    fn ages_are_read_in_swahili() {
        assert_eq!(age_of("mtoto wa miaka 2 ana homa"), Some(2.0));
        assert_eq!(age_of("mtoto wa miezi sita"), Some(0.5));
        assert_eq!(age_of("nina miaka 30"), Some(30.0));
    }

    #[test]
    fn sex_written_with_the_age_is_kept() {
        assert_eq!(
            age(&tokenize("67F with chest pain").0),
            Some((67.0, Some(Sex::Female)))
        );
    }

    #[test]
    fn durations_are_read_in_numbers_words_and_swahili() {
        assert_eq!(days("cough for 3 weeks"), [21.0]);
        assert_eq!(days("since yesterday"), [1.0]);
        assert_eq!(days("for two days"), [2.0]);
        assert_eq!(days("kikohozi kwa wiki mbili"), [14.0]);
        assert_eq!(days("a couple of days"), [2.0]);
        assert_eq!(days("2 hours of pain"), [2.0 / 24.0]);
    }

    #[test]
    fn ages_gestations_and_vital_values_are_not_durations() {
        assert!(days("a 3-month-old baby").is_empty());
        assert!(days("28 weeks pregnant").is_empty());
        assert!(days("HR 120 hr").is_empty());
        assert!(days("mtoto wa miaka 2").is_empty());
    }
}
