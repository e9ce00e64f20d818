//! What the payment pages and their server functions exchange.

use serde::{Deserialize, Serialize};

/// Where a payment stands. Only `Pending` ever changes; the others are final (except that a
/// payment `Expired` for want of any answer becomes `Paid` if M-Pesa's success arrives late:
/// the money moved, so the consultation goes ahead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Pending,
    Paid,
    Failed,
    Cancelled,
    Expired,
}

impl PaymentState {
    pub const ALL: [PaymentState; 5] = [
        PaymentState::Pending,
        PaymentState::Paid,
        PaymentState::Failed,
        PaymentState::Cancelled,
        PaymentState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Pending => "pending",
            PaymentState::Paid => "paid",
            PaymentState::Failed => "failed",
            PaymentState::Cancelled => "cancelled",
            PaymentState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentState> {
        PaymentState::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// One payment as its payer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentView {
    pub id: String,
    pub state: PaymentState,
    pub amount_kes: i64,
    /// M-Pesa's receipt number, once paid (absent when only a status query confirmed it).
    pub receipt: Option<String>,
    /// The payer's number with the middle hidden, e.g. `2547••••5678`.
    pub phone_hint: String,
    pub created_ms: i64,
    pub settled_ms: Option<i64>,
}

/// The payment step of one consultation, for its patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentPanel {
    pub consultation_id: String,
    /// What this consultation costs, fixed when it was requested.
    pub fee_kes: i64,
    /// The latest attempt, if any.
    pub latest: Option<PaymentView>,
    /// The patient's own number from their profile, to prefill the form.
    pub profile_phone: Option<String>,
}

/// One payment in the admins' table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminPayment {
    pub id: String,
    pub created_ms: i64,
    pub settled_ms: Option<i64>,
    pub state: PaymentState,
    pub amount_kes: i64,
    pub receipt: Option<String>,
    pub phone_hint: String,
    /// M-Pesa's ResultCode or Tabibu's own short code.
    pub result_code: Option<String>,
    pub consultation_id: Option<String>,
    pub provider: String,
    pub checkout_request_id: Option<String>,
}

/// The admins' payments page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentsOverview {
    pub rows: Vec<AdminPayment>,
    /// Payments and their sum in KES, per state, over the whole table.
    pub totals: Vec<(PaymentState, i64, i64)>,
    /// Callbacks that matched no payment (forged, or for a push whose answer was lost).
    pub unmatched_callbacks: i64,
}

/// `2547••••5678`: enough to recognise one's own number, not to read it off a screen.
pub fn phone_hint(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "••••".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in PaymentState::ALL {
            assert_eq!(PaymentState::parse(s.as_str()), Some(s));
        }
        assert_eq!(PaymentState::parse("refunded"), None);
    }

    #[test]
    fn a_phone_hint_hides_the_middle() {
        assert_eq!(phone_hint("254712345678"), "2547••••5678");
        assert_eq!(phone_hint("123"), "••••");
    }
}
