//! The safety invariants, in one place. Every result the product shows passes through here.
//!
//! 1. A red flag always means `emergency`, and `emergency` always shows the emergency banner.
//! 2. Another opinion (an external model, a doctor's pre-screen) can raise the built-in level,
//!    never lower it.
//! 3. A failure inside the engine yields a cautious result, never a panic or an error page.
//!
//! This module must stay small enough to read in one sitting, and nothing else may set
//! `level` or `show_emergency_banner` after it has run.
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::engine::Engine;
use crate::types::{PatientContext, Reason, TriageLevel, TriageResult};

/// Applies invariant 1 to a result.
pub fn enforce(result: &mut TriageResult) {
    if !result.red_flags.is_empty() {
        result.level = TriageLevel::Emergency;
    }
    result.show_emergency_banner = result.level == TriageLevel::Emergency;
}

/// The more urgent of the built-in level and another opinion's.
pub fn combine_levels(builtin: TriageLevel, other: TriageLevel) -> TriageLevel {
    builtin.most_urgent(other)
}

/// The built-in result, raised to `external` if that is more urgent (invariant 2). The raise
/// is recorded as a reason so the doctor can see where the level came from.
pub fn combine(builtin: &TriageResult, external: TriageLevel) -> TriageResult {
    let mut out = builtin.clone();
    let level = combine_levels(builtin.level, external);
    if level != builtin.level {
        out.level = level;
        out.reasons.insert(
            0,
            Reason {
                rule_id: "external.raise".to_owned(),
                explanation: "The assistant's model judged this more urgent than the built-in \
                              rules; the more urgent level is kept."
                    .to_owned(),
                level,
                findings: Vec::new(),
            },
        );
    }
    enforce(&mut out);
    out
}

/// Triage that cannot fail (invariant 3): if the engine panicked, the patient is told to see a
/// doctor within a day rather than shown an error.
pub fn triage_guarded(engine: &Engine, text: &str, ctx: &PatientContext) -> TriageResult {
    match catch_unwind(AssertUnwindSafe(|| engine.triage(text, ctx))) {
        Ok(result) => result,
        Err(_) => fallback(),
    }
}

/// The result used when the engine could not assess the text.
pub fn fallback() -> TriageResult {
    let mut result = TriageResult {
        level: TriageLevel::Urgent,
        show_emergency_banner: false,
        reasons: vec![Reason {
            rule_id: "guard.fallback".to_owned(),
            explanation: "The assessment could not be completed, so a doctor should review \
                          this within 24 hours. If anything feels life-threatening, call \
                          emergency services now."
                .to_owned(),
            level: TriageLevel::Urgent,
            findings: Vec::new(),
        }],
        red_flags: Vec::new(),
        follow_up_questions: Vec::new(),
        advice: Vec::new(),
        findings: Default::default(),
        truncated: false,
        needs_more_detail: true,
    };
    enforce(&mut result);
    result
}

/// Why a result breaks an invariant; used by tests and the fuzz entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    RedFlagNotEmergency,
    BannerMismatch,
    NoReason,
}

/// Checks invariant 1 and that every result explains itself.
pub fn check(result: &TriageResult) -> Result<(), Violation> {
    if !result.red_flags.is_empty() && result.level != TriageLevel::Emergency {
        return Err(Violation::RedFlagNotEmergency);
    }
    if result.show_emergency_banner != (result.level == TriageLevel::Emergency) {
        return Err(Violation::BannerMismatch);
    }
    if result.reasons.is_empty() {
        return Err(Violation::NoReason);
    }
    Ok(())
}
