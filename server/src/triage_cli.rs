//! `tabibu triage` and `tabibu triage-eval`: the built-in engine from the terminal.
//!
//! The text given on the command line is the operator's own test input; it is printed back
//! only as the engine's findings and never logged.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use tabibu_ai::{Engine, KnowledgeBase, PatientContext, Sex, eval};

/// Why a triage command could not run; `Display` is the line the operator reads.
#[derive(Debug, thiserror::Error)]
pub enum TriageCliError {
    #[error("the clinical knowledge base is invalid: {0}")]
    Knowledge(#[from] tabibu_ai::KbError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Vignettes(#[from] eval::EvalError),
    #[error("--sex takes `female` or `male`")]
    Sex,
}

/// Loads the knowledge base from `dir`, or the built-in one.
pub fn load_engine(dir: Option<&Path>) -> Result<Engine, TriageCliError> {
    let kb = match dir {
        Some(dir) => KnowledgeBase::load_dir(dir)?,
        None => KnowledgeBase::load_default()?,
    };
    Ok(Engine::new(kb))
}

pub fn triage(
    knowledge: Option<&Path>,
    text: &str,
    age: Option<f32>,
    sex: Option<&str>,
    pregnant: bool,
    json: bool,
) -> Result<(), TriageCliError> {
    let engine = load_engine(knowledge)?;
    let sex = match sex {
        None => None,
        Some("female") => Some(Sex::Female),
        Some("male") => Some(Sex::Male),
        Some(_) => return Err(TriageCliError::Sex),
    };
    let context = PatientContext {
        age_years: age,
        sex,
        pregnant: pregnant.then_some(true),
    };
    let result = engine.triage(text, &context);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
    } else {
        print!("{}", tabibu_ai::render_result_text(&result));
    }
    Ok(())
}

pub fn triage_eval(
    knowledge: Option<&Path>,
    file: &PathBuf,
    json: bool,
) -> Result<(), TriageCliError> {
    let engine = load_engine(knowledge)?;
    let input = std::fs::read_to_string(file).map_err(|source| TriageCliError::Read {
        path: file.display().to_string(),
        source,
    })?;
    let vignettes = eval::parse_jsonl(&input)?;
    let report = eval::evaluate(&engine, &vignettes);
    if json {
        print!("{}", report.render_text());
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
    Ok(())
}
