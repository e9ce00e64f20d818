//! The timeline as both halves see it.

use serde::{Deserialize, Serialize};

/// What a timeline item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Conversation,
    TriageResult,
    Document,
    Consultation,
    Payment,
}

/// One thing that happened in the patient's history. It names what and when, and links to
/// the page that shows it; the content stays on that page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineItem {
    pub kind: TimelineKind,
    pub at_ms: i64,
    /// Where the patient sees it (a path in this app).
    pub link: String,
    /// A short machine value shown translated: a triage level, a consultation status.
    pub detail: Option<String>,
}
