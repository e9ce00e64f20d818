//! The text of a PDF, read within hard limits, for finding lab values.
//!
//! Deliberately small rather than complete: it inflates `FlateDecode` (or unfiltered) content
//! streams and reads the text-showing operators (`Tj`, `TJ`, `'`, `"`), starting a new line
//! where the text moves down the page. Fonts with a `ToUnicode` table (what browsers' "print to
//! PDF" and most report generators write, often with two-byte codes) are decoded through it;
//! other fonts are read as single-byte (Latin-1) text. Not handled: objects packed in object
//! streams (PDF 1.5 compression of the file's structure, which hides fonts' tables from this
//! reader), fonts with custom single-byte encodings but no table, and scans, which have no
//! text at all. Those documents are kept and shown; only their values are not read. Replacing
//! this with a full PDF library is the way to widen it.
//!
//! Limits, so a hostile file (a "PDF bomb") costs little: at most [`Limits::max_inflated`]
//! bytes inflated in total, [`Limits::max_streams`] streams, and a deadline checked as it goes.
//! Pure: no I/O, nothing logged (the text is medical content).

use std::collections::HashMap;
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

/// A stream found in the file: its dictionary, its raw data, and where it ends.
struct RawStream<'a> {
    dict: &'a [u8],
    data: &'a [u8],
    end: usize,
}

/// The stream whose `stream` keyword is at `keyword`.
fn stream_at(pdf: &[u8], keyword: usize) -> Option<RawStream<'_>> {
    let dict_start = rfind(pdf, b"obj", keyword).unwrap_or(0);
    let mut start = keyword + 6;
    if pdf.get(start) == Some(&b'\r') {
        start += 1;
    }
    if pdf.get(start) == Some(&b'\n') {
        start += 1;
    }
    let end = find(pdf, b"endstream", start)?;
    Some(RawStream {
        dict: &pdf[dict_start..keyword],
        data: &pdf[start..end],
        end: end + 9,
    })
}

/// A stream's data, inflated within what is left of the budget; `Ok(None)` when it uses a
/// filter this reader does not know or is damaged (skipped, the rest is still read).
fn decoded(stream: &RawStream<'_>, budget: usize) -> Result<Option<Vec<u8>>, PdfError> {
    if contains(stream.dict, b"/FlateDecode") || contains(stream.dict, b"/Fl ") {
        match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(stream.data, budget) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                Err(PdfError::TooMuchData)
            }
            Err(_) => Ok(None),
        }
    } else if contains(stream.dict, b"/Filter") {
        Ok(None)
    } else if stream.data.len() > budget {
        Err(PdfError::TooMuchData)
    } else {
        Ok(Some(stream.data.to_vec()))
    }
}

/// The text of every readable content stream, one line per line of the page.
pub fn text(pdf: &[u8], limits: &Limits) -> Result<String, PdfError> {
    if find(pdf, b"/Encrypt", 0).is_some() {
        return Err(PdfError::Encrypted);
    }
    let mut inflated = 0usize;
    // Font dictionaries may sit in object streams: unpacked next to the file for the lookup.
    let with_unpacked;
    let structure: &[u8] = if contains(pdf, b"/ObjStm") {
        with_unpacked = [pdf, &unpacked_objects(pdf, limits, &mut inflated)?].concat();
        &with_unpacked
    } else {
        pdf
    };
    let fonts = if contains(structure, b"/ToUnicode") {
        Fonts::read(structure, limits, &mut inflated)?
    } else {
        Fonts::default()
    };
    let mut out = String::new();
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
        let Some(stream) = stream_at(pdf, keyword) else {
            break;
        };
        at = stream.end;
        if !is_content(stream.dict) {
            continue;
        }
        let Some(content) = decoded(&stream, limits.max_inflated.saturating_sub(inflated))? else {
            continue;
        };
        inflated += content.len();
        if inflated > limits.max_inflated {
            return Err(PdfError::TooMuchData);
        }
        show_text(&content, &fonts, &mut out, limits)?;
        if out.len() >= limits.max_text {
            break;
        }
    }
    Ok(out)
}

