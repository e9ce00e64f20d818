//! The built-in triage engine: reads free text, finds symptoms and what is said about them,
//! applies the knowledge base's rules, and returns a level with its reasons.
//!
//! The engine is deterministic and offline, and must never panic: whatever the text, a
//! [`TriageResult`] comes back. It never logs or stores the text. The level it returns has
//! already been through [`crate::guard::enforce`], so red flags and the emergency banner
//! always agree.
//!
//! Empty text, or text with nothing the engine recognises, gives a `routine` result with
//! `needs_more_detail` set and a question asking for more: a patient who wrote something
//! deserves to be seen rather than told nothing.
use std::collections::HashSet;

use crate::extract;
use crate::guard;
use crate::kb::{KnowledgeBase, Rule, Target, Vital, VitalCond, WordClass};
use crate::text::{Pat, Token, tokenize};
use crate::types::{
    Finding, Findings, PatientContext, Reason, RedFlag, Sex, TriageLevel, TriageResult, Vitals,
};

/// How many tokens a negation such as "no" or "denies" reaches when nothing ends it sooner.
const NEGATION_REACH: usize = 15;
/// How far (in tokens) a severity word reaches to the symptom it describes.
const SEVERITY_REACH: usize = 5;
const MAX_QUESTIONS: usize = 5;
const MAX_ADVICE: usize = 6;

/// The built-in triage engine. Build once at start-up and share; triage takes `&self`.
#[derive(Debug, Clone)]
pub struct Engine {
    kb: KnowledgeBase,
}

#[derive(Debug, Clone, Copy)]
struct Match {
    start: usize,
    end: usize,
    target: Target,
    /// Matched word for word, without skipping anything at a `~`.
    tight: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Negated,
    History,
    Hypothetical,
}

/// Everything the rules look at.
struct Facts {
    present: Vec<bool>,
    negated: Vec<bool>,
    severe: Vec<bool>,
    mild: Vec<bool>,
    days: Vec<Option<f32>>,
    first_seen: Vec<usize>,
    vitals: Vitals,
    age: Option<f32>,
    sex: Option<Sex>,
    pregnant: Option<bool>,
    postpartum: bool,
    child: bool,
    infant: bool,
    sudden: bool,
    any_severe: bool,
    any_mild: bool,
    duration: Option<f32>,
}

impl Engine {
    pub fn new(kb: KnowledgeBase) -> Self {
        Engine { kb }
    }

    /// The knowledge base this engine was built with.
    pub fn knowledge_base(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// Triage one text. `ctx` carries what the profile knows; it wins over the text.
    pub fn triage(&self, text: &str, ctx: &PatientContext) -> TriageResult {
        let (tokens, truncated) = tokenize(text);
        let matches = self.find_matches(&tokens);
        let facts = self.facts(&tokens, &matches, ctx);
        let mut result = self.decide(&facts);
        result.truncated = truncated;
        guard::enforce(&mut result);
        result
    }

    fn find_matches(&self, tokens: &[Token]) -> Vec<Match> {
        let kb = &self.kb;
        let mut found = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let exact = kb.exact_index.get(&t.text).into_iter().flatten();
            let prefixes = t
                .text
                .char_indices()
                .skip(1)
                .map(|(b, _)| &t.text[..b])
                .chain(std::iter::once(t.text.as_str()))
                .filter_map(|p| kb.prefix_index.get(p))
                .flatten();
            for &p in exact.chain(prefixes) {
                let phrase = &kb.phrases[p];
                if let Some(end) = crate::text::match_at(&phrase.pats, tokens, i) {
                    let words = phrase
                        .pats
                        .iter()
                        .filter(|p| !matches!(p, Pat::Gap(_)))
                        .count();
                    let tight = end - i == words;
                    found.push(Match {
                        start: i,
                        end,
                        target: phrase.target,
                        tight,
                    });
                }
            }
        }
        drop_contained(found)
    }

