//! The clinical knowledge base: loading the TOML files, validating them, and compiling their
//! phrases into a lookup the engine can scan quickly.
//!
//! Everything clinical lives in `knowledge/*.toml`; this module knows only the shape of those
//! files. Loading must refuse anything doubtful (an unknown id, a duplicate, an empty synonym
//! list, a level that does not exist) with the file and line, because a silently ignored rule
//! is a patient silently under-triaged.
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::text::{Pat, compile_phrase, first_key};
use crate::types::{Sex, TriageLevel};

/// The knowledge-base files, in load order. `load_dir` expects every one of them.
pub const FILES: [&str; 6] = [
    "language.toml",
    "symptoms.toml",
    "red_flags.toml",
    "rules.toml",
    "modifiers.toml",
    "advice.toml",
];

const DEFAULT_SOURCES: [(&str, &str); 6] = [
    ("language.toml", include_str!("../knowledge/language.toml")),
    ("symptoms.toml", include_str!("../knowledge/symptoms.toml")),
    (
        "red_flags.toml",
        include_str!("../knowledge/red_flags.toml"),
    ),
    ("rules.toml", include_str!("../knowledge/rules.toml")),
    (
        "modifiers.toml",
        include_str!("../knowledge/modifiers.toml"),
    ),
    ("advice.toml", include_str!("../knowledge/advice.toml")),
];

