//! The "My data" page's words and messages, in every language.

use crate::i18n::Translations;

#[derive(Debug)]
pub struct RecordsText {
    pub title: &'static str,
    pub lead: &'static str,
    pub timeline_title: &'static str,
    pub timeline_empty: &'static str,
    pub loading: &'static str,
    pub kind_conversation: &'static str,
    pub kind_triage: &'static str,
    pub kind_document: &'static str,
    pub kind_consultation: &'static str,
    pub kind_payment: &'static str,
    pub open: &'static str,
    pub export_title: &'static str,
    pub export_lead: &'static str,
    pub export_button: &'static str,
    pub delete_title: &'static str,
    pub delete_lead: &'static str,
    pub password: &'static str,
    pub confirm_label: &'static str,
    pub delete_button: &'static str,
    pub deleted: &'static str,
    pub level_emergency: &'static str,
    pub level_urgent: &'static str,
    pub level_routine: &'static str,
    pub level_self_care: &'static str,
}

/// The word a patient types to confirm deleting their account, in either language.
pub fn is_confirmation(typed: &str) -> bool {
    let typed = typed.trim();
    [RECORDS.en.confirm_word(), RECORDS.sw.confirm_word()]
        .iter()
        .any(|w| typed.eq_ignore_ascii_case(w))
}

impl RecordsText {
    /// The confirmation word, as quoted in `confirm_label`.
    pub fn confirm_word(&self) -> &'static str {
        self.confirm_label
            .split('"')
            .nth(1)
            .unwrap_or(self.confirm_label)
    }
}

pub static RECORDS: Translations<RecordsText> = Translations {
    en: RecordsText {
        title: "My data",
        lead: "Everything Tabibu keeps about you, in one place: your history, a copy to take with you, and the way to delete it all.",
        timeline_title: "Your history",
        timeline_empty: "Nothing here yet. Your conversations, documents and consultations will appear here.",
        loading: "Loading…",
        kind_conversation: "Conversation with the assistant",
        kind_triage: "Triage result",
        kind_document: "Document uploaded",
        kind_consultation: "Consultation",
        kind_payment: "Payment",
        open: "Open",
        export_title: "Download your record",
        export_lead: "A file in the FHIR R4 standard that other clinics' systems can read: your profile, conversations, documents, lab values and consultations.",
        export_button: "Download my record (FHIR JSON)",
        delete_title: "Delete your account",
        delete_lead: "This removes your account, profile, conversations, documents and consultations for good. The security log keeps a record that things happened, without your name.",
        password: "Your password",
        confirm_label: "Type \"DELETE\" to confirm",
        delete_button: "Delete my account and data",
        deleted: "Your account and data are deleted.",
        level_emergency: "Emergency",
        level_urgent: "Urgent",
        level_routine: "Routine",
        level_self_care: "Self-care",
    },
    sw: RecordsText {
        title: "Data yangu",
        lead: "Kila kitu Tabibu inachohifadhi kukuhusu, mahali pamoja: historia yako, nakala ya kuchukua, na njia ya kufuta yote.",
        timeline_title: "Historia yako",
        timeline_empty: "Bado hakuna kitu hapa. Mazungumzo, nyaraka na mashauriano yako yataonekana hapa.",
        loading: "Inapakia…",
        kind_conversation: "Mazungumzo na msaidizi",
        kind_triage: "Matokeo ya tathmini",
        kind_document: "Hati imepakiwa",
        kind_consultation: "Mashauriano",
        kind_payment: "Malipo",
        open: "Fungua",
        export_title: "Pakua rekodi yako",
        export_lead: "Faili la kiwango cha FHIR R4 ambalo mifumo ya kliniki nyingine inaweza kusoma: wasifu, mazungumzo, nyaraka, vipimo vya maabara na mashauriano yako.",
        export_button: "Pakua rekodi yangu (FHIR JSON)",
        delete_title: "Futa akaunti yako",
        delete_lead: "Hii inaondoa akaunti, wasifu, mazungumzo, nyaraka na mashauriano yako kabisa. Kumbukumbu ya usalama inabaki na rekodi kwamba mambo yalitokea, bila jina lako.",
        password: "Nenosiri lako",
        confirm_label: "Andika \"FUTA\" kuthibitisha",
        delete_button: "Futa akaunti na data yangu",
        deleted: "Akaunti na data yako zimefutwa.",
        level_emergency: "Dharura",
        level_urgent: "Haraka",
        level_routine: "Kawaida",
        level_self_care: "Kujitunza",
    },
};

/// Validation messages: key, English, Swahili.
pub static MESSAGES: &[(&str, &str, &str)] = &[(
    "delete.confirm_word",
    "Type the word shown to confirm.",
    "Andika neno lililoonyeshwa kuthibitisha.",
)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_word_is_accepted_in_either_language_and_case() {
        assert!(is_confirmation("DELETE"));
        assert!(is_confirmation(" delete "));
        assert!(is_confirmation("futa"));
        assert!(!is_confirmation("yes"));
        assert!(!is_confirmation(""));
    }
}
