//! Turning free text into tokens, and finding knowledge-base phrases among them.
//!
//! A hand-written tokenizer rather than regular expressions: it is one pass over the
//! characters, allocation-light, and cannot blow up on hostile input. It must never panic on
//! any string, and it never keeps or logs the text beyond the tokens it returns.

/// The most characters the engine reads. Longer text is cut here and the result says so.
pub const MAX_CHARS: usize = 20_000;

/// One word or number of the input, lower-cased.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub text: String,
    /// Sentences end at `.`, `!`, `?`, `;` and line breaks.
    pub sentence: u32,
    /// Clauses also end at commas. Phrases may span commas ("hot, swollen knee") but
    /// never sentences; negation crosses a comma only into a list of symptoms.
    pub clause: u32,
    /// The numeric value of a plain number ("39.5").
    pub num: Option<f32>,
    /// Both halves of a fraction such as a blood pressure ("90/60").
    pub pair: Option<(f32, f32)>,
}

/// Splits text into tokens. Returns the tokens and whether the text was cut at [`MAX_CHARS`].
///
/// Letters followed by digits stay one token ("spo2", "g2p1"); digits followed by letters
/// split ("39.5c" → "39.5", "c"), because units are written glued to numbers. Apostrophes
/// vanish so that "can't" and "cant" read the same.
pub(crate) fn tokenize(input: &str) -> (Vec<Token>, bool) {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut sentence = 0u32;
    let mut clause = 0u32;
    let mut truncated = false;
    let chars: Vec<char> = input.chars().take(MAX_CHARS + 1).collect();
    if chars.len() > MAX_CHARS {
        truncated = true;
    }
    let chars = &chars[..chars.len().min(MAX_CHARS)];

    let flush = |word: &mut String, tokens: &mut Vec<Token>, sentence: u32, clause: u32| {
        if word.is_empty() {
            return;
        }
        let text = std::mem::take(word);
        let (num, pair) = parse_number(&text);
        tokens.push(Token {
            text,
            sentence,
            clause,
            num,
            pair,
        });
    };

    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        if c.is_alphanumeric() {
            let word_is_number = word.chars().next().is_some_and(|f| f.is_ascii_digit());
            if word_is_number && !c.is_ascii_digit() {
                flush(&mut word, &mut tokens, sentence, clause);
            }
            word.extend(c.to_lowercase());
            continue;
        }
        match c {
            '\'' | '’' | 'ʼ' | '`' => {}
            '.' | '/' if prev.is_ascii_digit() && next.is_ascii_digit() => word.push(c),
            '.' | '!' | '?' | ';' | '\n' | '\r' => {
                flush(&mut word, &mut tokens, sentence, clause);
                if tokens.last().is_some_and(|t| t.sentence == sentence) {
                    sentence += 1;
                    clause += 1;
                }
            }
            ',' => {
                flush(&mut word, &mut tokens, sentence, clause);
                if tokens.last().is_some_and(|t| t.clause == clause) {
                    clause += 1;
                }
            }
            _ => flush(&mut word, &mut tokens, sentence, clause),
        }
    }
    flush(&mut word, &mut tokens, sentence, clause);
    (tokens, truncated)
}

fn parse_number(text: &str) -> (Option<f32>, Option<(f32, f32)>) {
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return (None, None);
    }
    if let Some((a, b)) = text.split_once('/') {
        let pair = match (a.parse::<f32>(), b.parse::<f32>()) {
            (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => Some((a, b)),
            _ => None,
        };
        return (None, pair);
    }
    (text.parse::<f32>().ok().filter(|n| n.is_finite()), None)
}

/// A number written as a word, in English or Swahili ("two", "mbili"); "a"/"an" count as one
/// because "a week" is a duration.
pub(crate) fn word_number(word: &str) -> Option<f32> {
    let n = match word {
        "a" | "an" | "one" | "single" | "moja" | "mmoja" => 1.0,
        "two" | "couple" | "mbili" | "wawili" | "miwili" => 2.0,
        "three" | "few" | "tatu" | "watatu" | "mitatu" => 3.0,
        "four" | "several" | "nne" | "wanne" | "minne" => 4.0,
        "five" | "tano" | "watano" | "mitano" => 5.0,
        "six" | "sita" => 6.0,
        "seven" | "saba" => 7.0,
        "eight" | "nane" => 8.0,
        "nine" | "tisa" => 9.0,
        "ten" | "kumi" => 10.0,
        "eleven" => 11.0,
        "twelve" => 12.0,
        "fourteen" => 14.0,
        "fifteen" => 15.0,
        "eighteen" => 18.0,
        "twenty" | "ishirini" => 20.0,
        "thirty" | "thelathini" => 30.0,
        _ => return None,
    };
    Some(n)
}

/// One element of a knowledge-base phrase.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pat {
    /// The token must equal this word.
    Word(String),
    /// The token must start with this ("vomit*" matches "vomiting", "vomited").
    Prefix(String),
    /// Up to this many tokens of anything in the same sentence ("pain ~ chest" matches
    /// "pain in my chest").
    Gap(usize),
}

/// How many words `~` may skip. Three covers "pain in my chest" and "weakness in her left
/// arm" without joining words that have nothing to do with each other.
const GAP: usize = 3;

/// Words a gap never skips, so that "coughing but no blood" is not read as coughing blood.
const GAP_STOP: &[&str] = &[
    "no", "not", "without", "but", "denies", "never", "or", "nor", "sina", "hana", "hakuna",
    "bila", "lakini", "wala", "if",
];