/// The whole number after `key` in a dictionary (`/First 42`).
fn dict_number(dict: &[u8], key: &[u8]) -> Option<usize> {
    let at = find(dict, key, 0)? + key.len();
    let digits: String = dict[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    digits.parse().ok()
}

/// The objects packed in the file's object streams, written out as plain `N 0 obj … endobj`
/// text so that they can be looked up like the others.
fn unpacked_objects(
    pdf: &[u8],
    limits: &Limits,
    inflated: &mut usize,
) -> Result<Vec<u8>, PdfError> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = find(pdf, b"/ObjStm", at) {
        at = found + 7;
        let Some(keyword) = find(pdf, b"stream", at) else {
            break;
        };
        let Some(stream) = stream_at(pdf, keyword) else {
            break;
        };
        at = stream.end;
        let (Some(first), Some(count)) = (
            dict_number(stream.dict, b"/First"),
            dict_number(stream.dict, b"/N"),
        ) else {
            continue;
        };
        if !contains(stream.dict, b"/ObjStm") {
            continue;
        }
        let Some(bytes) = decoded(&stream, limits.max_inflated.saturating_sub(*inflated))? else {
            continue;
        };
        *inflated += bytes.len();
        if Instant::now() > limits.deadline {
            return Err(PdfError::TooSlow);
        }
        let header = String::from_utf8_lossy(&bytes[..first.min(bytes.len())]).into_owned();
        let numbers: Vec<usize> = header
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let pairs: Vec<(usize, usize)> = numbers
            .chunks_exact(2)
            .take(count)
            .map(|p| (p[0], first.saturating_add(p[1])))
            .collect();
        for (i, &(number, start)) in pairs.iter().enumerate() {
            let end = pairs.get(i + 1).map_or(bytes.len(), |next| next.1);
            if let Some(body) = bytes.get(start..end.max(start)) {
                out.extend_from_slice(format!("\n{number} 0 obj\n").as_bytes());
                out.extend_from_slice(body);
                out.extend_from_slice(b"\nendobj\n");
            }
        }
    }
    Ok(out)
}

/// What a font's codes mean, from its `ToUnicode` table.
#[derive(Debug, Default)]
struct CMap {
    /// Bytes per code (1 or 2).
    width: usize,
    map: HashMap<u32, String>,
}

impl CMap {
    fn parse(bytes: &[u8]) -> CMap {
        let mut lexer = Lexer { bytes, at: 0 };
        let mut cmap = CMap {
            width: 1,
            map: HashMap::new(),
        };
        let mut pending: Vec<Token> = Vec::new();
        let mut section = "";
        while let Some(token) = lexer.next() {
            match token {
                Token::Operator(op) => {
                    match op.as_str() {
                        "begincodespacerange" => section = "space",
                        "beginbfchar" => section = "char",
                        "beginbfrange" => section = "range",
                        "endcodespacerange" | "endbfchar" | "endbfrange" => section = "",
                        _ => {}
                    }
                    pending.clear();
                }
                Token::ArrayStart => pending.push(Token::ArrayStart),
                Token::Text(bytes) => {
                    pending.push(Token::Text(bytes));
                    cmap.take(section, &mut pending);
                }
                Token::ArrayEnd => {
                    pending.push(Token::ArrayEnd);
                    cmap.take(section, &mut pending);
                }
                _ => {}
            }
            if cmap.map.len() > 65_536 {
                break;
            }
        }
        cmap
    }

