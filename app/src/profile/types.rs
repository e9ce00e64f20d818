//! The profile as both halves see it.

use serde::{Deserialize, Serialize};

/// How the patient describes their sex. Only `Female` and `Male` change what the triage engine
/// asks and flags; `Other` is recorded as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Sex> {
        match s {
            "female" => Some(Sex::Female),
            "male" => Some(Sex::Male),
            "other" => Some(Sex::Other),
            _ => None,
        }
    }
}

/// A patient's health profile. Empty lists and `None` mean "not told", never "none".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthProfile {
    /// `YYYY-MM-DD`, from sign-up; editable here.
    pub date_of_birth: Option<String>,
    pub sex: Option<Sex>,
    /// Asked only of patients who could be pregnant; `None` is "not sure" or "not asked".
    pub pregnant: Option<bool>,
    pub allergies: Vec<String>,
    pub medications: Vec<String>,
    pub conditions: Vec<String>,
    /// E.164 (`+254712345678`), or `None`.
    pub phone: Option<String>,
    /// When the profile was last saved (ms since the epoch); `None` if never.
    pub updated_at: Option<i64>,
}

impl HealthProfile {
    /// Whether the pregnancy question applies: female, or sex not given, aged 10 to 55.
    pub fn may_be_pregnant(&self, today: (i32, u32, u32)) -> bool {
        let sex_ok = matches!(self.sex, Some(Sex::Female) | None);
        let age = self
            .date_of_birth
            .as_deref()
            .and_then(|d| crate::profile::validate::age_years(d, today));
        sex_ok && age.is_none_or(|a| (10.0..56.0).contains(&a))
    }

    /// What the triage engine should know about this patient.
    pub fn triage_context(&self, today: (i32, u32, u32)) -> tabibu_ai::PatientContext {
        tabibu_ai::PatientContext {
            age_years: self
                .date_of_birth
                .as_deref()
                .and_then(|d| crate::profile::validate::age_years(d, today)),
            sex: match self.sex {
                Some(Sex::Female) => Some(tabibu_ai::Sex::Female),
                Some(Sex::Male) => Some(tabibu_ai::Sex::Male),
                _ => None,
            },
            pregnant: if self.may_be_pregnant(today) {
                self.pregnant
            } else {
                None
            },
        }
    }
}
