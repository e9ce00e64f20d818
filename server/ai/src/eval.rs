//! Evaluation: runs the engine over a JSONL file of vignettes and reports accuracy, a confusion
//! matrix, emergency sensitivity and the misses.
//!
//! Each line is `{"id": "...", "text": "...", "expected": "<level or coarse label>"}`; other
//! keys (such as `reason`) are ignored. A vignette is scored at the granularity of its
//! `expected`: a level is compared exactly, a coarse label (`emergent`, `non_emergent`,
//! `self_care`) after folding the engine's level with [`TriageLevel::coarse`]. `self_care` is
//! both a level and a coarse label; it is read as a level, which scores the same.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::types::{Coarse, PatientContext, TriageLevel};

/// One case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vignette {
    pub id: String,
    pub text: String,
    pub expected: String,
}

/// What a vignette expects, at its own granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Level(TriageLevel),
    Coarse(Coarse),
}

impl Expected {
    pub fn parse(s: &str) -> Option<Self> {
        TriageLevel::parse(s)
            .map(Expected::Level)
            .or_else(|| Coarse::parse(s).map(Expected::Coarse))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Level(l) => l.as_str(),
            Expected::Coarse(c) => c.as_str(),
        }
    }

    /// The engine's level at this granularity.
    pub fn project(self, got: TriageLevel) -> &'static str {
        match self {
            Expected::Level(_) => got.as_str(),
            Expected::Coarse(_) => got.coarse().as_str(),
        }
    }

    pub fn is_emergency(self) -> bool {
        matches!(
            self,
            Expected::Level(TriageLevel::Emergency) | Expected::Coarse(Coarse::Emergent)
        )
    }
}

/// Why a vignette file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("line {line}: not a vignette: {message}")]
    BadLine { line: usize, message: String },
    #[error(
        "line {line}: unknown expected label `{label}` (use a level or emergent, non_emergent, self_care)"
    )]
    BadExpected { line: usize, label: String },
    #[error("no vignettes in the file")]
    Empty,
}

/// Parses JSONL; blank lines are skipped. The first bad line stops parsing with its number.
pub fn parse_jsonl(input: &str) -> Result<Vec<Vignette>, EvalError> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Vignette = serde_json::from_str(line).map_err(|e| EvalError::BadLine {
            line: line_no,
            message: e.to_string(),
        })?;
        if Expected::parse(&v.expected).is_none() {
            return Err(EvalError::BadExpected {
                line: line_no,
                label: v.expected,
            });
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok(out)
}

/// A case the engine got wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    pub id: String,
    pub expected: String,
    pub got: String,
    /// Ids of the rules behind the engine's answer, most urgent first (at most three).
    pub top_reasons: Vec<String>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub total: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Of the cases expecting emergency (or emergent), the fraction the engine called
    /// emergency; `None` when there were none.
    pub emergency_sensitivity: Option<f64>,
    /// expected label → predicted label (at the same granularity) → count.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    pub misses: Vec<Miss>,
}

/// Runs every vignette through the engine with an empty profile (the text must carry the age).
/// Vignettes whose `expected` does not parse count as misses; `parse_jsonl` refuses them anyway.
pub fn evaluate(engine: &Engine, vignettes: &[Vignette]) -> EvalReport {
    let mut correct = 0;
    let (mut emergencies, mut caught) = (0usize, 0usize);
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut misses = Vec::new();
    for v in vignettes {
        let result = crate::guard::triage_guarded(engine, &v.text, &PatientContext::default());
        let expected = Expected::parse(&v.expected);
        let (want, got) = match expected {
            Some(e) => (e.as_str(), e.project(result.level)),
            None => (v.expected.as_str(), result.level.as_str()),
        };
        *confusion
            .entry(want.to_owned())
            .or_default()
            .entry(got.to_owned())
            .or_default() += 1;
        if expected.is_some_and(Expected::is_emergency) {
            emergencies += 1;
            if result.level == TriageLevel::Emergency {
                caught += 1;
            }
        }
        if expected.is_some() && want == got {
            correct += 1;
        } else {
            misses.push(Miss {
                id: v.id.clone(),
                expected: want.to_owned(),
                got: got.to_owned(),
                top_reasons: result
                    .reasons
                    .iter()
                    .take(3)
                    .map(|r| r.rule_id.clone())
                    .collect(),
            });
        }
    }
    let total = vignettes.len();
    EvalReport {
        total,
        correct,
        accuracy: if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        },
        emergency_sensitivity: (emergencies > 0).then(|| caught as f64 / emergencies as f64),
        confusion,
        misses,
    }
}

const ORDER: [&str; 6] = [
    "emergency",
    "urgent",
    "routine",
    "self_care",
    "emergent",
    "non_emergent",
];

fn sorted<'a>(keys: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut keys: Vec<&String> = keys.collect();
    keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
    keys.dedup();
    keys
}

impl EvalReport {
    /// A report for people: totals, the confusion matrix (rows expected, columns predicted)
    /// and the misses with the rules behind them. It names vignettes by id only.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "vignettes: {}\ncorrect:   {}\naccuracy:  {:.1}%\n",
            self.total,
            self.correct,
            self.accuracy * 100.0
        ));
        match self.emergency_sensitivity {
            Some(s) => out.push_str(&format!("emergency sensitivity: {:.1}%\n", s * 100.0)),
            None => out.push_str("emergency sensitivity: n/a (no emergency cases)\n"),
        }
        let cols = sorted(
            self.confusion
                .values()
                .flat_map(|r| r.keys())
                .chain(self.confusion.keys()),
        );
        out.push_str("\nconfusion (rows: expected, columns: predicted)\n");
        out.push_str(&format!("{:>14}", ""));
        for c in &cols {
            out.push_str(&format!("{c:>14}"));
        }
        out.push('\n');
        for r in sorted(self.confusion.keys()) {
            out.push_str(&format!("{r:>14}"));
            for c in &cols {
                let n = self
                    .confusion
                    .get(r)
                    .and_then(|row| row.get(*c))
                    .copied()
                    .unwrap_or(0);
                out.push_str(&format!("{n:>14}"));
            }
            out.push('\n');
        }
        if !self.misses.is_empty() {
            out.push_str(&format!("\nmisses ({})\n", self.misses.len()));
            for m in &self.misses {
                out.push_str(&format!(
                    "  {}: expected {}, got {} ({})\n",
                    m.id,
                    m.expected,
                    m.got,
                    m.top_reasons.join(", ")
                ));
            }
        }
        out
    }

    /// One JSON object with `total`, `correct`, `accuracy`, `emergency_sensitivity`,
    /// `confusion` and `misses`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "total": self.total,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "emergency_sensitivity": self.emergency_sensitivity,
            "confusion": self.confusion,
            "misses": self.misses,
        })
    }
}
