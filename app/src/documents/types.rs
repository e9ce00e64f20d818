//! What the documents page and its server functions exchange, and the small pure helpers both
//! halves need (the filename header's encoding, display names, lab-name normalisation).

use serde::{Deserialize, Serialize};

/// The header that carries the file's name on an upload, percent-encoded UTF-8 (like
/// JavaScript's `encodeURIComponent`), because header values are not safe for arbitrary text.
pub const FILENAME_HEADER: &str = "x-filename";

/// The upload endpoint: `POST` the raw file bytes as the body.
pub const UPLOAD_PATH: &str = "/api/documents";

/// Whether the text of a document could be read for lab values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextStatus {
    /// Text was read (it may still hold no lab values).
    Extracted,
    /// A readable PDF with no text in it (e.g. a scan).
    NoText,
    /// The PDF could not be read within the limits; the file itself is kept.
    Failed,
    /// An image: no text is read from images.
    NotApplicable,
}

impl TextStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TextStatus::Extracted => "extracted",
            TextStatus::NoText => "no_text",
            TextStatus::Failed => "failed",
            TextStatus::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(value: &str) -> Option<TextStatus> {
        [
            TextStatus::Extracted,
            TextStatus::NoText,
            TextStatus::Failed,
            TextStatus::NotApplicable,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// One of the patient's documents, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentSummary {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub text_status: TextStatus,
    pub created_at: i64,
    /// How many lab values were found in it.
    pub lab_count: i64,
}

impl DocumentSummary {
    pub fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }
}

/// The list page's data: the documents, newest first, and the upload limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentList {
    pub documents: Vec<DocumentSummary>,
    pub max_upload_bytes: u64,
}

/// How a value compares with the range printed beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    High,
    Low,
    Normal,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::High => "high",
            Flag::Low => "low",
            Flag::Normal => "normal",
        }
    }

    pub fn parse(value: &str) -> Option<Flag> {
        match value {
            "high" => Some(Flag::High),
            "low" => Some(Flag::Low),
            "normal" => Some(Flag::Normal),
            _ => None,
        }
    }
}

/// One lab value, with the document it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabResult {
    pub id: String,
    pub document_id: String,
    /// When the document was uploaded: the time axis of the chart.
    pub document_at: i64,
    pub test_name: String,
    pub value: f64,
    pub unit: String,
    pub ref_low: Option<f64>,
    pub ref_high: Option<f64>,
    pub flag: Option<Flag>,
    pub position: i64,
}

/// Percent-encodes `name` as `encodeURIComponent` does (unreserved characters stay).
pub fn encode_filename(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded name; `None` when it is not valid percent-encoded UTF-8.
pub fn decode_filename(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Longest name kept, in characters.
pub const MAX_FILENAME_CHARS: usize = 120;

/// A name fit to show: the last path component, without control characters, trimmed and
/// shortened; `document` when nothing is left.
pub fn display_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(MAX_FILENAME_CHARS)
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    if trimmed.is_empty() {
        "document".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The key lab values are grouped by across documents: lower case, letters and digits only,
/// so `Haemoglobin`, `HAEMOGLOBIN:` and `haemoglobin` are one test.
pub fn normalise_test_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_survive_the_header_round_trip() {
        for name in [
            "labs.pdf",
            "Matokeo ya damu – Julai.pdf",
            "a%b c.png",
            "ñ/ü\\x.jpg",
        ] {
            let encoded = encode_filename(name);
            assert!(encoded.is_ascii());
            assert_eq!(decode_filename(&encoded).as_deref(), Some(name));
        }
        assert_eq!(decode_filename("%zz"), None);
        assert_eq!(decode_filename("%ff"), None, "not UTF-8");
        assert_eq!(decode_filename("%4"), None);
    }

    #[test]
    fn display_names_lose_paths_controls_and_leading_dots() {
        assert_eq!(display_filename("C:\\Users\\a\\labs.pdf"), "labs.pdf");
        assert_eq!(display_filename("../../etc/passwd"), "passwd");
        assert_eq!(display_filename("a\u{0}b\n.pdf"), "ab.pdf");
        assert_eq!(display_filename("  "), "document");
        assert_eq!(display_filename(".hidden"), "hidden");
        assert_eq!(display_filename("x\u{202e}fdp.exe"), "xfdp.exe");
        assert_eq!(
            display_filename(&"a".repeat(500)).chars().count(),
            MAX_FILENAME_CHARS
        );
    }

    #[test]
    fn test_names_are_grouped_by_letters_and_digits() {
        assert_eq!(normalise_test_name("Haemoglobin:"), "haemoglobin");
        assert_eq!(normalise_test_name("Glucose (fasting)"), "glucosefasting");
        assert_eq!(normalise_test_name("HbA1c"), "hba1c");
    }
}
