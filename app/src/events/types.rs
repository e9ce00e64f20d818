//! The live event as it travels to the browser.

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveEventKind {
    /// A consultation entered the queue.
    ConsultationOpened,
    /// A doctor claimed it (or it was reassigned to one).
    ConsultationClaimed,
    /// Its doctor let it go: it is back in the queue.
    ConsultationReleased,
    /// A new message in its thread.
    ConsultationMessage,
    /// The other side read the thread up to now.
    ConsultationRead,
    /// The doctor closed it.
    ConsultationClosed,
    /// Something else about it changed (its level was overridden, the patient cancelled).
    ConsultationUpdated,
    /// The other side is writing a message (not stored: see `hub::EventHub::announce`).
    ConsultationTyping,
}

impl LiveEventKind {
    pub const ALL: [LiveEventKind; 8] = [
        LiveEventKind::ConsultationOpened,
        LiveEventKind::ConsultationClaimed,
        LiveEventKind::ConsultationReleased,
        LiveEventKind::ConsultationMessage,
        LiveEventKind::ConsultationRead,
        LiveEventKind::ConsultationClosed,
        LiveEventKind::ConsultationUpdated,
        LiveEventKind::ConsultationTyping,
    ];

    /// The stored name, also the SSE `event:` field.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveEventKind::ConsultationOpened => "consultation_opened",
            LiveEventKind::ConsultationClaimed => "consultation_claimed",
            LiveEventKind::ConsultationReleased => "consultation_released",
            LiveEventKind::ConsultationMessage => "consultation_message",
            LiveEventKind::ConsultationRead => "consultation_read",
            LiveEventKind::ConsultationClosed => "consultation_closed",
            LiveEventKind::ConsultationUpdated => "consultation_updated",
            LiveEventKind::ConsultationTyping => "consultation_typing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        LiveEventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One event: its place in the order (0 for a passing signal that is not stored), what
/// happened, and to which consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub id: i64,
    pub kind: LiveEventKind,
    pub consultation_id: Option<String>,
    pub at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        for kind in LiveEventKind::ALL {
            assert_eq!(LiveEventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(LiveEventKind::parse("nonsense"), None);
    }
}
