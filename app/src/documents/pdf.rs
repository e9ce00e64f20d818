//! The text of a PDF, read within hard limits, for finding lab values.
//!
//! Deliberately small rather than complete: it inflates `FlateDecode` (or unfiltered) content
//! streams and reads the text-showing operators (`Tj`, `TJ`, `'`, `"`), starting a new line
//! where the text moves down the page. That covers the reports lab systems print; text in
//! fonts with two-byte encodings (mapped through `ToUnicode` tables) comes out unreadable and
//! yields no values, and scans have no text at all. Those documents are kept and shown; only
//! their values are not read. Replacing this with a full PDF library is the way to widen it.
//!
//! Limits, so a hostile file (a "PDF bomb") costs little: at most [`Limits::max_inflated`]
//! bytes inflated in total, [`Limits::max_streams`] streams, and a deadline checked as it goes.
//! Pure: no I/O, nothing logged (the text is medical content).

use std::time::Instant;

/// How much work one PDF may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes inflated from all streams together.
    pub max_inflated: usize,
    /// Streams looked at.
    pub max_streams: usize,
    /// Characters of text kept.
    pub max_text: usize,
    /// When to give up.
    pub deadline: Instant,
}

impl Limits {
    pub fn standard(deadline: Instant) -> Limits {
        Limits {
            max_inflated: 32 * 1024 * 1024,
            max_streams: 5_000,
            max_text: 1024 * 1024,
            deadline,
        }
    }
}

/// Why the text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    #[error("the PDF inflates to more than the limit")]
    TooMuchData,
    #[error("the PDF has more streams than the limit")]
    TooManyStreams,
    #[error("reading the PDF took longer than the limit")]
    TooSlow,
    #[error("the PDF is encrypted")]
    Encrypted,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn rfind(haystack: &[u8], needle: &[u8], before: usize) -> Option<usize> {
    haystack
        .get(..before)?
        .windows(needle.len())
        .rposition(|w| w == needle)
}

/// The text of every readable content stream, one line per line of the page.
pub fn text(pdf: &[u8], limits: &Limits) -> Result<String, PdfError> {
    if find(pdf, b"/Encrypt", 0).is_some() {
        return Err(PdfError::Encrypted);
    }
    let mut out = String::new();
    let mut inflated = 0usize;
    let mut streams = 0usize;
    let mut at = 0usize;
    while let Some(keyword) = find(pdf, b"stream", at) {
        at = keyword + 6;
        // `endstream` also contains `stream`.
        if keyword >= 3 && &pdf[keyword - 3..keyword] == b"end" {
            continue;
        }
        if Instant::now() > limits.deadline {
            return Err(PdfError::TooSlow);
        }
        streams += 1;
        if streams > limits.max_streams {
            return Err(PdfError::TooManyStreams);
        }
        let dict_start = rfind(pdf, b"obj", keyword).unwrap_or(0);
        let dict = &pdf[dict_start..keyword];
        let mut start = at;
        if pdf.get(start) == Some(&b'\r') {
            start += 1;
        }
        if pdf.get(start) == Some(&b'\n') {
            start += 1;
        }
        let Some(end) = find(pdf, b"endstream", start) else {
            break;
        };
        at = end + 9;
        let data = &pdf[start..end];
        if !is_content(dict) {
            continue;
        }
        let content = if contains(dict, b"/FlateDecode") || contains(dict, b"/Fl ") {
            let budget = limits.max_inflated.saturating_sub(inflated);
            match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, budget) {
                Ok(bytes) => bytes,
                Err(err) if err.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                    return Err(PdfError::TooMuchData);
                }
                // A damaged stream: skip it, read the rest.
                Err(_) => continue,
            }
        } else if contains(dict, b"/Filter") {
            continue;
        } else {
            data.to_vec()
        };
        inflated += content.len();
        if inflated > limits.max_inflated {
            return Err(PdfError::TooMuchData);
        }
        show_text(&content, &mut out, limits)?;
        if out.len() >= limits.max_text {
            break;
        }
    }
    Ok(out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle, 0).is_some()
}

/// Page content (or a form): not an image, font, metadata, or cross-reference stream.
fn is_content(dict: &[u8]) -> bool {
    let skip: [&[u8]; 8] = [
        b"/Image",
        b"/Length1",
        b"/Length2",
        b"/Length3",
        b"/XRef",
        b"/ObjStm",
        b"/Metadata",
        b"/FontFile",
    ];
    !skip.iter().any(|s| contains(dict, s)) && !contains(dict, b"/DecodeParms")
}

/// A token of a content stream.
#[derive(Debug, PartialEq)]
enum Token {
    Number(f64),
    Text(Vec<u8>),
    ArrayStart,
    ArrayEnd,
    Operator(String),
    Other,
}

