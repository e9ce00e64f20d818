//! The landing page's words in every language.

use crate::i18n::Translations;

#[derive(Debug)]
pub struct LandingText {
    pub page_title: &'static str,
    pub headline: &'static str,
    pub lead: &'static str,
    pub features_heading: &'static str,
    /// Title and one sentence for each thing Tabibu does.
    pub features: [(&'static str, &'static str); 3],
}

pub static LANDING: Translations<LandingText> = Translations {
    en: LandingText {
        page_title: "Tabibu: know how urgent it is, and reach a doctor",
        headline: "Know how urgent it is. Reach a doctor.",
        lead: "Describe what you feel in your own words. Tabibu tells you how soon you need \
               care and why, and a doctor can take your case from there.",
        features_heading: "What Tabibu does",
        features: [
            (
                "Safe triage, even offline",
                "Danger signs are recognised at once and shown with the emergency number.",
            ),
            (
                "A doctor who sees the whole picture",
                "Your description, documents and lab results reach the doctor in one place.",
            ),
            (
                "Pay with M-Pesa",
                "Consultation fees are paid from your phone in seconds.",
            ),
        ],
    },
    sw: LandingText {
        page_title: "Tabibu: jua uharaka wa tatizo lako, umfikie daktari",
        headline: "Jua uharaka wa tatizo lako. Mfikie daktari.",
        lead: "Eleza unavyojisikia kwa maneno yako mwenyewe. Tabibu inakuambia unahitaji huduma \
               kwa haraka kiasi gani na kwa nini, na daktari anaweza kuendelea na kesi yako.",
        features_heading: "Tabibu inafanya nini",
        features: [
            (
                "Tathmini salama, hata bila mtandao",
                "Dalili za hatari zinatambuliwa mara moja na kuonyeshwa pamoja na nambari ya dharura.",
            ),
            (
                "Daktari anayeona picha kamili",
                "Maelezo yako, nyaraka na matokeo ya vipimo humfikia daktari mahali pamoja.",
            ),
            (
                "Lipa kwa M-Pesa",
                "Ada ya mashauriano hulipwa kutoka kwa simu yako kwa sekunde.",
            ),
        ],
    },
};
