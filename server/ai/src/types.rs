//! Types shared by the server and the browser: the triage scale and the results the engine
//! hands to the rest of the product.
//!
//! This module is compiled into the browser bundle, so it must depend on `serde` and nothing
//! else, and must never grow logic that needs the knowledge base.
use serde::{Deserialize, Serialize};

/// How urgently a patient needs care.
///
/// The derived `Ord` sorts the most urgent level first (`Emergency < Urgent < Routine <
/// SelfCare`), which is the order of the doctors' queue. To compare by urgency use
/// [`TriageLevel::rank`] or [`TriageLevel::most_urgent`], which read the right way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageLevel {
    /// Call an ambulance or go to an emergency department now.
    Emergency,
    /// See a doctor within 24 hours.
    Urgent,
    /// See a doctor, not urgently.
    Routine,
    /// Manage at home, with advice on when to seek care.
    SelfCare,
}

impl TriageLevel {
    /// Every level, most urgent first.
    pub const ALL: [TriageLevel; 4] = [
        TriageLevel::Emergency,
        TriageLevel::Urgent,
        TriageLevel::Routine,
        TriageLevel::SelfCare,
    ];

    /// The wire name (`emergency`, `urgent`, `routine`, `self_care`).
    pub fn as_str(self) -> &'static str {
        match self {
            TriageLevel::Emergency => "emergency",
            TriageLevel::Urgent => "urgent",
            TriageLevel::Routine => "routine",
            TriageLevel::SelfCare => "self_care",
        }
    }

    /// Parses a wire name; `None` for anything else. Accepts `self-care` and surrounding
    /// whitespace and any letter case, because people type these on the command line.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        TriageLevel::ALL.into_iter().find(|level| {
            level.as_str().eq_ignore_ascii_case(s)
                || (*level == TriageLevel::SelfCare && s.eq_ignore_ascii_case("self-care"))
        })
    }

    /// Urgency as a number: 3 for emergency down to 0 for self care. Higher is more urgent.
    pub fn rank(self) -> u8 {
        match self {
            TriageLevel::Emergency => 3,
            TriageLevel::Urgent => 2,
            TriageLevel::Routine => 1,
            TriageLevel::SelfCare => 0,
        }
    }

    /// The level with a given urgency rank, saturating above 3.
    pub fn from_rank(rank: u8) -> Self {
        match rank {
            0 => TriageLevel::SelfCare,
            1 => TriageLevel::Routine,
            2 => TriageLevel::Urgent,
            _ => TriageLevel::Emergency,
        }
    }

    /// The more urgent of two levels.
    pub fn most_urgent(self, other: Self) -> Self {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// The coarse class used by evaluations: emergency → emergent, urgent and routine →
    /// non-emergent, self care → self care.
    pub fn coarse(self) -> Coarse {
        match self {
            TriageLevel::Emergency => Coarse::Emergent,
            TriageLevel::Urgent | TriageLevel::Routine => Coarse::NonEmergent,
            TriageLevel::SelfCare => Coarse::SelfCare,
        }
    }

    /// A short sentence telling a patient what the level means.
    pub fn meaning(self) -> &'static str {
        match self {
            TriageLevel::Emergency => "Call an ambulance or go to an emergency department now.",
            TriageLevel::Urgent => "See a doctor within 24 hours.",
            TriageLevel::Routine => "See a doctor; this is not urgent.",
            TriageLevel::SelfCare => "You can manage this at home; seek care if it gets worse.",
        }
    }
}

impl std::fmt::Display for TriageLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three-way scale that published evaluation sets often use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coarse {
    Emergent,
    NonEmergent,
    SelfCare,
}

impl Coarse {
    /// Every coarse class, most urgent first.
    pub const ALL: [Coarse; 3] = [Coarse::Emergent, Coarse::NonEmergent, Coarse::SelfCare];

    /// The wire name (`emergent`, `non_emergent`, `self_care`).
    pub fn as_str(self) -> &'static str {
        match self {
            Coarse::Emergent => "emergent",
            Coarse::NonEmergent => "non_emergent",
            Coarse::SelfCare => "self_care",
        }
    }

    /// Parses a wire name (also `non-emergent`); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().replace('-', "_");
        Coarse::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(&s))
    }
}

impl std::fmt::Display for Coarse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sex as recorded in the profile or read from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
}

/// What the profile already knows about the patient. Text can fill what is missing; when both
/// speak, the profile wins, because the text may describe someone else ("my mother").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientContext {
    /// Age in years; fractions for babies (a 3-month-old is 0.25).
    pub age_years: Option<f32>,
    pub sex: Option<Sex>,
    pub pregnant: Option<bool>,
}