    /// Uses the entry collected in `pending` once it is complete.
    fn take(&mut self, section: &str, pending: &mut Vec<Token>) {
        let code = |t: &Token| match t {
            Token::Text(b) if b.len() <= 4 => {
                Some(b.iter().fold(0u32, |n, &x| (n << 8) | u32::from(x)))
            }
            _ => None,
        };
        let unicode = |t: &Token| match t {
            Token::Text(b) => {
                let units: Vec<u16> = b
                    .chunks(2)
                    .map(|p| (u16::from(p[0]) << 8) | u16::from(*p.get(1).unwrap_or(&0)))
                    .collect();
                Some(String::from_utf16_lossy(&units))
            }
            _ => None,
        };
        match (section, pending.as_slice()) {
            ("space", [Token::Text(lo), Token::Text(_)]) => {
                self.width = lo.len().clamp(1, 2);
                pending.clear();
            }
            ("char", [src, dst]) => {
                if let (Some(c), Some(u)) = (code(src), unicode(dst)) {
                    self.map.insert(c, u);
                }
                pending.clear();
            }
            ("range", [lo, hi, Token::Text(_)]) => {
                if let (Some(lo), Some(hi), Some(first)) =
                    (code(lo), code(hi), unicode(&pending[2]))
                {
                    let mut units: Vec<u16> = first.encode_utf16().collect();
                    for c in lo..=hi.min(lo.saturating_add(255)) {
                        self.map.insert(c, String::from_utf16_lossy(&units));
                        if let Some(last) = units.last_mut() {
                            *last = last.wrapping_add(1);
                        }
                    }
                }
                pending.clear();
            }
            ("range", [lo, hi, Token::ArrayStart, items @ .., Token::ArrayEnd]) => {
                if let (Some(lo), Some(_)) = (code(lo), code(hi)) {
                    for (offset, item) in items.iter().enumerate() {
                        if let Some(u) = unicode(item) {
                            self.map.insert(lo.saturating_add(offset as u32), u);
                        }
                    }
                }
                pending.clear();
            }
            ("range", [_, _, Token::ArrayStart, ..]) => {}
            (_, items) if items.len() >= 3 => pending.clear(),
            _ => {}
        }
    }

    fn decode(&self, bytes: &[u8], out: &mut String) {
        for code in bytes.chunks(self.width) {
            let code = code.iter().fold(0u32, |n, &x| (n << 8) | u32::from(x));
            if let Some(text) = self.map.get(&code) {
                out.push_str(text);
            }
        }
    }
}

/// The fonts that have `ToUnicode` tables, by their resource names (`/F1`). A name used for
/// different fonts on different pages keeps the last one: a known simplification.
#[derive(Debug, Default)]
struct Fonts {
    by_name: HashMap<String, CMap>,
}

/// Where each object's body starts, by object number.
fn object_index(pdf: &[u8]) -> HashMap<u32, usize> {
    let mut index = HashMap::new();
    let mut at = 0;
    while let Some(found) = find(pdf, b" obj", at) {
        at = found + 4;
        // `N G obj`: walk back over the generation and the number.
        let before = &pdf[..found];
        let generation_start = before
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        if generation_start == found || generation_start == 0 {
            continue;
        }
        let number_end = generation_start - 1;
        if !pdf[number_end].is_ascii_whitespace() {
            continue;
        }
        let number_start = pdf[..number_end]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        if let Some(n) = std::str::from_utf8(&pdf[number_start..number_end])
            .ok()
            .and_then(|n| n.parse().ok())
        {
            index.insert(n, at);
        }
    }
    index
}

/// `N G R` at the start of `bytes` (after spaces): the object number.
fn reference(bytes: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(&bytes[..bytes.len().min(32)]).ok()?;
    let mut words = text.split_whitespace();
    let number = words.next()?.parse().ok()?;
    words.next()?.parse::<u32>().ok()?;
    words.next()?.starts_with('R').then_some(number)
}