    fn facts(&self, tokens: &[Token], matches: &[Match], ctx: &PatientContext) -> Facts {
        let n_sym = self.kb.symptoms.len();
        let scope = negation_scopes(tokens, matches);
        let is_word = |m: &Match, c: WordClass| m.target == Target::Word(c);
        let negated_after = |m: &Match| {
            matches.iter().any(|a| {
                is_word(a, WordClass::NegAfter)
                    && a.start >= m.end
                    && a.start <= m.end + 2
                    && tokens[a.start].clause == tokens[m.end - 1].clause
            })
        };
        let scope_of = |m: &Match| {
            if negated_after(m) {
                Some(Scope::Negated)
            } else {
                scope[m.start]
            }
        };

        let (vitals, used) = extract::vitals(tokens);
        let durations = extract::durations(tokens, &used);
        let text_age = extract::age(tokens);

        let mut f = Facts {
            present: vec![false; n_sym],
            negated: vec![false; n_sym],
            severe: vec![false; n_sym],
            mild: vec![false; n_sym],
            days: vec![None; n_sym],
            first_seen: vec![usize::MAX; n_sym],
            vitals,
            age: None,
            sex: None,
            pregnant: None,
            postpartum: false,
            child: false,
            infant: false,
            sudden: false,
            any_severe: false,
            any_mild: false,
            duration: durations.iter().map(|d| d.1).reduce(f32::max),
        };

        let near = |word: &Match, m: &Match| {
            tokens[word.start].sentence == tokens[m.start].sentence
                && word.end <= m.end + SEVERITY_REACH
                && word.start + SEVERITY_REACH >= m.start
        };
        let mut text_sex = text_age.and_then(|a| a.1);
        let mut pregnant_words = (false, false);
        let (mut child_word, mut infant_word, mut newborn_word) = (false, false, false);

        for m in matches {
            let s = scope_of(m);
            match m.target {
                Target::Symptom(i) | Target::AbsentSymptom(i) => {
                    f.first_seen[i] = f.first_seen[i].min(m.start);
                    let absent = matches!(m.target, Target::AbsentSymptom(_));
                    match (absent, s) {
                        (true, _) | (false, Some(Scope::Negated)) => f.negated[i] = true,
                        (false, Some(_)) => {}
                        (false, None) => {
                            f.present[i] = true;
                            let words = matches.iter().filter(|w| near(w, m));
                            for w in words {
                                if is_word(w, WordClass::Severe) && scope[w.start].is_none() {
                                    f.severe[i] = true;
                                }
                                if is_word(w, WordClass::Mild) {
                                    f.mild[i] = true;
                                }
                            }
                            let d = nearest_duration(tokens, m, &durations);
                            f.days[i] = match (f.days[i], d) {
                                (Some(a), Some(b)) => Some(a.max(b)),
                                (a, b) => a.or(b),
                            };
                        }
                    }
                }
                Target::Word(WordClass::Pregnant) => match s {
                    Some(Scope::Negated) => pregnant_words.1 = true,
                    Some(_) => {}
                    None => pregnant_words.0 = true,
                },
                Target::Word(c) if s.is_none() => match c {
                    WordClass::Postpartum => f.postpartum = true,
                    WordClass::Sudden => f.sudden = true,
                    WordClass::Child => child_word = true,
                    WordClass::Infant => infant_word = true,
                    WordClass::Newborn => newborn_word = true,
                    WordClass::Female if text_sex.is_none() => text_sex = Some(Sex::Female),
                    WordClass::Male if text_sex.is_none() => text_sex = Some(Sex::Male),
                    WordClass::Severe => f.any_severe = true,
                    WordClass::Mild => f.any_mild = true,
                    _ => {}
                },
                _ => {}
            }
        }

        // A symptom mentioned both ways ("no fever yesterday, but fever now") is present.
        for i in 0..n_sym {
            if f.present[i] {
                f.negated[i] = false;
            }
            let from_vitals = &self.kb.symptoms[i].from_vitals;
            if !f.present[i] && from_vitals.iter().any(|c| vital_holds(&f.vitals, c)) {
                f.present[i] = true;
                f.negated[i] = false;
                f.first_seen[i] = f.first_seen[i].min(tokens.len());
            }
        }

        let text_pregnant = match pregnant_words {
            (true, _) => Some(true),
            (false, true) => Some(false),
            _ => None,
        };
        f.pregnant = ctx.pregnant.or(text_pregnant);
        f.age = ctx
            .age_years
            .filter(|a| a.is_finite() && *a >= 0.0)
            .or(text_age.map(|a| a.0));
        // Words about babies in a pregnant woman's text are about the baby she carries.
        let about_fetus = f.pregnant == Some(true) && ctx.age_years.is_none();
        if f.age.is_none() && newborn_word && !about_fetus {
            f.age = Some(0.02);
        }
        f.sex = ctx.sex.or(if f.pregnant == Some(true) {
            Some(Sex::Female)
        } else {
            text_sex
        });
        match f.age {
            Some(a) => {
                f.child = a < 12.0;
                f.infant = a < 1.0;
            }
            None if !about_fetus => {
                f.infant = infant_word || newborn_word;
                f.child = f.infant || child_word;
            }
            None => {}
        }
        if f.child && f.age.is_some_and(|a| a < 10.0) {
            // A young child cannot be pregnant; the word was about someone else.
            f.pregnant = ctx.pregnant;
        }
        f
    }

