//! The built-in pre-consultation summary: a template filled from the triage result, for the
//! doctor who claims the case. A model may write a richer one; this one is always available.
//!
//! It quotes the patient's words (capped) because the doctor is about to read them anyway;
//! it must never be logged.
use crate::engine::{describe_age, describe_days};
use crate::types::{PreConsultSummary, Sex, TriageResult};

/// How much of the patient's own text the summary quotes.
const QUOTE_CHARS: usize = 600;

/// Fills the summary template from the patient's text and the engine's result.
pub fn pre_consult_summary(text: &str, result: &TriageResult) -> PreConsultSummary {
    let f = &result.findings;
    let present: Vec<_> = f.symptoms.iter().filter(|s| !s.negated).collect();

    let chief_complaint = match present.first() {
        Some(s) => match s.duration_days {
            Some(d) => format!("{} for {}", s.label, describe_days(d)),
            None => s.label.clone(),
        },
        None => first_sentence(text),
    };

    let mut hpi = Vec::new();
    let who = match (f.age_years, f.sex) {
        (Some(a), Some(Sex::Female)) => format!("Female, {}.", describe_age(a)),
        (Some(a), Some(Sex::Male)) => format!("Male, {}.", describe_age(a)),
        (Some(a), None) => format!("Age {}.", describe_age(a)),
        (None, Some(Sex::Female)) => "Female.".to_owned(),
        (None, Some(Sex::Male)) => "Male.".to_owned(),
        (None, None) => String::new(),
    };
    if !who.is_empty() {
        hpi.push(who);
    }
    if f.pregnant == Some(true) {
        hpi.push("Pregnant.".to_owned());
    }
    if !present.is_empty() {
        let items: Vec<String> = present
            .iter()
            .map(|s| {
                let mut item = s.label.to_lowercase();
                if s.severe {
                    item.push_str(" (severe)");
                }
                if let Some(d) = s.duration_days {
                    item.push_str(&format!(" for {}", describe_days(d)));
                }
                item
            })
            .collect();
        hpi.push(format!("Reports {}.", items.join(", ")));
    }
    if f.sudden_onset {
        hpi.push("Sudden onset.".to_owned());
    }
    let v = &f.vitals;
    let mut vitals = Vec::new();
    if let (Some(s), Some(d)) = (v.systolic_bp, v.diastolic_bp) {
        vitals.push(format!("BP {s:.0}/{d:.0}"));
    }
    let mut push = |name: &str, value: Option<f32>, unit: &str| {
        if let Some(x) = value {
            vitals.push(format!("{name} {x:.1}{unit}").replace(".0", ""));
        }
    };
    push("HR", v.heart_rate, "");
    push("RR", v.respiratory_rate, "");
    push("Temp", v.temperature_c, " °C");
    push("SpO2", v.spo2, "%");
    push("Glucose", v.glucose_mmol, " mmol/L");
    push("Hb", v.haemoglobin_g_dl, " g/dL");
    push("GCS", v.gcs, "");
    if !vitals.is_empty() {
        hpi.push(format!("Values given: {}.", vitals.join(", ")));
    }
    let quote: String = text.trim().chars().take(QUOTE_CHARS).collect();
    if !quote.is_empty() {
        let more = if text.trim().chars().count() > QUOTE_CHARS {
            "…"
        } else {
            ""
        };
        hpi.push(format!("In the patient's words: \"{quote}{more}\""));
    }

    PreConsultSummary {
        chief_complaint,
        history_of_present_illness: hpi.join(" "),
        relevant_negatives: f
            .symptoms
            .iter()
            .filter(|s| s.negated)
            .map(|s| format!("No {}", s.label.to_lowercase()))
            .collect(),
        red_flags: result.red_flags.clone(),
        level: result.level,
        reasons: result.reasons.clone(),
    }
}

fn first_sentence(text: &str) -> String {
    let s = text
        .trim()
        .split(['.', '\n', '!', '?'])
        .next()
        .unwrap_or("")
        .trim();
    if s.is_empty() {
        return "Not stated".to_owned();
    }
    s.chars().take(120).collect()
}
