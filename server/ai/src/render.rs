//! Plain-text rendering of a triage result, for `tabibu triage "text"` and for logs of the
//! developer's own test inputs. It shows findings, not the input text.
use crate::types::TriageResult;

/// A human-readable report of one result.
pub fn render_result_text(r: &TriageResult) -> String {
    let mut out = format!("level: {}\n{}\n", r.level, r.level.meaning());
    if r.show_emergency_banner {
        out.push_str("EMERGENCY: show the emergency banner with the local emergency number.\n");
    }
    if !r.red_flags.is_empty() {
        out.push_str("\nred flags:\n");
        for f in &r.red_flags {
            out.push_str(&format!("  - {} ({})\n", f.label, f.id));
        }
    }
    out.push_str("\nreasons:\n");
    for reason in &r.reasons {
        out.push_str(&format!(
            "  - [{}] {}: {}",
            reason.level, reason.rule_id, reason.explanation
        ));
        if !reason.findings.is_empty() {
            out.push_str(&format!(" (findings: {})", reason.findings.join("; ")));
        }
        out.push('\n');
    }
    let f = &r.findings;
    let present: Vec<&str> = f
        .symptoms
        .iter()
        .filter(|s| !s.negated)
        .map(|s| s.label.as_str())
        .collect();
    let negated: Vec<&str> = f
        .symptoms
        .iter()
        .filter(|s| s.negated)
        .map(|s| s.label.as_str())
        .collect();
    out.push_str("\nfindings:\n");
    if !present.is_empty() {
        out.push_str(&format!("  present: {}\n", present.join(", ")));
    }
    if !negated.is_empty() {
        out.push_str(&format!("  absent: {}\n", negated.join(", ")));
    }
    if let Some(a) = f.age_years {
        out.push_str(&format!("  age: {a:.1} years\n"));
    }
    if let Some(s) = f.sex {
        out.push_str(&format!("  sex: {s:?}\n"));
    }
    if f.pregnant == Some(true) {
        out.push_str("  pregnant\n");
    }
    if let Some(d) = f.duration_days {
        out.push_str(&format!("  longest duration: {d:.1} days\n"));
    }
    if f.sudden_onset {
        out.push_str("  sudden onset\n");
    }
    if !r.follow_up_questions.is_empty() {
        out.push_str("\nfollow-up questions:\n");
        for q in &r.follow_up_questions {
            out.push_str(&format!("  - {q}\n"));
        }
    }
    if !r.advice.is_empty() {
        out.push_str("\nadvice:\n");
        for a in &r.advice {
            out.push_str(&format!("  - {a}\n"));
        }
    }
    if r.truncated {
        out.push_str(
            "\n(note: the text was longer than the engine reads; only its start was used)\n",
        );
    }
    out
}