    fn decide(&self, f: &Facts) -> TriageResult {
        let kb = &self.kb;
        let mut reasons: Vec<Reason> = Vec::new();
        let mut red_flags: Vec<RedFlag> = Vec::new();
        let mut questions: Vec<String> = Vec::new();
        let mut settled = vec![false; kb.symptoms.len()];
        let mut fired_any = false;

        // Rules that set a level.
        for rule in kb.rules.iter().filter(|r| r.level.is_some()) {
            if !self.holds(rule, f) {
                continue;
            }
            fired_any = true;
            let level = rule.level.unwrap_or(TriageLevel::Routine);
            for &s in &rule.settles {
                settled[s] = true;
            }
            if let Some(flag) = rule.red_flag {
                let def = &kb.red_flags[flag];
                if !red_flags.iter().any(|r| r.id == def.id) {
                    red_flags.push(RedFlag {
                        id: def.id.clone(),
                        label: def.label.clone(),
                    });
                }
            }
            questions.extend(rule.ask.iter().cloned());
            reasons.push(self.reason(rule, level, f));
        }

        // Each symptom's own level, unless a more specific rule has settled it.
        let mut order: Vec<usize> = (0..kb.symptoms.len()).filter(|&i| f.present[i]).collect();
        order.sort_by_key(|&i| f.first_seen[i]);
        for &i in &order {
            let s = &kb.symptoms[i];
            questions.extend(s.ask.iter().cloned());
            let Some(level) = s.level else { continue };
            if settled[i] {
                continue;
            }
            reasons.push(Reason {
                rule_id: format!("baseline.{}", s.id),
                explanation: s
                    .why
                    .clone()
                    .unwrap_or_else(|| format!("{} reported.", s.label)),
                level,
                findings: vec![self.describe(i, f)],
            });
        }

        let mut level = reasons
            .iter()
            .map(|r| r.level)
            .reduce(TriageLevel::most_urgent);
        let needs_more_detail = order.is_empty() && !fired_any;
        if level.is_none() {
            let explanation = if needs_more_detail {
                kb.prompts.no_symptoms_reason.clone()
            } else {
                "The symptoms described need a clinician's assessment.".to_owned()
            };
            reasons.push(Reason {
                rule_id: "default.routine".to_owned(),
                explanation,
                level: TriageLevel::Routine,
                findings: Vec::new(),
            });
            level = Some(TriageLevel::Routine);
        }
        let mut level = level.unwrap_or(TriageLevel::Routine);

        // Rules that raise: age, pregnancy, duration, severity. Each fires at most once and
        // never beyond its cap; they cannot lower anything.
        for rule in kb.rules.iter().filter(|r| r.level.is_none()) {
            if !self.holds(rule, f) {
                continue;
            }
            let target = TriageLevel::from_rank(level.rank().saturating_add(rule.raise));
            let target = if target.rank() > rule.cap.rank() {
                rule.cap
            } else {
                target
            };
            if target.rank() > level.rank() {
                reasons.push(self.reason(rule, target, f));
                questions.extend(rule.ask.iter().cloned());
                level = target;
            }
        }

        reasons.sort_by_key(|r| std::cmp::Reverse(r.level.rank()));

        if needs_more_detail {
            questions.insert(0, kb.prompts.describe_more.clone());
        }
        if !order.is_empty() && f.age.is_none() && !f.child {
            questions.push(kb.prompts.ask_age.clone());
        }
        if !order.is_empty() && f.duration.is_none() {
            questions.push(kb.prompts.ask_duration.clone());
        }
        let mut seen = HashSet::new();
        questions.retain(|q| seen.insert(q.clone()));
        questions.truncate(if level == TriageLevel::Emergency {
            2
        } else {
            MAX_QUESTIONS
        });

        let mut advice: Vec<String> = Vec::new();
        for a in &kb.advice {
            let for_level = a.levels.contains(&level);
            let for_symptoms = a.when_any.is_empty() || a.when_any.iter().any(|&s| f.present[s]);
            if for_level && for_symptoms && !advice.contains(&a.text) {
                advice.push(a.text.clone());
            }
        }
        advice.truncate(MAX_ADVICE);

        let mut symptoms: Vec<(usize, Finding)> = (0..kb.symptoms.len())
            .filter(|&i| f.present[i] || f.negated[i])
            .map(|i| {
                let s = &kb.symptoms[i];
                let finding = Finding {
                    symptom: s.id.clone(),
                    label: s.label.clone(),
                    negated: f.negated[i],
                    severe: f.severe[i],
                    mild: f.mild[i],
                    duration_days: f.days[i],
                };
                (f.first_seen[i], finding)
            })
            .collect();
        symptoms.sort_by_key(|(pos, _)| *pos);

        TriageResult {
            level,
            show_emergency_banner: false,
            reasons,
            red_flags,
            follow_up_questions: questions,
            advice,
            findings: Findings {
                symptoms: symptoms.into_iter().map(|(_, s)| s).collect(),
                vitals: f.vitals,
                age_years: f.age,
                sex: f.sex,
                pregnant: f.pregnant,
                child: f.child,
                infant: f.infant,
                duration_days: f.duration,
                sudden_onset: f.sudden,
            },
            truncated: false,
            needs_more_detail,
        }
    }

