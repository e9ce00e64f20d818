//! What the consultation pages and their server functions exchange.

use serde::{Deserialize, Serialize};
use tabibu_ai::{PreConsultSummary, TriageLevel, TriageResult};

/// Where a consultation stands. `waiting` → `claimed` (a doctor took it) → `replied` (the
/// doctor wrote) → `closed`; a claimed case can be released back to `waiting`. When a fee is
/// set, a new consultation starts in `awaiting_payment` and enters the queue (`waiting`) once
/// paid (see `crate::payments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    AwaitingPayment,
    Waiting,
    Claimed,
    Replied,
    Closed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::AwaitingPayment,
        Status::Waiting,
        Status::Claimed,
        Status::Replied,
        Status::Closed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingPayment => "awaiting_payment",
            Status::Waiting => "waiting",
            Status::Claimed => "claimed",
            Status::Replied => "replied",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether messages may still be written.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Waiting | Status::Claimed | Status::Replied)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Patient,
    Doctor,
}

/// One consultation in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsultationSummary {
    pub id: String,
    pub status: Status,
    pub level: TriageLevel,
    pub chief_complaint: String,
    /// The doctor's display name once one has claimed it.
    pub doctor_name: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One message of the thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadMessage {
    pub id: String,
    pub seq: i64,
    pub author: Author,
    /// Whether the person looking wrote it.
    pub mine: bool,
    pub body: String,
    pub sent_ms: i64,
    /// When the other side first read it.
    pub read_ms: Option<i64>,
}

/// How the doctor closed it: what the patient sees at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closing {
    pub outcome: String,
    pub final_level: TriageLevel,
    pub advice: String,
    pub closed_ms: i64,
}

/// A whole consultation as its patient sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsultationDetail {
    pub summary: ConsultationSummary,
    pub note: String,
    pub messages: Vec<ThreadMessage>,
    pub closing: Option<Closing>,
}

/// One open case in the doctors' queue: enough to choose, nothing more (the full case is
/// only for the doctor who claims it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub id: String,
    pub status: Status,
    pub level: TriageLevel,
    pub red_flag: bool,
    pub age_years: Option<u32>,
    pub sex: Option<String>,
    pub chief_complaint: String,
    /// The rules that set the level, in words.
    pub reasons: Vec<String>,
    /// When it entered the queue; the page counts the waiting time from it.
    pub waiting_since_ms: i64,
    /// The fee paid for it in KES; `None` when it was free.
    pub fee_paid_kes: Option<i64>,
    pub doctor_name: Option<String>,
    /// Claimed by the doctor looking.
    pub mine: bool,
}

/// A private clinical note on a case; patients never see these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareNote {
    pub id: String,
    pub author_name: String,
    pub body: String,
    pub created_ms: i64,
}

/// A doctor a case can be handed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorOption {
    pub id: String,
    pub name: String,
}

/// One break-glass grant, for the admins' review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassEntry {
    pub consultation_id: String,
    pub doctor_name: String,
    pub reason: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// One line of the patient's conversation with the assistant, as the doctor reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// `true` for the patient's words, `false` for the assistant's.
    pub from_patient: bool,
    pub body: String,
    pub sent_ms: i64,
}

/// The full case, for the doctor it is assigned to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseDetail {
    pub consultation: ConsultationDetail,
    /// The doctor holds it (may write, close, hand over); `false` when reading through a
    /// break-glass grant.
    pub mine: bool,
    pub notes: Vec<CareNote>,
    /// The documents the patient shared with this consultation, and the lab values in them.
    pub documents: Vec<crate::documents::types::DocumentSummary>,
    pub labs: Vec<crate::documents::types::LabResult>,
    /// The assistant conversation the request came from, if any.
    pub transcript: Vec<TranscriptLine>,
    /// Why the level was overridden, when it was.
    pub override_reason: Option<String>,
    /// The patient's other consultations, newest first.
    pub earlier: Vec<ConsultationSummary>,
    pub patient_name: String,
    pub age_years: Option<u32>,
    pub sex: Option<String>,
    pub pregnant: Option<bool>,
    pub allergies: Vec<String>,
    pub medications: Vec<String>,
    pub conditions: Vec<String>,
    pub triage: TriageResult,
    pub ai_summary: PreConsultSummary,
}

/// A case a doctor holds, for the admins' oversight: no patient data, only who holds it and
/// since when, so a stale claim can be put back in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCase {
    pub id: String,
    pub status: Status,
    pub level: TriageLevel,
    pub doctor_name: String,
    pub claimed_ms: i64,
    pub updated_ms: i64,
}
