//! Types shared by the server and the browser.
use serde::{Deserialize, Serialize};

/// How urgently a patient needs care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageLevel {
    Emergency,
    Urgent,
    Routine,
    SelfCare,
}
