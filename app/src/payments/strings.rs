//! The payment pages' words, in English and Swahili.

use super::types::PaymentState;
use crate::i18n::Translations;

#[derive(Debug)]
pub struct PaymentText {
    pub title: &'static str,
    /// `{amount}` is replaced by the fee.
    pub fee_line: &'static str,
    pub explain: &'static str,
    pub phone_label: &'static str,
    pub phone_hint: &'static str,
    pub pay: &'static str,
    pub paying: &'static str,
    pub check_phone_title: &'static str,
    /// `{phone}` is replaced by the masked number.
    pub check_phone: &'static str,
    pub paid_title: &'static str,
    pub paid_line: &'static str,
    pub receipt: &'static str,
    pub receipt_pending: &'static str,
    pub cancelled_line: &'static str,
    pub failed_line: &'static str,
    pub expired_line: &'static str,
    pub try_again: &'static str,
    pub state_pending: &'static str,
    pub state_paid: &'static str,
    pub state_failed: &'static str,
    pub state_cancelled: &'static str,
    pub state_expired: &'static str,
    // The admins' page.
    pub admin_title: &'static str,
    pub admin_intro: &'static str,
    pub filter_label: &'static str,
    pub filter_all: &'static str,
    pub show: &'static str,
    pub export: &'static str,
    pub col_when: &'static str,
    pub col_state: &'static str,
    pub col_amount: &'static str,
    pub col_receipt: &'static str,
    pub col_phone: &'static str,
    pub col_code: &'static str,
    pub col_consultation: &'static str,
    pub totals_title: &'static str,
    pub col_count: &'static str,
    pub col_sum: &'static str,
    pub unmatched: &'static str,
    pub none: &'static str,
    pub loading: &'static str,
}

impl PaymentText {
    pub fn state(&self, state: PaymentState) -> &'static str {
        match state {
            PaymentState::Pending => self.state_pending,
            PaymentState::Paid => self.state_paid,
            PaymentState::Failed => self.state_failed,
            PaymentState::Cancelled => self.state_cancelled,
            PaymentState::Expired => self.state_expired,
        }
    }
}