/// Compiles a phrase as written in the knowledge base. Returns `None` for a phrase with no
/// word in it, or that starts or ends with `~`.
pub(crate) fn compile_phrase(phrase: &str) -> Option<Vec<Pat>> {
    let mut pats = Vec::new();
    for part in phrase.split_whitespace() {
        if part == "~" {
            pats.push(Pat::Gap(GAP));
            continue;
        }
        let prefix = part.ends_with('*');
        let (words, _) = tokenize(part.trim_end_matches('*'));
        let count = words.len();
        for (i, w) in words.into_iter().enumerate() {
            if prefix && i + 1 == count {
                pats.push(Pat::Prefix(w.text));
            } else {
                pats.push(Pat::Word(w.text));
            }
        }
    }
    let is_gap = |p: Option<&Pat>| matches!(p, Some(Pat::Gap(_)));
    if pats.is_empty() || is_gap(pats.first()) || is_gap(pats.last()) {
        return None;
    }
    Some(pats)
}

/// The first token a phrase needs: exact, or a prefix.
pub(crate) fn first_key(pats: &[Pat]) -> Option<(&str, bool)> {
    match pats.first()? {
        Pat::Word(w) => Some((w, false)),
        Pat::Prefix(p) => Some((p, true)),
        Pat::Gap(_) => None,
    }
}

/// Where a phrase that starts at `start` ends (exclusive), if it matches there.
pub(crate) fn match_at(pats: &[Pat], tokens: &[Token], start: usize) -> Option<usize> {
    let sentence = tokens.get(start)?.sentence;
    match_from(pats, tokens, start, sentence)
}

fn match_from(pats: &[Pat], tokens: &[Token], at: usize, sentence: u32) -> Option<usize> {
    let Some((first, rest)) = pats.split_first() else {
        return Some(at);
    };
    match first {
        Pat::Gap(max) => {
            for skip in 0..=*max {
                let pos = at + skip;
                let skipped = pos.checked_sub(1).and_then(|p| tokens.get(p));
                if skip > 0
                    && skipped.is_none_or(|t| {
                        t.sentence != sentence || GAP_STOP.contains(&t.text.as_str())
                    })
                {
                    break;
                }
                if let Some(end) = match_from(rest, tokens, pos, sentence) {
                    return Some(end);
                }
            }
            None
        }
        Pat::Word(w) => {
            let t = tokens.get(at).filter(|t| t.sentence == sentence)?;
            if t.text == *w {
                match_from(rest, tokens, at + 1, sentence)
            } else {
                None
            }
        }
        Pat::Prefix(p) => {
            let t = tokens.get(at).filter(|t| t.sentence == sentence)?;
            if t.text.starts_with(p.as_str()) {
                match_from(rest, tokens, at + 1, sentence)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text).0.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn units_glued_to_numbers_are_split_but_spo2_stays_whole() {
        assert_eq!(
            words("Temp 39.5C, SpO2 88%"),
            ["temp", "39.5", "c", "spo2", "88"]
        );
        assert_eq!(words("a 67-year-old"), ["a", "67", "year", "old"]);
    }

    #[test]
    fn apostrophes_vanish_so_cant_reads_like_can_t() {
        assert_eq!(words("I can't breathe"), ["i", "cant", "breathe"]);
        assert_eq!(words("won’t wake"), ["wont", "wake"]);
    }

    #[test]
    fn blood_pressure_is_one_token_with_both_numbers() {
        let (tokens, _) = tokenize("BP 80/50.");
        assert_eq!(tokens[1].pair, Some((80.0, 50.0)));
    }

    #[test]
    fn sentences_and_clauses_are_numbered() {
        let (tokens, _) = tokenize("no fever, cough. headache");
        let ids: Vec<(u32, u32)> = tokens.iter().map(|t| (t.sentence, t.clause)).collect();
        assert_eq!(ids, [(0, 0), (0, 0), (0, 1), (1, 2)]);
    }

    #[test]
    fn text_longer_than_the_cap_is_cut_and_flagged() {
        let long = "a ".repeat(MAX_CHARS);
        let (tokens, truncated) = tokenize(&long);
        assert!(truncated);
        assert!(tokens.len() <= MAX_CHARS / 2 + 1);
    }

    #[test]
    fn a_gap_phrase_matches_words_in_between_but_not_across_a_sentence_or_a_negation() {
        let pats = compile_phrase("pain ~ chest").unwrap();
        let (tokens, _) = tokenize("pain in my chest");
        assert_eq!(match_at(&pats, &tokens, 0), Some(4));
        let (tokens, _) = tokenize("pain. My chest");
        assert_eq!(match_at(&pats, &tokens, 0), None);
        let (tokens, _) = tokenize("pain but no chest");
        assert_eq!(match_at(&pats, &tokens, 0), None);
    }

    #[test]
    fn a_starred_word_matches_by_prefix() {
        let pats = compile_phrase("vomit*").unwrap();
        let (tokens, _) = tokenize("vomiting");
        assert_eq!(match_at(&pats, &tokens, 0), Some(1));
    }

    #[test]
    fn phrases_that_begin_or_end_with_a_gap_are_refused() {
        assert!(compile_phrase("~ chest").is_none());
        assert!(compile_phrase("   ").is_none());
    }
}
