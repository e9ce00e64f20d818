//! Loading and validating the knowledge base: a broken file must fail with its name and line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tabibu_ai::{KB_FILES, KbError, KnowledgeBase};

fn default_files() -> Vec<(&'static str, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge");
    KB_FILES
        .iter()
        .map(|f| (*f, std::fs::read_to_string(format!("{dir}/{f}")).unwrap()))
        .collect()
}

/// Loads the default files with one of them replaced.
fn load_with(file: &str, text: &str) -> Result<KnowledgeBase, KbError> {
    let mut files = default_files();
    for (name, t) in &mut files {
        if *name == file {
            *t = text.to_owned();
        }
    }
    let sources: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    KnowledgeBase::from_sources(&sources)
}

fn with_rule(extra: &str) -> String {
    let base = default_files()
        .into_iter()
        .find(|(n, _)| *n == "rules.toml")
        .unwrap()
        .1;
    format!("{base}\n{extra}")
}

fn line_of(haystack: &str, needle: &str) -> usize {
    haystack.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_default_knowledge_base_loads_and_the_directory_loader_agrees() {
    let kb = KnowledgeBase::load_default().unwrap();
    let (symptoms, rules, flags) = kb.counts();
    assert!(
        symptoms > 100 && rules > 80 && flags >= 15,
        "{symptoms} {rules} {flags}"
    );
    let dir = KnowledgeBase::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge")).unwrap();
    assert_eq!(dir.counts(), kb.counts());
}

#[test]
fn a_rule_naming_an_unknown_symptom_fails_with_its_line() {
    let text = with_rule(
        "[[rule]]\nid = \"broken\"\nlevel = \"urgent\"\nexplain = \"x\"\nall = [\"no_such_symptom\"]\nsource = \"test\"\n",
    );
    let err = load_with("rules.toml", &text).unwrap_err();
    assert_eq!(err.file(), "rules.toml");
    assert_eq!(err.line(), Some(line_of(&text, "no_such_symptom")));
    assert!(
        err.to_string()
            .contains("unknown symptom id `no_such_symptom`"),
        "{err}"
    );
}

#[test]
fn a_duplicate_rule_id_fails_with_its_line() {
    let text = with_rule(
        "[[rule]]\nid = \"seizure\"\nlevel = \"emergency\"\nexplain = \"x\"\nall = [\"seizure\"]\nsource = \"test\"\n",
    );
    let err = load_with("rules.toml", &text).unwrap_err();
    assert!(
        err.to_string().contains("duplicate rule id `seizure`"),
        "{err}"
    );
    assert_eq!(err.line(), Some(text.lines().count() - 4));
}

#[test]
fn a_bad_level_fails_with_its_line() {
    let text = with_rule(
        "[[rule]]\nid = \"bad_level\"\nlevel = \"very_urgent\"\nexplain = \"x\"\nall = [\"cough\"]\nsource = \"test\"\n",
    );
    let err = load_with("rules.toml", &text).unwrap_err();
    assert_eq!(err.line(), Some(line_of(&text, "very_urgent")));
    assert!(err.to_string().contains("unknown level"), "{err}");
}

#[test]
fn a_red_flag_on_a_non_emergency_rule_is_refused() {
    let text = with_rule(
        "[[rule]]\nid = \"soft_flag\"\nlevel = \"routine\"\nred_flag = \"stroke\"\nexplain = \"x\"\nall = [\"cough\"]\nsource = \"test\"\n",
    );
    let err = load_with("rules.toml", &text).unwrap_err();
    assert!(err.to_string().contains("must be emergency"), "{err}");
}

#[test]
fn an_empty_synonym_list_fails_with_its_line() {
    let text = "[[symptom]]\nid = \"empty\"\nlabel = \"Empty\"\nen = []\nsource = \"test\"\n";
    let err = load_with("symptoms.toml", text).unwrap_err();
    assert_eq!(err.file(), "symptoms.toml");
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("empty synonym list"), "{err}");
}

#[test]
fn a_duplicate_symptom_id_fails_with_its_line() {
    let base = default_files()
        .into_iter()
        .find(|(n, _)| *n == "symptoms.toml")
        .unwrap()
        .1;
    let text = format!(
        "{base}\n[[symptom]]\nid = \"cough\"\nlabel = \"Again\"\nen = [\"again\"]\nsource = \"test\"\n"
    );
    let err = load_with("symptoms.toml", &text).unwrap_err();
    assert!(
        err.to_string().contains("duplicate symptom id `cough`"),
        "{err}"
    );
    assert_eq!(err.line(), Some(text.lines().count() - 3));
}

#[test]
fn a_toml_syntax_error_names_file_line_and_column() {
    let text = "[[red_flag]]\nid = \"x\"\nlabel = \"unterminated\nsource = \"y\"\n";
    let err = load_with("red_flags.toml", text).unwrap_err();
    assert!(matches!(err, KbError::Syntax { .. }), "{err:?}");
    assert_eq!(err.file(), "red_flags.toml");
    assert_eq!(err.line(), Some(3));
}

#[test]
fn an_unknown_field_is_refused_rather_than_ignored() {
    let text = with_rule(
        "[[rule]]\nid = \"typo\"\nlevle = \"urgent\"\nexplain = \"x\"\nall = [\"cough\"]\nsource = \"test\"\n",
    );
    let err = load_with("rules.toml", &text).unwrap_err();
    assert_eq!(err.line(), Some(line_of(&text, "levle")));
}

#[test]
fn a_missing_file_in_a_directory_is_named() {
    let dir = std::env::temp_dir().join(format!("tabibu-kb-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = KnowledgeBase::load_dir(&dir).unwrap_err();
    assert_eq!(err.file(), "language.toml");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_entry_cites_a_public_source() {
    for (name, text) in default_files() {
        let entries = text.matches("id = ").count();
        let sources = text.lines().filter(|l| l.starts_with("source = ")).count();
        assert!(
            sources >= entries,
            "{name}: {entries} entries but {sources} sources"
        );
    }
}