    fn holds(&self, r: &Rule, f: &Facts) -> bool {
        let present = |i: &usize| f.present[*i];
        if !r.all.iter().all(present) || !r.any.iter().all(|g| g.iter().any(present)) {
            return false;
        }
        if r.none.iter().any(present) {
            return false;
        }
        if r.any_symptom && !f.present.iter().any(|p| *p) {
            return false;
        }
        if !r.vitals.is_empty() && !r.vitals.iter().any(|c| vital_holds(&f.vitals, c)) {
            return false;
        }
        let age_ok = |limit: Option<f32>, below: bool| match (limit, f.age) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(l), Some(a)) => (a < l) == below,
        };
        if !age_ok(r.age_below, true) || !age_ok(r.age_at_least, false) {
            return false;
        }
        if r.child.is_some_and(|c| c != f.child) || r.infant.is_some_and(|c| c != f.infant) {
            return false;
        }
        if r.sex.is_some() && r.sex != f.sex {
            return false;
        }
        if r.pregnant.is_some_and(|p| p != (f.pregnant == Some(true))) {
            return false;
        }
        if r.postpartum.is_some_and(|p| p != f.postpartum) {
            return false;
        }
        if r.sudden.is_some_and(|s| s != f.sudden) {
            return false;
        }
        let referenced = self.referenced(r, f);
        if let Some(want) = r.severe {
            let severe = if referenced.is_empty() {
                f.any_severe
            } else {
                referenced.iter().any(|&i| f.severe[i])
            };
            if severe != want {
                return false;
            }
        }
        if let Some(want) = r.mild {
            let mild = if referenced.is_empty() {
                f.any_mild
            } else {
                referenced.iter().any(|&i| f.mild[i])
            };
            if mild != want {
                return false;
            }
        }
        if r.min_days.is_some() || r.max_days.is_some() {
            // `min_days` needs a known duration; `max_days` only excludes a known longer one,
            // because a patient who does not say how long must not lose an emergency rule.
            let own = referenced
                .iter()
                .filter_map(|&i| f.days[i])
                .reduce(f32::max);
            let days = own.or(f.duration);
            if r.min_days.is_some_and(|m| days.is_none_or(|d| d < m)) {
                return false;
            }
            if r.max_days.is_some_and(|m| days.is_some_and(|d| d > m)) {
                return false;
            }
        }
        true
    }

    /// The present symptoms a rule named, in the order the rule names them.
    fn referenced(&self, r: &Rule, f: &Facts) -> Vec<usize> {
        let mut out: Vec<usize> = r.all.clone();
        for g in &r.any {
            out.extend(g.iter().copied().filter(|&i| f.present[i]));
        }
        if r.any_symptom && out.is_empty() {
            out.extend((0..f.present.len()).filter(|&i| f.present[i]));
        }
        out
    }

    fn reason(&self, rule: &Rule, level: TriageLevel, f: &Facts) -> Reason {
        let mut findings: Vec<String> = self
            .referenced(rule, f)
            .into_iter()
            .map(|i| self.describe(i, f))
            .collect();
        if !rule.vitals.is_empty() {
            findings.extend(describe_vitals(&f.vitals, &rule.vitals));
        }
        if rule.age_below.is_some() || rule.age_at_least.is_some() {
            if let Some(a) = f.age {
                findings.push(describe_age(a));
            }
        } else if rule.infant == Some(true) {
            findings.push("baby".to_owned());
        } else if rule.child == Some(true) {
            findings.push("child".to_owned());
        }
        if rule.pregnant == Some(true) {
            findings.push("pregnant".to_owned());
        }
        if rule.postpartum == Some(true) {
            findings.push("recently gave birth".to_owned());
        }
        if rule.sudden == Some(true) {
            findings.push("sudden onset".to_owned());
        }
        if rule.any_symptom
            && (rule.min_days.is_some() || rule.max_days.is_some())
            && let Some(d) = f.duration
        {
            findings.push(format!("lasting {}", describe_days(d)));
        }
        findings.dedup();
        Reason {
            rule_id: rule.id.clone(),
            explanation: rule.explain.clone(),
            level,
            findings,
        }
    }

    fn describe(&self, i: usize, f: &Facts) -> String {
        let mut s = self.kb.symptoms[i].label.clone();
        if f.severe[i] {
            s.push_str(" (severe)");
        } else if f.mild[i] {
            s.push_str(" (mild)");
        }
        if let Some(d) = f.days[i] {
            s.push_str(&format!(", {}", describe_days(d)));
        }
        s
    }
}