/// Why a knowledge base could not be loaded. Every variant names the file; syntax and
/// validation errors also name the line (1-based).
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("{file}: cannot be read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

impl KbError {
    /// The file the error is in.
    pub fn file(&self) -> &str {
        match self {
            KbError::Io { file, .. }
            | KbError::Syntax { file, .. }
            | KbError::Invalid { file, .. } => file,
        }
    }

    /// The 1-based line, when the error has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            KbError::Io { .. } => None,
            KbError::Syntax { line, .. } | KbError::Invalid { line, .. } => Some(*line),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The files as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageFile {
    #[allow(dead_code)]
    source: String,
    negation: NegationRaw,
    modifiers: ModifierWordsRaw,
    people: PeopleRaw,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NegationRaw {
    before: Vec<Spanned<String>>,
    after: Vec<Spanned<String>>,
    scope_ends: Vec<Spanned<String>>,
    list_words: Vec<Spanned<String>>,
    history: Vec<Spanned<String>>,
    hypothetical: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModifierWordsRaw {
    severe: Vec<Spanned<String>>,
    mild: Vec<Spanned<String>>,
    sudden: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeopleRaw {
    child: Vec<Spanned<String>>,
    infant: Vec<Spanned<String>>,
    newborn: Vec<Spanned<String>>,
    female: Vec<Spanned<String>>,
    male: Vec<Spanned<String>>,
    pregnant: Vec<Spanned<String>>,
    postpartum: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SymptomsFile {
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    symptom: Vec<SymptomRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SymptomRaw {
    id: Spanned<String>,
    label: String,
    #[serde(default)]
    en: Vec<Spanned<String>>,
    #[serde(default)]
    sw: Vec<Spanned<String>>,
    /// Phrases that mean the symptom is absent ("afebrile").
    #[serde(default)]
    absent: Vec<Spanned<String>>,
    #[serde(default)]
    level: Option<Spanned<String>>,
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    from_vitals: Vec<VitalRaw>,
    #[serde(default)]
    ask: Vec<String>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VitalRaw {
    vital: Spanned<String>,
    #[serde(default)]
    below: Option<f32>,
    #[serde(default)]
    at_least: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedFlagsFile {
    red_flag: Vec<RedFlagRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedFlagRaw {
    id: Spanned<String>,
    label: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rule: Vec<RuleRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleRaw {
    id: Spanned<String>,
    #[serde(default)]
    level: Option<Spanned<String>>,
    #[serde(default)]
    raise: Option<Spanned<u8>>,
    #[serde(default)]
    cap: Option<Spanned<String>>,
    #[serde(default)]
    red_flag: Option<Spanned<String>>,
    explain: String,
    #[serde(default)]
    all: Vec<Spanned<String>>,
    #[serde(default)]
    any: Vec<Vec<Spanned<String>>>,
    #[serde(default)]
    none: Vec<Spanned<String>>,
    #[serde(default)]
    any_symptom: bool,
    #[serde(default)]
    vitals: Vec<VitalRaw>,
    #[serde(default)]
    age_below: Option<f32>,
    #[serde(default)]
    age_at_least: Option<f32>,
    #[serde(default)]
    child: Option<bool>,
    #[serde(default)]
    infant: Option<bool>,
    #[serde(default)]
    sex: Option<Spanned<String>>,
    #[serde(default)]
    pregnant: Option<bool>,
    #[serde(default)]
    postpartum: Option<bool>,
    #[serde(default)]
    min_days: Option<f32>,
    #[serde(default)]
    max_days: Option<f32>,
    #[serde(default)]
    severe: Option<bool>,
    #[serde(default)]
    mild: Option<bool>,
    #[serde(default)]
    sudden: Option<bool>,
    #[serde(default)]
    settles: Vec<Spanned<String>>,
    #[serde(default)]
    ask: Vec<String>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdviceFile {
    prompts: PromptsRaw,
    advice: Vec<AdviceRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptsRaw {
    ask_age: String,
    ask_duration: String,
    describe_more: String,
    no_symptoms_reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdviceRaw {
    id: Spanned<String>,
    text: String,
    #[serde(default)]
    when_any: Vec<Spanned<String>>,
    levels: Vec<Spanned<String>>,
    source: String,
}

// ---------------------------------------------------------------------------------------------
// The compiled knowledge base.

/// A measured value a rule or symptom can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vital {
    SystolicBp,
    DiastolicBp,
    HeartRate,
    RespiratoryRate,
    Temperature,
    Spo2,
    Glucose,
    Haemoglobin,
    Gcs,
}

impl Vital {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sbp" => Vital::SystolicBp,
            "dbp" => Vital::DiastolicBp,
            "hr" => Vital::HeartRate,
            "rr" => Vital::RespiratoryRate,
            "temp" => Vital::Temperature,
            "spo2" => Vital::Spo2,
            "glucose" => Vital::Glucose,
            "hb" => Vital::Haemoglobin,
            "gcs" => Vital::Gcs,
            _ => return None,
        })
    }
}

/// `vital < below` and/or `vital >= at_least`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VitalCond {
    pub vital: Vital,
    pub below: Option<f32>,
    pub at_least: Option<f32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Symptom {
    pub id: String,
    pub label: String,
    pub level: Option<TriageLevel>,
    pub why: Option<String>,
    pub from_vitals: Vec<VitalCond>,
    pub ask: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RedFlagDef {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: String,
    /// The level the rule sets, or `None` for a rule that raises.
    pub level: Option<TriageLevel>,
    pub raise: u8,
    pub cap: TriageLevel,
    pub red_flag: Option<usize>,
    pub explain: String,
    pub all: Vec<usize>,
    pub any: Vec<Vec<usize>>,
    pub none: Vec<usize>,
    pub any_symptom: bool,
    pub vitals: Vec<VitalCond>,
    pub age_below: Option<f32>,
    pub age_at_least: Option<f32>,
    pub child: Option<bool>,
    pub infant: Option<bool>,
    pub sex: Option<Sex>,
    pub pregnant: Option<bool>,
    pub postpartum: Option<bool>,
    pub min_days: Option<f32>,
    pub max_days: Option<f32>,
    pub severe: Option<bool>,
    pub mild: Option<bool>,
    pub sudden: Option<bool>,
    pub settles: Vec<usize>,
    pub ask: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Advice {
    pub text: String,
    pub when_any: Vec<usize>,
    pub levels: Vec<TriageLevel>,
}

#[derive(Debug, Clone)]
pub(crate) struct Prompts {
    pub ask_age: String,
    pub ask_duration: String,
    pub describe_more: String,
    pub no_symptoms_reason: String,
}

/// Grammatical word classes from `language.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WordClass {
    NegBefore,
    NegAfter,
    ScopeEnd,
    ListWord,
    History,
    Hypothetical,
    Severe,
    Mild,
    Sudden,
    Child,
    Infant,
    Newborn,
    Female,
    Male,
    Pregnant,
    Postpartum,
}

/// What a matched phrase means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Symptom(usize),
    /// A phrase that says the symptom is absent ("afebrile").
    AbsentSymptom(usize),
    /// A phrase that means nothing clinically but must not be read as a symptom
    /// ("blood pressure" is not bleeding).
    Ignore,
    Word(WordClass),
}

#[derive(Debug, Clone)]
pub(crate) struct Phrase {
    pub pats: Vec<Pat>,
    pub target: Target,
}

/// A loaded, validated clinical knowledge base. Cheap to share behind an `Arc`; immutable.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    pub(crate) symptoms: Vec<Symptom>,
    pub(crate) red_flags: Vec<RedFlagDef>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) advice: Vec<Advice>,
    pub(crate) prompts: Prompts,
    pub(crate) phrases: Vec<Phrase>,
    pub(crate) exact_index: HashMap<String, Vec<usize>>,
    pub(crate) prefix_index: HashMap<String, Vec<usize>>,
}

impl KnowledgeBase {
    /// The knowledge base shipped inside the binary.
    pub fn load_default() -> Result<Self, KbError> {
        Self::from_sources(&DEFAULT_SOURCES)
    }

    /// Loads every file of [`FILES`] from a directory, so a deployment can carry its own
    /// reviewed knowledge base.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, KbError> {
        let dir = dir.as_ref();
        let mut texts = Vec::with_capacity(FILES.len());
        for name in FILES {
            let text = std::fs::read_to_string(dir.join(name)).map_err(|source| KbError::Io {
                file: name.to_owned(),
                source,
            })?;
            texts.push((name, text));
        }
        let sources: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
        Self::from_sources(&sources)
    }

    /// Loads from in-memory file contents, given as `(file name, text)` in [`FILES`] order.
    /// A missing file is reported as an I/O error naming it.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Self, KbError> {
        let get = |name: &str| {
            sources
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .ok_or_else(|| KbError::Io {
                    file: name.to_owned(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "file missing"),
                })
        };
        let mut b = Builder::default();

        let file = "language.toml";
        let text = get(file)?;
        let lang: LanguageFile = parse(file, text)?;
        b.language(file, text, lang)?;

        let file = "symptoms.toml";
        let text = get(file)?;
        let symptoms: SymptomsFile = parse(file, text)?;
        b.symptoms(file, text, symptoms)?;

        let file = "red_flags.toml";
        let text = get(file)?;
        let flags: RedFlagsFile = parse(file, text)?;
        b.red_flags(file, text, flags)?;

        for file in ["rules.toml", "modifiers.toml"] {
            let text = get(file)?;
            let rules: RulesFile = parse(file, text)?;
            b.rules(file, text, rules)?;
        }

        let file = "advice.toml";
        let text = get(file)?;
        let advice: AdviceFile = parse(file, text)?;
        b.advice(file, text, advice)?;

        b.finish()
    }

    /// How many symptoms, rules (including modifiers) and red flags are loaded.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.symptoms.len(), self.rules.len(), self.red_flags.len())
    }
}

fn parse<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> Result<T, KbError> {
    toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let (line, column) = line_col(text, offset);
        KbError::Syntax {
            file: file.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[derive(Default)]
struct Builder {
    symptoms: Vec<Symptom>,
    symptom_ids: HashMap<String, usize>,
    red_flags: Vec<RedFlagDef>,
    red_flag_ids: HashMap<String, usize>,
    rules: Vec<Rule>,
    rule_ids: BTreeSet<String>,
    advice: Vec<Advice>,
    advice_ids: BTreeSet<String>,
    prompts: Option<Prompts>,
    phrases: Vec<Phrase>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Result<T, KbError> {
        Err(KbError::Invalid {
            file: self.file.to_owned(),
            line: line_col(self.text, span.start).0,
            message: message.into(),
        })
    }

    fn level(&self, s: &Spanned<String>) -> Result<TriageLevel, KbError> {
        match TriageLevel::parse(s.get_ref()) {
            Some(l) => Ok(l),
            None => self.err(
                s.span(),
                format!(
                    "unknown level `{}` (expected emergency, urgent, routine or self_care)",
                    s.get_ref()
                ),
            ),
        }
    }

    fn id(&self, s: &Spanned<String>, kind: &str) -> Result<String, KbError> {
        let id = s.get_ref();
        let ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return self.err(
                s.span(),
                format!("{kind} id `{id}` must be non-empty lower-case letters, digits and `_`"),
            );
        }
        Ok(id.clone())
    }

    fn source(&self, source: &str, id: &Spanned<String>) -> Result<(), KbError> {
        if source.trim().is_empty() {
            return self.err(id.span(), format!("`{}` has an empty source", id.get_ref()));
        }
        Ok(())
    }

    fn vitals(&self, raw: &[VitalRaw]) -> Result<Vec<VitalCond>, KbError> {
        raw.iter()
            .map(|v| {
                let Some(vital) = Vital::parse(v.vital.get_ref()) else {
                    return self.err(
                        v.vital.span(),
                        format!(
                            "unknown vital `{}` (expected sbp, dbp, hr, rr, temp, spo2, glucose, \
                             hb or gcs)",
                            v.vital.get_ref()
                        ),
                    );
                };
                if v.below.is_none() && v.at_least.is_none() {
                    return self.err(
                        v.vital.span(),
                        "a vital condition needs `below` or `at_least`",
                    );
                }
                Ok(VitalCond {
                    vital,
                    below: v.below,
                    at_least: v.at_least,
                })
            })
            .collect()
    }
}

impl Builder {
    fn phrase(&mut self, cx: &Ctx, s: &Spanned<String>, target: Target) -> Result<(), KbError> {
        match compile_phrase(s.get_ref()) {
            Some(pats) => {
                self.phrases.push(Phrase { pats, target });
                Ok(())
            }
            None => cx.err(
                s.span(),
                format!(
                    "phrase `{}` has no words or starts or ends with `~`",
                    s.get_ref()
                ),
            ),
        }
    }

    fn words(
        &mut self,
        cx: &Ctx,
        list: &[Spanned<String>],
        class: WordClass,
        name: &str,
    ) -> Result<(), KbError> {
        if list.is_empty() {
            return cx.err(0..0, format!("word list `{name}` is empty"));
        }
        for w in list {
            self.phrase(cx, w, Target::Word(class))?;
        }
        Ok(())
    }

    fn language(&mut self, file: &str, text: &str, lang: LanguageFile) -> Result<(), KbError> {
        let cx = Ctx { file, text };
        let n = lang.negation;
        self.words(&cx, &n.before, WordClass::NegBefore, "negation.before")?;
        self.words(&cx, &n.after, WordClass::NegAfter, "negation.after")?;
        self.words(
            &cx,
            &n.scope_ends,
            WordClass::ScopeEnd,
            "negation.scope_ends",
        )?;
        self.words(
            &cx,
            &n.list_words,
            WordClass::ListWord,
            "negation.list_words",
        )?;
        self.words(&cx, &n.history, WordClass::History, "negation.history")?;
        self.words(
            &cx,
            &n.hypothetical,
            WordClass::Hypothetical,
            "negation.hypothetical",
        )?;
        let m = lang.modifiers;
        self.words(&cx, &m.severe, WordClass::Severe, "modifiers.severe")?;
        self.words(&cx, &m.mild, WordClass::Mild, "modifiers.mild")?;
        self.words(&cx, &m.sudden, WordClass::Sudden, "modifiers.sudden")?;
        let p = lang.people;
        self.words(&cx, &p.child, WordClass::Child, "people.child")?;
        self.words(&cx, &p.infant, WordClass::Infant, "people.infant")?;
        self.words(&cx, &p.newborn, WordClass::Newborn, "people.newborn")?;
        self.words(&cx, &p.female, WordClass::Female, "people.female")?;
        self.words(&cx, &p.male, WordClass::Male, "people.male")?;
        self.words(&cx, &p.pregnant, WordClass::Pregnant, "people.pregnant")?;
        self.words(
            &cx,
            &p.postpartum,
            WordClass::Postpartum,
            "people.postpartum",
        )?;
        Ok(())
    }

    fn symptoms(&mut self, file: &str, text: &str, raw: SymptomsFile) -> Result<(), KbError> {
        let cx = Ctx { file, text };
        for s in &raw.ignore {
            self.phrase(&cx, s, Target::Ignore)?;
        }
        // Ids first, so that the checks below can name duplicates by line.
        for s in &raw.symptom {
            let id = cx.id(&s.id, "symptom")?;
            if self.symptom_ids.contains_key(&id) {
                return cx.err(s.id.span(), format!("duplicate symptom id `{id}`"));
            }
            self.symptom_ids.insert(id, self.symptom_ids.len());
        }
        for (index, s) in raw.symptom.into_iter().enumerate() {
            cx.source(&s.source, &s.id)?;
            let from_vitals = cx.vitals(&s.from_vitals)?;
            if s.en.is_empty() && s.sw.is_empty() && from_vitals.is_empty() {
                return cx.err(
                    s.id.span(),
                    format!("symptom `{}` has an empty synonym list", s.id.get_ref()),
                );
            }
            if s.label.trim().is_empty() {
                return cx.err(
                    s.id.span(),
                    format!("symptom `{}` has no label", s.id.get_ref()),
                );
            }
            for syn in s.en.iter().chain(&s.sw) {
                self.phrase(&cx, syn, Target::Symptom(index))?;
            }
            for syn in &s.absent {
                self.phrase(&cx, syn, Target::AbsentSymptom(index))?;
            }
            let level = s.level.as_ref().map(|l| cx.level(l)).transpose()?;
            self.symptoms.push(Symptom {
                id: s.id.into_inner(),
                label: s.label,
                level,
                why: s.why,
                from_vitals,
                ask: s.ask,
            });
        }
        Ok(())
    }

    fn red_flags(&mut self, file: &str, text: &str, raw: RedFlagsFile) -> Result<(), KbError> {
        let cx = Ctx { file, text };
        for f in raw.red_flag {
            let id = cx.id(&f.id, "red flag")?;
            if self.red_flag_ids.contains_key(&id) {
                return cx.err(f.id.span(), format!("duplicate red flag id `{id}`"));
            }
            cx.source(&f.source, &f.id)?;
            if f.label.trim().is_empty() {
                return cx.err(f.id.span(), format!("red flag `{id}` has no label"));
            }
            self.red_flag_ids.insert(id.clone(), self.red_flags.len());
            self.red_flags.push(RedFlagDef { id, label: f.label });
        }
        Ok(())
    }

    fn symptom_ref(&self, cx: &Ctx, s: &Spanned<String>) -> Result<usize, KbError> {
        match self.symptom_ids.get(s.get_ref()) {
            Some(&i) => Ok(i),
            None => cx.err(s.span(), format!("unknown symptom id `{}`", s.get_ref())),
        }
    }

    fn rules(&mut self, file: &str, text: &str, raw: RulesFile) -> Result<(), KbError> {
        let cx = Ctx { file, text };
        for r in raw.rule {
            let id = cx.id(&r.id, "rule")?;
            if !self.rule_ids.insert(id.clone()) {
                return cx.err(r.id.span(), format!("duplicate rule id `{id}`"));
            }
            cx.source(&r.source, &r.id)?;
            if r.explain.trim().is_empty() {
                return cx.err(r.id.span(), format!("rule `{id}` has no explanation"));
            }
            let level = r.level.as_ref().map(|l| cx.level(l)).transpose()?;
            let (raise, cap) = match (&level, &r.raise, &r.cap) {
                (Some(_), None, None) => (0, TriageLevel::Emergency),
                (None, Some(raise), Some(cap)) if (1..=3).contains(raise.get_ref()) => {
                    (*raise.get_ref(), cx.level(cap)?)
                }
                (None, Some(raise), Some(_)) => {
                    return cx.err(raise.span(), format!("rule `{id}`: `raise` must be 1 to 3"));
                }
                _ => {
                    return cx.err(
                        r.id.span(),
                        format!("rule `{id}` needs either `level`, or `raise` with `cap`"),
                    );
                }
            };
            let red_flag = match &r.red_flag {
                None => None,
                Some(f) => {
                    let Some(&i) = self.red_flag_ids.get(f.get_ref()) else {
                        return cx.err(f.span(), format!("unknown red flag id `{}`", f.get_ref()));
                    };
                    if level != Some(TriageLevel::Emergency) {
                        return cx.err(
                            f.span(),
                            format!(
                                "rule `{id}` raises a red flag, so its level must be emergency"
                            ),
                        );
                    }
                    Some(i)
                }
            };
            let all = r
                .all
                .iter()
                .map(|s| self.symptom_ref(&cx, s))
                .collect::<Result<_, _>>()?;
            let mut any = Vec::new();
            for group in &r.any {
                if group.is_empty() {
                    return cx.err(r.id.span(), format!("rule `{id}` has an empty `any` group"));
                }
                any.push(
                    group
                        .iter()
                        .map(|s| self.symptom_ref(&cx, s))
                        .collect::<Result<_, _>>()?,
                );
            }
            let none = r
                .none
                .iter()
                .map(|s| self.symptom_ref(&cx, s))
                .collect::<Result<_, _>>()?;
            let settles = r
                .settles
                .iter()
                .map(|s| self.symptom_ref(&cx, s))
                .collect::<Result<_, _>>()?;
            let vitals = cx.vitals(&r.vitals)?;
            if r.all.is_empty() && r.any.is_empty() && !r.any_symptom && vitals.is_empty() {
                return cx.err(
                    r.id.span(),
                    format!("rule `{id}` needs `all`, `any`, `any_symptom` or `vitals`"),
                );
            }
            let sex = match &r.sex {
                None => None,
                Some(s) if s.get_ref() == "female" => Some(Sex::Female),
                Some(s) if s.get_ref() == "male" => Some(Sex::Male),
                Some(s) => {
                    return cx.err(
                        s.span(),
                        format!("unknown sex `{}` (female or male)", s.get_ref()),
                    );
                }
            };
            self.rules.push(Rule {
                id,
                level,
                raise,
                cap,
                red_flag,
                explain: r.explain,
                all,
                any,
                none,
                any_symptom: r.any_symptom,
                vitals,
                age_below: r.age_below,
                age_at_least: r.age_at_least,
                child: r.child,
                infant: r.infant,
                sex,
                pregnant: r.pregnant,
                postpartum: r.postpartum,
                min_days: r.min_days,
                max_days: r.max_days,
                severe: r.severe,
                mild: r.mild,
                sudden: r.sudden,
                settles,
                ask: r.ask,
            });
        }
        Ok(())
    }

    fn advice(&mut self, file: &str, text: &str, raw: AdviceFile) -> Result<(), KbError> {
        let cx = Ctx { file, text };
        for a in raw.advice {
            let id = cx.id(&a.id, "advice")?;
            if !self.advice_ids.insert(id.clone()) {
                return cx.err(a.id.span(), format!("duplicate advice id `{id}`"));
            }
            cx.source(&a.source, &a.id)?;
            if a.text.trim().is_empty() || a.levels.is_empty() {
                return cx.err(
                    a.id.span(),
                    format!("advice `{id}` needs `text` and `levels`"),
                );
            }
            let when_any = a
                .when_any
                .iter()
                .map(|s| self.symptom_ref(&cx, s))
                .collect::<Result<_, _>>()?;
            let levels = a
                .levels
                .iter()
                .map(|l| cx.level(l))
                .collect::<Result<_, _>>()?;
            self.advice.push(Advice {
                text: a.text,
                when_any,
                levels,
            });
        }
        let p = raw.prompts;
        self.prompts = Some(Prompts {
            ask_age: p.ask_age,
            ask_duration: p.ask_duration,
            describe_more: p.describe_more,
            no_symptoms_reason: p.no_symptoms_reason,
        });
        Ok(())
    }

    fn finish(self) -> Result<KnowledgeBase, KbError> {
        let prompts = self.prompts.ok_or_else(|| KbError::Invalid {
            file: "advice.toml".to_owned(),
            line: 1,
            message: "missing [prompts]".to_owned(),
        })?;
        let mut exact_index: HashMap<String, Vec<usize>> = HashMap::new();
        let mut prefix_index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in self.phrases.iter().enumerate() {
            match first_key(&p.pats) {
                Some((w, false)) => exact_index.entry(w.to_owned()).or_default().push(i),
                Some((w, true)) => prefix_index.entry(w.to_owned()).or_default().push(i),
                None => {}
            }
        }
        Ok(KnowledgeBase {
            symptoms: self.symptoms,
            red_flags: self.red_flags,
            rules: self.rules,
            advice: self.advice,
            prompts,
            phrases: self.phrases,
            exact_index,
            prefix_index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("", 10), (1, 1));
    }
}
