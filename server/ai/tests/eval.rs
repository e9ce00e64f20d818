//! The project's own vignette set, and the evaluation harness's parsing and report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tabibu_ai::eval::{EvalError, evaluate, parse_jsonl};
use tabibu_ai::{Engine, KnowledgeBase};

const VIGNETTES: &str = include_str!("../vignettes/tabibu-vignettes.jsonl");

fn engine() -> Engine {
    Engine::new(KnowledgeBase::load_default().unwrap())
}

#[test]
fn the_vignette_set_meets_the_accuracy_and_sensitivity_targets() {
    let vignettes = parse_jsonl(VIGNETTES).unwrap();
    let report = evaluate(&engine(), &vignettes);
    assert!(report.accuracy >= 0.90, "{}", report.render_text());
    assert_eq!(
        report.emergency_sensitivity,
        Some(1.0),
        "{}",
        report.render_text()
    );
}

#[test]
fn the_vignette_set_has_the_promised_shape() {
    let lines: Vec<serde_json::Value> = VIGNETTES
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 140);
    for level in ["emergency", "urgent", "routine", "self_care"] {
        let n = lines.iter().filter(|v| v["expected"] == level).count();
        assert!(n >= 30, "{level}: {n}");
    }
    assert!(
        lines
            .iter()
            .all(|v| v["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );
    let mut ids: Vec<&str> = lines.iter().map(|v| v["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), lines.len(), "ids are unique");
}

#[test]
fn coarse_labels_are_compared_at_their_own_granularity() {
    let jsonl = r#"{"id":"a","text":"crushing chest pain and sweating","expected":"emergent"}
{"id":"b","text":"chest pain","expected":"non_emergent"}
{"id":"c","text":"runny nose","expected":"self_care"}
{"id":"d","text":"runny nose","expected":"emergent"}"#;
    let report = evaluate(&engine(), &parse_jsonl(jsonl).unwrap());
    assert_eq!((report.total, report.correct), (4, 3));
    assert_eq!(report.emergency_sensitivity, Some(0.5));
    assert_eq!(report.confusion["non_emergent"]["non_emergent"], 1);
    assert_eq!(report.misses[0].id, "d");
}

#[test]
fn the_json_report_has_the_documented_keys() {
    let report = evaluate(&engine(), &parse_jsonl(VIGNETTES).unwrap());
    let json = report.to_json();
    for key in [
        "total",
        "correct",
        "accuracy",
        "emergency_sensitivity",
        "confusion",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert!(report.render_text().contains("confusion"));
}

#[test]
fn a_bad_line_is_reported_with_its_number() {
    let jsonl = "{\"id\":\"a\",\"text\":\"x\",\"expected\":\"urgent\"}\n\nnot json\n";
    match parse_jsonl(jsonl) {
        Err(EvalError::BadLine { line, .. }) => assert_eq!(line, 3),
        other => panic!("expected a bad line error, got {other:?}"),
    }
    let jsonl = "{\"id\":\"a\",\"text\":\"x\",\"expected\":\"soonish\"}";
    assert!(matches!(
        parse_jsonl(jsonl),
        Err(EvalError::BadExpected { line: 1, .. })
    ));
    assert!(matches!(parse_jsonl("\n\n"), Err(EvalError::Empty)));
}