/// One rule that fired, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The rule's id in the knowledge base (`baseline.<symptom>` for a symptom's own level).
    pub rule_id: String,
    /// The rule's human explanation.
    pub explanation: String,
    /// The level this rule asked for.
    pub level: TriageLevel,
    /// Labels of the findings that made it fire (symptoms, vital signs, age, pregnancy…).
    pub findings: Vec<String>,
}

/// A danger sign that on its own calls for emergency care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedFlag {
    pub id: String,
    pub label: String,
}

/// Vital signs and lab values read from the text. Units are normalised: °C, mmol/L, g/dL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Vitals {
    /// Systolic blood pressure, mmHg.
    pub systolic_bp: Option<f32>,
    /// Diastolic blood pressure, mmHg.
    pub diastolic_bp: Option<f32>,
    /// Heart rate, beats per minute.
    pub heart_rate: Option<f32>,
    /// Respiratory rate, breaths per minute.
    pub respiratory_rate: Option<f32>,
    /// Temperature, °C (a Fahrenheit reading is converted).
    pub temperature_c: Option<f32>,
    /// Oxygen saturation, percent.
    pub spo2: Option<f32>,
    /// Blood glucose, mmol/L (mg/dL is converted).
    pub glucose_mmol: Option<f32>,
    /// Haemoglobin, g/dL (g/L is converted).
    pub haemoglobin_g_dl: Option<f32>,
    /// Glasgow Coma Scale, 3–15.
    pub gcs: Option<f32>,
}

/// A symptom the engine recognised in the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The symptom's id in the knowledge base.
    pub symptom: String,
    pub label: String,
    /// True when the text says the patient does not have it ("no fever", "sina homa").
    pub negated: bool,
    pub severe: bool,
    pub mild: bool,
    /// How long it has lasted, in days, when the text says.
    pub duration_days: Option<f32>,
}

/// Everything the engine read from the text besides symptoms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Present and negated symptoms, in the order they were first mentioned.
    pub symptoms: Vec<Finding>,
    pub vitals: Vitals,
    /// Age in years after merging the profile and the text.
    pub age_years: Option<f32>,
    pub sex: Option<Sex>,
    pub pregnant: Option<bool>,
    /// The text is about a child (an age under 12 or words such as "my baby", "mtoto").
    pub child: bool,
    /// The text is about a baby under one year.
    pub infant: bool,
    /// The longest duration mentioned, in days.
    pub duration_days: Option<f32>,
    /// The text says the problem started suddenly.
    pub sudden_onset: bool,
}

/// The engine's answer for one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageResult {
    pub level: TriageLevel,
    /// True whenever the level is emergency: the interface must show the emergency banner with
    /// the configured local number at once, whatever else is on screen.
    pub show_emergency_banner: bool,
    /// The rules that fired, most urgent first.
    pub reasons: Vec<Reason>,
    pub red_flags: Vec<RedFlag>,
    pub follow_up_questions: Vec<String>,
    /// Self-care and safety-net advice, and what to do now for the higher levels.
    pub advice: Vec<String>,
    pub findings: Findings,
    /// The text was longer than the engine reads and only its beginning was used.
    pub truncated: bool,
    /// The text gave too little to go on (empty, or no recognisable symptom).
    pub needs_more_detail: bool,
}

/// The structured summary a doctor reads before a consultation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreConsultSummary {
    pub chief_complaint: String,
    pub history_of_present_illness: String,
    /// Symptoms the patient said they do not have.
    pub relevant_negatives: Vec<String>,
    pub red_flags: Vec<RedFlag>,
    pub level: TriageLevel,
    pub reasons: Vec<Reason>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_parses_back_from_its_wire_name() {
        for level in TriageLevel::ALL {
            assert_eq!(TriageLevel::parse(level.as_str()), Some(level));
            assert_eq!(TriageLevel::from_rank(level.rank()), level);
        }
        assert_eq!(
            TriageLevel::parse(" Self-Care "),
            Some(TriageLevel::SelfCare)
        );
        assert_eq!(TriageLevel::parse("emergent"), None);
    }

    #[test]
    fn the_coarse_scale_folds_urgent_and_routine_together() {
        assert_eq!(TriageLevel::Emergency.coarse(), Coarse::Emergent);
        assert_eq!(TriageLevel::Urgent.coarse(), Coarse::NonEmergent);
        assert_eq!(TriageLevel::Routine.coarse(), Coarse::NonEmergent);
        assert_eq!(TriageLevel::SelfCare.coarse(), Coarse::SelfCare);
        assert_eq!(Coarse::parse("non-emergent"), Some(Coarse::NonEmergent));
    }

    #[test]
    fn the_most_urgent_of_two_levels_is_the_higher_rank() {
        assert_eq!(
            TriageLevel::SelfCare.most_urgent(TriageLevel::Urgent),
            TriageLevel::Urgent
        );
        assert_eq!(
            TriageLevel::Emergency.most_urgent(TriageLevel::Routine),
            TriageLevel::Emergency
        );
    }
}