struct Lexer<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<Token> {
        let b = self.bytes;
        while self.at < b.len() {
            match b[self.at] {
                b'%' => {
                    while self.at < b.len() && b[self.at] != b'\n' && b[self.at] != b'\r' {
                        self.at += 1;
                    }
                }
                c if c.is_ascii_whitespace() || c == 0 => self.at += 1,
                _ => break,
            }
        }
        let c = *b.get(self.at)?;
        match c {
            b'(' => Some(Token::Text(self.literal())),
            b'<' if b.get(self.at + 1) == Some(&b'<') => {
                self.at += 2;
                Some(Token::Other)
            }
            b'>' if b.get(self.at + 1) == Some(&b'>') => {
                self.at += 2;
                Some(Token::Other)
            }
            b'<' => Some(Token::Text(self.hex())),
            b'[' => {
                self.at += 1;
                Some(Token::ArrayStart)
            }
            b']' => {
                self.at += 1;
                Some(Token::ArrayEnd)
            }
            b'/' => {
                self.at += 1;
                self.word();
                Some(Token::Other)
            }
            _ => {
                let word = self.word();
                if word.is_empty() {
                    self.at += 1;
                    return Some(Token::Other);
                }
                match std::str::from_utf8(word)
                    .ok()
                    .and_then(|w| w.parse::<f64>().ok())
                {
                    Some(n) => Some(Token::Number(n)),
                    None => Some(Token::Operator(String::from_utf8_lossy(word).into_owned())),
                }
            }
        }
    }

    fn word(&mut self) -> &[u8] {
        let start = self.at;
        while let Some(&c) = self.bytes.get(self.at) {
            if c.is_ascii_whitespace() || b"()<>[]{}/%".contains(&c) {
                break;
            }
            self.at += 1;
        }
        &self.bytes[start..self.at]
    }

    fn literal(&mut self) -> Vec<u8> {
        let b = self.bytes;
        let mut out = Vec::new();
        let mut depth = 0usize;
        self.at += 1;
        while let Some(&c) = b.get(self.at) {
            self.at += 1;
            match c {
                b'\\' => {
                    let Some(&e) = b.get(self.at) else { break };
                    self.at += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' | b'f' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match b.get(self.at) {
                                    Some(&d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.at += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(u8::try_from(v & 0xFF).unwrap_or(b'?'));
                        }
                        b'\r' | b'\n' => {}
                        other => out.push(other),
                    }
                }
                b'(' => {
                    depth += 1;
                    out.push(c);
                }
                b')' if depth == 0 => break,
                b')' => {
                    depth -= 1;
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        out
    }

    fn hex(&mut self) -> Vec<u8> {
        self.at += 1;
        let mut digits = Vec::new();
        while let Some(&c) = self.bytes.get(self.at) {
            self.at += 1;
            if c == b'>' {
                break;
            }
            if let Some(d) = char::from(c).to_digit(16) {
                digits.push(u8::try_from(d).unwrap_or(0));
            }
        }
        if digits.len() % 2 == 1 {
            digits.push(0);
        }
        digits.chunks(2).map(|p| p[0] * 16 + p[1]).collect()
    }
}

fn push_bytes(out: &mut String, bytes: &[u8]) {
    // PDFDocEncoding and WinAnsi agree with Latin-1 on everything lab reports use.
    out.extend(bytes.iter().map(|&b| char::from(b)));
}

fn new_line(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn space(out: &mut String) {
    if !out.is_empty() && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
}

/// Appends the text a content stream shows.
fn show_text(content: &[u8], out: &mut String, limits: &Limits) -> Result<(), PdfError> {
    let mut lexer = Lexer {
        bytes: content,
        at: 0,
    };
    let mut operands: Vec<Token> = Vec::new();
    let mut array: Option<Vec<Token>> = None;
    let mut last_y: Option<f64> = None;
    let mut count = 0usize;
    while let Some(token) = lexer.next() {
        count += 1;
        if count.is_multiple_of(4096) && Instant::now() > limits.deadline {
            return Err(PdfError::TooSlow);
        }
        if out.len() >= limits.max_text {
            return Ok(());
        }
        match token {
            Token::ArrayStart => array = Some(Vec::new()),
            Token::ArrayEnd => {
                if let Some(items) = array.take() {
                    // Keep the array's strings, and its wide gaps as spaces, for `TJ`.
                    let mut shown = String::new();
                    for item in items {
                        match item {
                            Token::Text(t) => push_bytes(&mut shown, &t),
                            Token::Number(n) if n < -200.0 => shown.push(' '),
                            _ => {}
                        }
                    }
                    operands.push(Token::Text(shown.into_bytes()));
                }
            }
            Token::Operator(op) if array.is_none() => {
                match op.as_str() {
                    "BT" => last_y = None,
                    "Tj" | "TJ" => {
                        if let Some(Token::Text(t)) = operands.last() {
                            if op == "TJ" {
                                out.push_str(&String::from_utf8_lossy(t));
                            } else {
                                push_bytes(out, t);
                            }
                        }
                    }
                    "'" | "\"" => {
                        new_line(out);
                        if let Some(Token::Text(t)) = operands.last() {
                            push_bytes(out, t);
                        }
                    }
                    "T*" => new_line(out),
                    "Td" | "TD" => {
                        let n = operands.len();
                        let ty = match operands.get(n.wrapping_sub(1)) {
                            Some(Token::Number(y)) => *y,
                            _ => 0.0,
                        };
                        if ty.abs() > 0.01 {
                            new_line(out);
                        } else {
                            space(out);
                        }
                    }
                    "Tm" => {
                        let y = match operands.last() {
                            Some(Token::Number(y)) => Some(*y),
                            _ => None,
                        };
                        match (last_y, y) {
                            (Some(a), Some(b)) if (a - b).abs() < 0.5 => space(out),
                            _ => new_line(out),
                        }
                        last_y = y;
                    }
                    "ET" => space(out),
                    _ => {}
                }
                operands.clear();
            }
            other => match array.as_mut() {
                Some(items) => items.push(other),
                None => operands.push(other),
            },
        }
    }
    new_line(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
        Limits::standard(Instant::now() + Duration::from_secs(5))
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
    }

    fn pdf_with(stream: &[u8], flate: bool) -> Vec<u8> {
        let mut pdf = b"%PDF-1.4\n1 0 obj\n<< /Length ".to_vec();
        pdf.extend_from_slice(stream.len().to_string().as_bytes());
        if flate {
            pdf.extend_from_slice(b" /Filter /FlateDecode");
        }
        pdf.extend_from_slice(b" >>\nstream\n");
        pdf.extend_from_slice(stream);
        pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< >>\n%%EOF\n");
        pdf
    }

    const CONTENT: &[u8] = b"BT /F1 12 Tf 72 720 Td (Haemoglobin 10.2 g/dL 12.0 - 15.5) Tj \
        0 -14 Td [(WBC: 13.5 x10^9/L ) -300 (\\(4.0-11.0\\) H)] TJ \
        0 -14 Td (Potassium) Tj 120 0 Td (3.1 mmol/L [3.5-5.1] L) Tj ET";

    #[test]
    fn text_lines_come_out_of_plain_and_compressed_streams() {
        for flate in [false, true] {
            let stream = if flate {
                zlib(CONTENT)
            } else {
                CONTENT.to_vec()
            };
            let text = text(&pdf_with(&stream, flate), &limits()).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], "Haemoglobin 10.2 g/dL 12.0 - 15.5");
            assert_eq!(lines[1], "WBC: 13.5 x10^9/L  (4.0-11.0) H");
            assert_eq!(lines[2], "Potassium 3.1 mmol/L [3.5-5.1] L");
        }
    }

    #[test]
    fn a_pdf_bomb_stops_at_the_limit() {
        let huge = vec![b' '; 8 * 1024 * 1024];
        let pdf = pdf_with(&zlib(&huge), true);
        let small = Limits {
            max_inflated: 1024 * 1024,
            ..limits()
        };
        assert_eq!(text(&pdf, &small), Err(PdfError::TooMuchData));
        let late = Limits {
            deadline: Instant::now() - Duration::from_secs(1),
            ..limits()
        };
        assert_eq!(text(&pdf, &late), Err(PdfError::TooSlow));
    }

    #[test]
    fn images_fonts_and_damaged_streams_are_skipped() {
        let mut pdf = b"%PDF-1.4\n2 0 obj\n<< /Subtype /Image /Length 3 >>\nstream\n(x) Tj\n\
            endstream\nendobj\n3 0 obj\n<< /Filter /FlateDecode /Length 3 >>\nstream\nxyz\n\
            endstream\nendobj\n"
            .to_vec();
        pdf.extend_from_slice(&pdf_with(b"BT (Sodium 140 mmol/L) Tj ET", false)[9..]);
        assert_eq!(text(&pdf, &limits()).unwrap().trim(), "Sodium 140 mmol/L");
        assert_eq!(
            text(b"%PDF-1.4 /Encrypt", &limits()),
            Err(PdfError::Encrypted)
        );
        assert_eq!(text(b"%PDF-1.4 nothing", &limits()).unwrap(), "");
    }
}