/// Drops matches lying wholly inside a longer match, so "not breathing" is not also read as a
/// negation, "blood pressure" not as bleeding, and "night sweats" not as sweating. A match
/// that skipped words (`~`) hides only grammar words inside it, not other symptoms: "pain
/// radiating to the back" must keep the radiation even though "pain ~ back" spans it.
/// Matches with the same span all stay.
fn drop_contained(mut found: Vec<Match>) -> Vec<Match> {
    found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut kept = Vec::with_capacity(found.len());
    let (mut reach_tight, mut reach_any) = (0usize, 0usize);
    let mut i = 0;
    while i < found.len() {
        let (s, e) = (found[i].start, found[i].end);
        let mut j = i;
        while j < found.len() && found[j].start == s && found[j].end == e {
            j += 1;
        }
        for m in &found[i..j] {
            let is_symptom = matches!(m.target, Target::Symptom(_) | Target::AbsentSymptom(_));
            let hidden = reach_tight >= e || (!is_symptom && reach_any >= e);
            if !hidden {
                kept.push(*m);
            }
        }
        for m in &found[i..j] {
            reach_any = reach_any.max(e);
            if m.tight {
                reach_tight = reach_tight.max(e);
            }
        }
        i = j;
    }
    kept
}

/// Which tokens lie in the reach of a negation ("no", "denies", "sina"), a history marker
/// ("past medical history") or a hypothetical ("if").
///
/// A negation runs to the end of its sentence, stops at words that start a new statement
/// ("but", "has", "lakini"), and crosses a comma only into another symptom, so "denies fever,
/// chills or cough" negates all three while "no vomiting, severe headache" negates one.
fn negation_scopes(tokens: &[Token], matches: &[Match]) -> Vec<Option<Scope>> {
    let n = tokens.len();
    let mut scope = vec![None; n];
    let mut subject_start = vec![false; n + 1];
    let mut list_word = vec![false; n + 1];
    let mut ends = vec![false; n + 1];
    for m in matches {
        match m.target {
            Target::Symptom(_) | Target::AbsentSymptom(_) | Target::Word(WordClass::Pregnant) => {
                subject_start[m.start] = true
            }
            Target::Word(WordClass::ListWord) => list_word[m.start] = true,
            Target::Word(WordClass::ScopeEnd) => ends[m.start] = true,
            _ => {}
        }
    }
    for m in matches {
        let kind = match m.target {
            Target::Word(WordClass::NegBefore) => Scope::Negated,
            Target::Word(WordClass::History) => Scope::History,
            Target::Word(WordClass::Hypothetical) => Scope::Hypothetical,
            _ => continue,
        };
        let sentence = tokens[m.start].sentence;
        let mut j = m.end;
        while j < n && j < m.end + NEGATION_REACH {
            if tokens[j].sentence != sentence || ends[j] {
                break;
            }
            if j > m.end && tokens[j].clause != tokens[j - 1].clause {
                let mut k = j;
                while k < n && list_word[k] {
                    k += 1;
                }
                if !subject_start[k] {
                    break;
                }
            }
            if scope[j].is_none() {
                scope[j] = Some(kind);
            }
            j += 1;
        }
    }
    scope
}

