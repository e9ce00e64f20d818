//! Try the engine from the command line: `cargo run -p tabibu-ai --example triage -- "text"`.
//! With `--eval FILE.jsonl` it runs the evaluation instead.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use tabibu_ai::{Engine, KnowledgeBase, PatientContext, eval, render_result_text};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let engine = match KnowledgeBase::load_default() {
        Ok(kb) => Engine::new(kb),
        Err(e) => {
            eprintln!("knowledge base: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.first().map(String::as_str) == Some("--eval") {
        let Some(path) = args.get(1) else {
            eprintln!("usage: triage --eval FILE.jsonl");
            return ExitCode::FAILURE;
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::FAILURE;
            }
        };
        return match eval::parse_jsonl(&text) {
            Ok(v) => {
                let report = eval::evaluate(&engine, &v);
                println!("{}", report.render_text());
                println!("{}", report.to_json());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{path}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let text = args.join(" ");
    let result = engine.triage(&text, &PatientContext::default());
    println!("{}", render_result_text(&result));
    ExitCode::SUCCESS
}