pub static PAYMENTS: Translations<PaymentText> = Translations {
    en: PaymentText {
        title: "Pay for this consultation",
        fee_line: "The consultation fee is KES {amount}.",
        explain: "Your request reaches the doctors as soon as the fee is paid. Enter the \
                  M-Pesa number to pay from; M-Pesa will ask you on that phone to confirm \
                  with your PIN.",
        phone_label: "M-Pesa phone number",
        phone_hint: "A Safaricom number, e.g. 0712 345 678.",
        pay: "Pay with M-Pesa",
        paying: "Sending the request to M-Pesa…",
        check_phone_title: "Check your phone",
        check_phone: "M-Pesa has sent a payment request to {phone}. Enter your M-Pesa PIN on \
                      the phone to pay. This page updates by itself.",
        paid_title: "Paid",
        paid_line: "Thank you: the fee is paid and your request is in the doctors' queue.",
        receipt: "M-Pesa receipt",
        receipt_pending: "M-Pesa confirmed the payment; the receipt number was not sent.",
        cancelled_line: "The payment was cancelled on the phone. Nothing was charged.",
        failed_line: "The payment did not go through. Nothing was charged.",
        expired_line: "The payment request expired before it was answered.",
        try_again: "You can try again.",
        state_pending: "waiting for payment",
        state_paid: "paid",
        state_failed: "failed",
        state_cancelled: "cancelled",
        state_expired: "expired",
        admin_title: "Payments",
        admin_intro: "Consultation fees paid with M-Pesa. Phone numbers are partly hidden; \
                      the receipt number is M-Pesa's.",
        filter_label: "State",
        filter_all: "all",
        show: "Show",
        export: "Download all as CSV",
        col_when: "Requested (UTC)",
        col_state: "State",
        col_amount: "KES",
        col_receipt: "Receipt",
        col_phone: "Phone",
        col_code: "Result code",
        col_consultation: "Consultation",
        totals_title: "Totals",
        col_count: "Payments",
        col_sum: "Sum (KES)",
        unmatched: "Callbacks that matched no payment",
        none: "No payments yet.",
        loading: "Loading…",
    },
    sw: PaymentText {
        title: "Lipia shauriano hili",
        fee_line: "Ada ya shauriano ni KES {amount}.",
        explain: "Ombi lako litawafikia madaktari mara tu ada itakapolipwa. Weka namba ya \
                  M-Pesa utakayolipa nayo; M-Pesa itakuomba kwenye simu hiyo uthibitishe kwa \
                  PIN yako.",
        phone_label: "Namba ya simu ya M-Pesa",
        phone_hint: "Namba ya Safaricom, mfano 0712 345 678.",
        pay: "Lipa kwa M-Pesa",
        paying: "Tunatuma ombi kwa M-Pesa…",
        check_phone_title: "Angalia simu yako",
        check_phone: "M-Pesa imetuma ombi la malipo kwa {phone}. Weka PIN yako ya M-Pesa \
                      kwenye simu ili ulipe. Ukurasa huu utajisasisha wenyewe.",
        paid_title: "Imelipwa",
        paid_line: "Asante: ada imelipwa na ombi lako liko kwenye foleni ya madaktari.",
        receipt: "Risiti ya M-Pesa",
        receipt_pending: "M-Pesa imethibitisha malipo; namba ya risiti haikutumwa.",
        cancelled_line: "Malipo yalighairiwa kwenye simu. Hakuna kilichotozwa.",
        failed_line: "Malipo hayakufanikiwa. Hakuna kilichotozwa.",
        expired_line: "Ombi la malipo liliisha muda kabla ya kujibiwa.",
        try_again: "Unaweza kujaribu tena.",
        state_pending: "inasubiri malipo",
        state_paid: "imelipwa",
        state_failed: "imeshindikana",
        state_cancelled: "imeghairiwa",
        state_expired: "imeisha muda",
        admin_title: "Malipo",
        admin_intro: "Ada za mashauriano zilizolipwa kwa M-Pesa. Namba za simu zimefichwa \
                      kwa sehemu; namba ya risiti ni ya M-Pesa.",
        filter_label: "Hali",
        filter_all: "yote",
        show: "Onyesha",
        export: "Pakua yote kama CSV",
        col_when: "Iliombwa (UTC)",
        col_state: "Hali",
        col_amount: "KES",
        col_receipt: "Risiti",
        col_phone: "Simu",
        col_code: "Msimbo wa matokeo",
        col_consultation: "Shauriano",
        totals_title: "Jumla",
        col_count: "Malipo",
        col_sum: "Jumla (KES)",
        unmatched: "Majibu ya M-Pesa yasiyolingana na malipo yoyote",
        none: "Bado hakuna malipo.",
        loading: "Inapakia…",
    },
};

/// Error messages of the payment server functions: key, English, Swahili.
pub static MESSAGES: &[(&str, &str, &str)] = &[
    (
        "payment.phone_not_mpesa",
        "Enter a Kenyan mobile number that has M-Pesa, e.g. 0712 345 678.",
        "Weka namba ya simu ya Kenya yenye M-Pesa, mfano 0712 345 678.",
    ),
    (
        "payment.already_paid",
        "This consultation is already paid for.",
        "Shauriano hili tayari limelipiwa.",
    ),
    (
        "payment.not_due",
        "This consultation does not need a payment.",
        "Shauriano hili halihitaji malipo.",
    ),
    (
        "payment.provider_unavailable",
        "M-Pesa could not take the request just now. Nothing was charged; please try again \
         in a moment.",
        "M-Pesa haikuweza kupokea ombi sasa hivi. Hakuna kilichotozwa; tafadhali jaribu tena \
         baada ya muda mfupi.",
    ),
];
