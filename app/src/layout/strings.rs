//! The layout's words in every language.

use crate::i18n::Translations;

#[derive(Debug)]
pub struct LayoutText {
    pub skip_to_content: &'static str,
    pub language_label: &'static str,
    pub emergency_label: &'static str,
    pub emergency_prefix: &'static str,
    pub emergency_also: &'static str,
    pub footer_disclaimer: &'static str,
}

pub static LAYOUT: Translations<LayoutText> = Translations {
    en: LayoutText {
        skip_to_content: "Skip to content",
        language_label: "Language",
        emergency_label: "Emergency",
        emergency_prefix: "Emergency? Call",
        emergency_also: "or",
        footer_disclaimer: "Tabibu helps you decide how urgently to seek care and connects you \
                            with a doctor. It does not replace emergency services.",
    },
    sw: LayoutText {
        skip_to_content: "Ruka hadi maudhui",
        language_label: "Lugha",
        emergency_label: "Dharura",
        emergency_prefix: "Dharura? Piga",
        emergency_also: "au",
        footer_disclaimer: "Tabibu hukusaidia kuamua jinsi unavyohitaji huduma kwa haraka na \
                            hukuunganisha na daktari. Haichukui nafasi ya huduma za dharura.",
    },
};