impl Fonts {
    fn read(pdf: &[u8], limits: &Limits, inflated: &mut usize) -> Result<Fonts, PdfError> {
        let index = object_index(pdf);
        let body = |n: u32| -> Option<&[u8]> {
            let start = *index.get(&n)?;
            let end = find(pdf, b"endobj", start).unwrap_or(pdf.len());
            Some(&pdf[start..end])
        };
        let mut names: HashMap<String, u32> = HashMap::new();
        let mut at = 0;
        while let Some(found) = find(pdf, b"/Font", at) {
            at = found + 5;
            let rest = &pdf[at..];
            let dict: &[u8] = match reference(rest).and_then(body) {
                Some(resolved) => resolved,
                None => rest,
            };
            let Some(open) = find(dict, b"<<", 0) else {
                continue;
            };
            if !dict[..open].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let close = find(dict, b">>", open).unwrap_or(dict.len());
            let mut lexer = Lexer {
                bytes: &dict[open + 2..close],
                at: 0,
            };
            let mut tokens = Vec::new();
            while let Some(token) = lexer.next() {
                tokens.push(token);
            }
            for window in tokens.windows(4) {
                if let [
                    Token::Name(name),
                    Token::Number(n),
                    Token::Number(_),
                    Token::Operator(r),
                ] = window
                    && r == "R"
                {
                    names.insert(name.clone(), *n as u32);
                }
            }
        }
        let mut fonts = Fonts::default();
        for (name, object) in names {
            if Instant::now() > limits.deadline {
                return Err(PdfError::TooSlow);
            }
            let Some(font) = body(object) else { continue };
            let Some(key) = find(font, b"/ToUnicode", 0) else {
                continue;
            };
            let Some(cmap_object) = reference(&font[key + 10..]) else {
                continue;
            };
            let Some(cmap_body) = body(cmap_object) else {
                continue;
            };
            let Some(keyword) = find(cmap_body, b"stream", 0) else {
                continue;
            };
            let start = index.get(&cmap_object).copied().unwrap_or(0);
            let Some(stream) = stream_at(pdf, start + keyword) else {
                continue;
            };
            let budget = limits.max_inflated.saturating_sub(*inflated);
            let Some(bytes) = decoded(&stream, budget)? else {
                continue;
            };
            *inflated += bytes.len();
            fonts.by_name.insert(name, CMap::parse(&bytes));
        }
        Ok(fonts)
    }
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
    Name(String),
    /// The decoded text of a `TJ` array.
    Shown(String),
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
                let name = String::from_utf8_lossy(self.word()).into_owned();
                Some(Token::Name(name))
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

/// A generous guess at a glyph's width in em (real widths live in the font, which this reader
/// does not load): wide letters, capitals, narrow punctuation, the rest.
fn em(c: char) -> f64 {
    match c {
        'W' | 'M' | 'm' | 'w' | '@' | '%' => 0.95,
        ' ' | '.' | ',' | ':' | ';' | 'i' | 'l' | 'j' | '!' | '|' | '\'' => 0.3,
        c if c.is_uppercase() => 0.75,
        _ => 0.58,
    }
}

/// Appends `bytes` shown in `font`: through its `ToUnicode` table if it has one, else as
/// single-byte text.
fn emit(font: Option<&CMap>, bytes: &[u8], out: &mut String) {
    match font {
        Some(cmap) => cmap.decode(bytes, out),
        None => push_bytes(out, bytes),
    }
}

/// Appends the text a content stream shows.
fn show_text(
    content: &[u8],
    fonts: &Fonts,
    out: &mut String,
    limits: &Limits,
) -> Result<(), PdfError> {
    let mut lexer = Lexer {
        bytes: content,
        at: 0,
    };
    let mut operands: Vec<Token> = Vec::new();
    let mut array: Option<Vec<Token>> = None;
    // The height of the line being written, when known: table cells are often separate text
    // objects, each placed with `Tm`, and belong to one line when they share it.
    let mut line_y: Option<f64> = None;
    let mut font: Option<&CMap> = None;
    let mut font_size = 12.0_f64;
    // Where the text since the last `Td` starts: a `Td` along the line that lands about where
    // that text ends is a kerning step inside a word, not a gap between words.
    let mut run_start = 0usize;
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
                            Token::Text(t) => emit(font, &t, &mut shown),
                            Token::Number(n) if n < -200.0 => shown.push(' '),
                            _ => {}
                        }
                    }
                    operands.push(Token::Shown(shown));
                }
            }
            Token::Operator(op) if array.is_none() => {
                match op.as_str() {
                    "Tf" => {
                        font = operands.iter().find_map(|t| match t {
                            Token::Name(name) => fonts.by_name.get(name),
                            _ => None,
                        });
                        if let Some(Token::Number(size)) = operands.last() {
                            font_size = size.abs().max(1.0);
                        }
                    }
                    "Tj" | "TJ" | "'" | "\"" => {
                        if op == "'" || op == "\"" {
                            new_line(out);
                            line_y = None;
                        }
                        match operands.last() {
                            Some(Token::Text(t)) => emit(font, t, out),
                            Some(Token::Shown(text)) => out.push_str(text),
                            _ => {}
                        }
                    }
                    "T*" => {
                        new_line(out);
                        line_y = None;
                        run_start = out.len();
                    }
                    "Td" | "TD" => {
                        let ty = match operands.last() {
                            Some(Token::Number(y)) => *y,
                            _ => 0.0,
                        };
                        let tx = match operands.len().checked_sub(2).map(|i| &operands[i]) {
                            Some(Token::Number(x)) => *x,
                            _ => 0.0,
                        };
                        let run_em: f64 = out
                            .get(run_start..)
                            .map_or(0.0, |s| s.chars().map(em).sum());
                        if ty.abs() > 0.01 {
                            new_line(out);
                            line_y = None;
                        } else if tx > (run_em * 1.15 + 0.2) * font_size {
                            space(out);
                        }
                        run_start = out.len();
                    }
                    "Tm" => {
                        let y = match operands.last() {
                            Some(Token::Number(y)) => Some(*y),
                            _ => None,
                        };
                        match (line_y, y) {
                            (Some(a), Some(b)) if (a - b).abs() < 0.5 => space(out),
                            _ => new_line(out),
                        }
                        line_y = y;
                        run_start = out.len();
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

    /// Text as a two-byte font shows it: each character's code as big-endian hex.
    fn two_byte(text: &str) -> String {
        let hex: String = text
            .chars()
            .map(|c| format!("{:04X}", u32::from(c)))
            .collect();
        format!("<{hex}>")
    }

    #[test]
    fn text_in_two_byte_fonts_is_read_through_their_tounicode_tables() {
        let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
            1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
            1 beginbfchar <0031> <0031> endbfchar\n\
            2 beginbfrange <0020> <0030> <0020> <0032> <007E> <0032> endbfrange\n\
            1 beginbfrange <0100> <0101> [<0048> <0069>] endbfrange\n\
            endcmap CMapName currentdict /CMap defineresource pop end end";
        let packed = zlib(cmap);
        let content = format!(
            "BT /F2 11 Tf 72 700 Td {} Tj 0 -14 Td [{} -400 {}] TJ \
             /F1 11 Tf 0 -14 Td (Sodium 140 mmol/L) Tj /F2 11 Tf 0 -14 Td <01000101> Tj ET",
            two_byte("Potassium 3.1 mmol/L [3.5-5.1] L"),
            two_byte("Haemoglobin 10.2 g/dL"),
            two_byte("12.0 - 15.5"),
        );
        let mut pdf = b"%PDF-1.5\n".to_vec();
        pdf.extend_from_slice(
            b"3 0 obj\n<< /Type /Page /Resources << /Font << /F1 5 0 R \
            /F2 6 0 R >> >> /Contents 4 0 R >>\nendobj\n",
        );
        pdf.extend_from_slice(
            format!(
                "4 0 obj\n<< /Length {} >>\nstream\n{content}\nendstream\nendobj\n",
                content.len()
            )
            .as_bytes(),
        );
        pdf.extend_from_slice(
            b"5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n",
        );
        pdf.extend_from_slice(
            b"6 0 obj\n<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Arial \
            /Encoding /Identity-H /ToUnicode 7 0 R >>\nendobj\n",
        );
        pdf.extend_from_slice(
            format!(
                "7 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
                packed.len()
            )
            .as_bytes(),
        );
        pdf.extend_from_slice(&packed);
        pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
        let text = text(&pdf, &limits()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "Potassium 3.1 mmol/L [3.5-5.1] L",
                "Haemoglobin 10.2 g/dL 12.0 - 15.5",
                "Sodium 140 mmol/L",
                "Hi",
            ]
        );
    }

    #[test]
    fn a_font_packed_in_an_object_stream_is_still_found() {
        let cmap = b"begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
            1 beginbfrange <0020> <007E> <0020> endbfrange endcmap";
        let content = format!("BT /F2 11 Tf {} Tj ET", two_byte("CRP 12 mg/L <5"));
        let packed_objects = "6 0 5 57 << /Type /Page /Resources << /Font << /F2 5 0 R >> >> >>\n\
            << /Type /Font /Subtype /Type0 /ToUnicode 7 0 R >>";
        let first = packed_objects.find("<<").unwrap();
        let objstm = zlib(packed_objects.as_bytes());
        let mut pdf = b"%PDF-1.5\n".to_vec();
        pdf.extend_from_slice(
            format!(
                "8 0 obj\n<< /Type /ObjStm /N 2 /First {first} /Length {} /Filter /FlateDecode >>\nstream\n",
                objstm.len()
            )
            .as_bytes(),
        );
        pdf.extend_from_slice(&objstm);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        pdf.extend_from_slice(
            format!(
                "4 0 obj\n<< /Length {} >>\nstream\n{content}\nendstream\nendobj\n",
                content.len()
            )
            .as_bytes(),
        );
        pdf.extend_from_slice(
            format!("7 0 obj\n<< /Length {} >>\nstream\n", cmap.len()).as_bytes(),
        );
        pdf.extend_from_slice(cmap);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        assert_eq!(text(&pdf, &limits()).unwrap().trim(), "CRP 12 mg/L <5");
    }

    #[test]
    fn table_cells_placed_one_by_one_on_a_line_read_as_one_line() {
        // How browsers print a table: every cell its own text object, placed with `Tm`.
        let mut content = String::new();
        for (y, cells) in [
            (120, ["Test", "Result", "Unit", "Reference"]),
            (143, ["Haemoglobin", "10.2", "g/dL", "12.0 - 15.5"]),
            (166, ["Sodium", "140", "mmol/L", "135 - 145"]),
        ] {
            for (i, cell) in cells.iter().enumerate() {
                content.push_str(&format!(
                    "BT /F1 16 Tf 1 0 0 -1 {} {y} Tm ({cell}) Tj ET\n",
                    10 + 90 * i
                ));
            }
        }
        let text = text(&pdf_with(content.as_bytes(), false), &limits()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "Test Result Unit Reference",
                "Haemoglobin 10.2 g/dL 12.0 - 15.5",
                "Sodium 140 mmol/L 135 - 145"
            ]
        );
    }

    #[test]
    fn a_kerning_step_inside_a_word_adds_no_space() {
        // "WBC" written as "W", a step of one glyph's width, "BC"; then a column further on.
        let content =
            b"BT /F1 16 Tf 1 0 0 -1 10 40 Tm (W) Tj 14.2 0 Td (BC) Tj 90 0 Td (13.5) Tj ET";
        let text = text(&pdf_with(content, false), &limits()).unwrap();
        assert_eq!(text.trim(), "WBC 13.5");
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
