//! Timing of the built-in engine: triage of a ~300-word text (target: well under 1 ms) and
//! loading the knowledge base (target: under 50 ms). A hand-rolled loop printing the median
//! and 99th percentile per call; run with `cargo bench -p tabibu-ai`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use tabibu_ai::{Engine, KnowledgeBase, PatientContext};

const TEXT: &str = "A 67-year-old woman presents to the clinic with three days of worsening \
cough productive of green sputum, fever up to 38.9, chills and generalised body aches. She \
reports shortness of breath when walking to the shops, which is new for her, but denies chest \
pain, palpitations, haemoptysis or leg swelling. No vomiting or diarrhoea. She has had a mild \
headache since yesterday, relieved partly by paracetamol, with no neck stiffness, no rash and \
no sensitivity to light. Appetite is reduced and she has been drinking less than usual, though \
she is still passing urine. Past medical history includes type 2 diabetes on metformin and \
high blood pressure on amlodipine; she is a non-smoker and lives with her daughter, who says \
she is not confused and has been walking about the house. No recent travel. On examination \
she looks tired but alert. Temperature 38.6, heart rate 104, respiratory rate 22, BP 132/78, \
SpO2 94% on room air, blood glucose 9.8 mmol/L. There are crackles at the right base. Her \
daughter is worried because a neighbour had pneumonia last winter and ended up in hospital. \
She asks whether she should go to the hospital today or wait for the doctor on Monday, and \
whether antibiotics are needed. She has no known drug allergies. She had her flu vaccine this \
season. Mama anasema hana homa kali sana leo lakini kikohozi kinazidi usiku na anachoka haraka \
akitembea. She is not pregnant. Her grandson has a runny nose and mild cough at home. \
She wonders whether the cough medicine from the pharmacy is safe with her diabetes tablets, \
and whether she should stop metformin while she is eating less. Her last kidney test, two \
months ago, was normal. She sleeps propped up on two pillows, as she always has, and has not \
noticed any swelling of her ankles or any pain in her calves this week.";

fn stats(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let median = samples[samples.len() / 2];
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    println!(
        "{name:<32} n={:<6} median={:>10.1?} p99={:>10.1?}",
        samples.len(),
        median,
        p99
    );
}

fn main() {
    let words = TEXT.split_whitespace().count();
    println!("triage text: {words} words");

    let mut loads = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let kb = KnowledgeBase::load_default().expect("default knowledge base loads");
        loads.push(t.elapsed());
        black_box(kb);
    }
    stats("load knowledge base", loads);

    let engine = Engine::new(KnowledgeBase::load_default().expect("default knowledge base loads"));
    let ctx = PatientContext::default();
    for _ in 0..200 {
        black_box(engine.triage(black_box(TEXT), &ctx));
    }
    let mut runs = Vec::with_capacity(5_000);
    for _ in 0..5_000 {
        let t = Instant::now();
        black_box(engine.triage(black_box(TEXT), &ctx));
        runs.push(t.elapsed());
    }
    stats("triage ~300 words", runs);

    let short = "fever and stiff neck";
    let mut runs = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let t = Instant::now();
        black_box(engine.triage(black_box(short), &ctx));
        runs.push(t.elapsed());
    }
    stats("triage short text", runs);
}