/// The duration written nearest to a symptom: in its clause first, then in its sentence.
fn nearest_duration(tokens: &[Token], m: &Match, durations: &[(usize, f32)]) -> Option<f32> {
    let t = &tokens[m.start];
    let dist = |i: usize| i.abs_diff(m.start);
    let pick = |same: &dyn Fn(&Token) -> bool| {
        durations
            .iter()
            .filter(|(i, _)| same(&tokens[*i]))
            .min_by_key(|(i, _)| dist(*i))
            .map(|d| d.1)
    };
    pick(&|o: &Token| o.clause == t.clause).or_else(|| pick(&|o: &Token| o.sentence == t.sentence))
}

pub(crate) fn vital_value(v: &Vitals, vital: Vital) -> Option<f32> {
    match vital {
        Vital::SystolicBp => v.systolic_bp,
        Vital::DiastolicBp => v.diastolic_bp,
        Vital::HeartRate => v.heart_rate,
        Vital::RespiratoryRate => v.respiratory_rate,
        Vital::Temperature => v.temperature_c,
        Vital::Spo2 => v.spo2,
        Vital::Glucose => v.glucose_mmol,
        Vital::Haemoglobin => v.haemoglobin_g_dl,
        Vital::Gcs => v.gcs,
    }
}

fn vital_holds(v: &Vitals, c: &VitalCond) -> bool {
    let Some(x) = vital_value(v, c.vital) else {
        return false;
    };
    c.below.is_none_or(|b| x < b) && c.at_least.is_none_or(|a| x >= a)
}

fn describe_vitals(v: &Vitals, conds: &[VitalCond]) -> Vec<String> {
    let mut out = Vec::new();
    for c in conds.iter().filter(|c| vital_holds(v, c)) {
        let x = vital_value(v, c.vital).unwrap_or_default();
        let s = match c.vital {
            Vital::SystolicBp | Vital::DiastolicBp => match (v.systolic_bp, v.diastolic_bp) {
                (Some(s), Some(d)) => format!("BP {s:.0}/{d:.0}"),
                _ => format!("systolic BP {x:.0}"),
            },
            Vital::HeartRate => format!("heart rate {x:.0}"),
            Vital::RespiratoryRate => format!("respiratory rate {x:.0}"),
            Vital::Temperature => format!("temperature {x:.1} °C"),
            Vital::Spo2 => format!("SpO2 {x:.0}%"),
            Vital::Glucose => format!("glucose {x:.1} mmol/L"),
            Vital::Haemoglobin => format!("haemoglobin {x:.1} g/dL"),
            Vital::Gcs => format!("GCS {x:.0}"),
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

pub(crate) fn describe_age(a: f32) -> String {
    if a < 1.0 {
        let months = (a * 12.0).round();
        if months < 1.0 {
            "newborn".to_owned()
        } else {
            format!("{months:.0} months old")
        }
    } else {
        format!("{a:.0} years old")
    }
}

pub(crate) fn describe_days(d: f32) -> String {
    if d < 1.0 {
        let hours = (d * 24.0).round().max(1.0);
        format!("{hours:.0} hours")
    } else if d < 14.0 {
        format!("{d:.0} days")
    } else if d < 60.0 {
        format!("{:.0} weeks", d / 7.0)
    } else if d < 730.0 {
        format!("{:.0} months", d / 30.0)
    } else {
        format!("{:.0} years", d / 365.0)
    }
}
