//! The profile page's words and its validation messages, in every language.

use crate::i18n::Translations;

#[derive(Debug)]
pub struct ProfileText {
    pub title: &'static str,
    pub lead: &'static str,
    pub date_of_birth: &'static str,
    pub sex: &'static str,
    pub sex_unset: &'static str,
    pub female: &'static str,
    pub male: &'static str,
    pub other: &'static str,
    pub pregnant: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub not_sure: &'static str,
    pub allergies: &'static str,
    pub medications: &'static str,
    pub conditions: &'static str,
    pub list_hint: &'static str,
    pub phone: &'static str,
    pub phone_hint: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub loading: &'static str,
}

pub static PROFILE: Translations<ProfileText> = Translations {
    en: ProfileText {
        title: "Health profile",
        lead: "What you tell us here helps the assistant and your doctor give safer advice. Leave out anything you prefer not to share.",
        date_of_birth: "Date of birth",
        sex: "Sex",
        sex_unset: "Prefer not to say",
        female: "Female",
        male: "Male",
        other: "Other",
        pregnant: "Are you pregnant?",
        yes: "Yes",
        no: "No",
        not_sure: "Not sure",
        allergies: "Allergies",
        medications: "Medicines you take",
        conditions: "Long-term conditions",
        list_hint: "One per line.",
        phone: "Mobile phone number",
        phone_hint: "For M-Pesa payments, e.g. 0712 345 678.",
        save: "Save profile",
        saved: "Your profile is saved.",
        loading: "Loading your profile…",
    },
    sw: ProfileText {
        title: "Wasifu wa afya",
        lead: "Unachotueleza hapa kinamsaidia msaidizi na daktari wako kukupa ushauri salama zaidi. Acha chochote usichopenda kushiriki.",
        date_of_birth: "Tarehe ya kuzaliwa",
        sex: "Jinsia",
        sex_unset: "Sipendi kusema",
        female: "Mwanamke",
        male: "Mwanamume",
        other: "Nyingine",
        pregnant: "Je, una mimba?",
        yes: "Ndiyo",
        no: "Hapana",
        not_sure: "Sina uhakika",
        allergies: "Mzio",
        medications: "Dawa unazotumia",
        conditions: "Magonjwa ya muda mrefu",
        list_hint: "Moja kwa kila mstari.",
        phone: "Nambari ya simu ya mkononi",
        phone_hint: "Kwa malipo ya M-Pesa, mfano 0712 345 678.",
        save: "Hifadhi wasifu",
        saved: "Wasifu wako umehifadhiwa.",
        loading: "Inapakia wasifu wako…",
    },
};

/// Validation messages: key, English, Swahili.
pub static MESSAGES: &[(&str, &str, &str)] = &[
    (
        "phone.required",
        "Enter your phone number.",
        "Weka nambari yako ya simu.",
    ),
    (
        "phone.invalid",
        "Enter a phone number like 0712 345 678 or +254 712 345 678.",
        "Weka nambari ya simu kama 0712 345 678 au +254 712 345 678.",
    ),
    (
        "phone.invalid_kenyan",
        "This is not a Kenyan mobile number. Mobile numbers start with 07 or 01 and have 10 digits.",
        "Hii si nambari ya simu ya mkononi ya Kenya. Nambari huanza na 07 au 01 na zina tarakimu 10.",
    ),
    (
        "sex.invalid",
        "Choose one of the options.",
        "Chagua mojawapo ya chaguo.",
    ),
    (
        "pregnant.invalid",
        "Choose yes, no or not sure.",
        "Chagua ndiyo, hapana au sina uhakika.",
    ),
    (
        "list.item_too_long",
        "Keep each entry under 120 characters.",
        "Kila kipengele kiwe chini ya herufi 120.",
    ),
    (
        "list.too_many",
        "List at most 30 entries.",
        "Orodhesha vipengele visivyozidi 30.",
    ),
    (
        "list.invalid",
        "Remove the unusual characters from this list.",
        "Ondoa herufi zisizo za kawaida kwenye orodha hii.",
    ),
];
