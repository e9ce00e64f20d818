//! The assistant page's words, the triage levels' names and meanings, and its messages, in
//! every language. The engine's own reasons and advice are shown as the knowledge base
//! words them.

use crate::i18n::Translations;
use tabibu_ai::TriageLevel;

#[derive(Debug)]
pub struct AssistantText {
    pub nav: &'static str,
    pub title: &'static str,
    pub lead: &'static str,
    pub new_conversation: &'static str,
    pub your_conversations: &'static str,
    pub no_conversations: &'static str,
    pub not_assessed: &'static str,
    pub loading: &'static str,
    pub message_label: &'static str,
    pub message_hint: &'static str,
    pub answering: &'static str,
    pub send: &'static str,
    pub sending: &'static str,
    pub you: &'static str,
    pub assistant: &'static str,
    pub reply_cut: &'static str,
    pub retry: &'static str,
    pub emergency_title: &'static str,
    pub emergency_call: &'static str,
    pub emergency_also: &'static str,
    pub level_label: &'static str,
    pub reasons: &'static str,
    pub red_flags: &'static str,
    pub do_now: &'static str,
    pub safety_net: &'static str,
    pub questions: &'static str,
    pub questions_hint: &'static str,
    pub request_consultation: &'static str,
    pub consent_title: &'static str,
    pub consent_text: &'static str,
    pub consent_button: &'static str,
    pub consent_given: &'static str,
    pub emergency: LevelText,
    pub urgent: LevelText,
    pub routine: LevelText,
    pub self_care: LevelText,
}

/// A triage level as the patient reads it.
#[derive(Debug)]
pub struct LevelText {
    pub name: &'static str,
    pub meaning: &'static str,
    /// When to seek help sooner than the level says.
    pub safety_net: &'static str,
}

impl AssistantText {
    pub fn level(&self, level: TriageLevel) -> &LevelText {
        match level {
            TriageLevel::Emergency => &self.emergency,
            TriageLevel::Urgent => &self.urgent,
            TriageLevel::Routine => &self.routine,
            TriageLevel::SelfCare => &self.self_care,
        }
    }
}

pub static ASSISTANT: Translations<AssistantText> = Translations {
    en: AssistantText {
        nav: "Assistant",
        title: "Symptom assistant",
        lead: "Tell the assistant what is wrong, in your own words. It tells you how urgent it looks and what to do. It does not replace a doctor.",
        new_conversation: "New conversation",
        your_conversations: "Your conversations",
        no_conversations: "No conversations yet.",
        not_assessed: "Not assessed yet",
        loading: "Loading…",
        message_label: "Describe what is wrong",
        message_hint: "For example: what you feel, where, since when, and how bad it is.",
        answering: "You are answering:",
        send: "Send",
        sending: "The assistant is answering…",
        you: "You",
        assistant: "Assistant",
        reply_cut: "This reply was cut off.",
        retry: "Try again",
        emergency_title: "This may be an emergency.",
        emergency_call: "Call now:",
        emergency_also: "or",
        level_label: "How urgent",
        reasons: "Why",
        red_flags: "Danger signs",
        do_now: "What to do now",
        safety_net: "Seek help sooner if",
        questions: "To help further, please tell the assistant:",
        questions_hint: "Tap a question to answer it.",
        request_consultation: "Request a consultation",
        consent_title: "An AI model can help with the answers",
        consent_text: "With your permission, what you write (with names, phone numbers and emails removed) is also sent to an external AI model for a fuller reply. The built-in assistant always checks how urgent it is. Without your permission, only the built-in assistant answers.",
        consent_button: "I agree",
        consent_given: "Thank you. The AI model will help with your next message.",
        emergency: LevelText {
            name: "Emergency",
            meaning: "Call an ambulance or go to an emergency department now.",
            safety_net: "you cannot get through on the phone: go to the nearest hospital at once, and do not drive yourself.",
        },
        urgent: LevelText {
            name: "Urgent",
            meaning: "See a doctor within 24 hours.",
            safety_net: "it gets worse, or you have trouble breathing, chest pain, confusion or heavy bleeding: get emergency care now.",
        },
        routine: LevelText {
            name: "Routine",
            meaning: "See a doctor; this is not urgent.",
            safety_net: "new symptoms appear or it gets worse: see a doctor sooner, today if needed.",
        },
        self_care: LevelText {
            name: "Self-care",
            meaning: "You can manage this at home.",
            safety_net: "it gets worse, you are not better in a few days, or you notice a high fever, trouble breathing or anything that worries you: see a doctor.",
        },
    },
    sw: AssistantText {
        nav: "Msaidizi",
        title: "Msaidizi wa dalili",
        lead: "Mweleze msaidizi tatizo lako kwa maneno yako mwenyewe. Atakuambia jinsi lilivyo la dharura na cha kufanya. Hachukui nafasi ya daktari.",
        new_conversation: "Mazungumzo mapya",
        your_conversations: "Mazungumzo yako",
        no_conversations: "Bado hakuna mazungumzo.",
        not_assessed: "Bado haijatathminiwa",
        loading: "Inapakia…",
        message_label: "Eleza tatizo lako",
        message_hint: "Kwa mfano: unachohisi, wapi, tangu lini, na ukali wake.",
        answering: "Unajibu:",
        send: "Tuma",
        sending: "Msaidizi anajibu…",
        you: "Wewe",
        assistant: "Msaidizi",
        reply_cut: "Jibu hili lilikatika.",
        retry: "Jaribu tena",
        emergency_title: "Hii inaweza kuwa dharura.",
        emergency_call: "Piga simu sasa:",
        emergency_also: "au",
        level_label: "Kiwango cha dharura",
        reasons: "Kwa nini",
        red_flags: "Dalili za hatari",
        do_now: "Cha kufanya sasa",
        safety_net: "Tafuta msaada mapema zaidi ikiwa",
        questions: "Ili kusaidia zaidi, tafadhali mweleze msaidizi:",
        questions_hint: "Gusa swali ili kulijibu.",
        request_consultation: "Omba ushauri wa daktari",
        consent_title: "Modeli ya AI inaweza kusaidia kujibu",
        consent_text: "Ukiruhusu, unachoandika (bila majina, nambari za simu na barua pepe) kitatumwa pia kwa modeli ya AI ya nje ili upate jibu kamili zaidi. Msaidizi wa ndani hukagua kila mara kiwango cha dharura. Usiporuhusu, msaidizi wa ndani pekee ndiye atajibu.",
        consent_button: "Nakubali",
        consent_given: "Asante. Modeli ya AI itasaidia katika ujumbe wako unaofuata.",
        emergency: LevelText {
            name: "Dharura",
            meaning: "Piga simu ya gari la wagonjwa au nenda idara ya dharura sasa hivi.",
            safety_net: "huwezi kupata mtu kwa simu: nenda hospitali iliyo karibu mara moja, na usiendeshe gari mwenyewe.",
        },
        urgent: LevelText {
            name: "Haraka",
            meaning: "Muone daktari ndani ya saa 24.",
            safety_net: "hali inazidi, au una shida ya kupumua, maumivu ya kifua, kuchanganyikiwa au kuvuja damu nyingi: pata huduma ya dharura sasa.",
        },
        routine: LevelText {
            name: "Kawaida",
            meaning: "Muone daktari; si jambo la haraka.",
            safety_net: "dalili mpya zinatokea au hali inazidi: muone daktari mapema, leo ikihitajika.",
        },
        self_care: LevelText {
            name: "Kujitunza",
            meaning: "Unaweza kujitunza nyumbani.",
            safety_net: "hali inazidi, hujapata nafuu baada ya siku chache, au una homa kali, shida ya kupumua au chochote kinachokutia wasiwasi: muone daktari.",
        },
    },
};

/// Messages: key, English, Swahili.
pub static MESSAGES: &[(&str, &str, &str)] = &[
    (
        "assistant.empty",
        "Write something first: what is wrong?",
        "Andika kitu kwanza: tatizo ni nini?",
    ),
    (
        "assistant.too_long",
        "This message is too long for the assistant to read. Keep it under 20,000 characters, or send it in parts.",
        "Ujumbe huu ni mrefu mno kwa msaidizi kusoma. Uweke chini ya herufi 20,000, au utume kwa sehemu.",
    ),
    (
        "assistant.id_taken",
        "This message could not be sent. Reload the page and try again.",
        "Ujumbe huu haukuweza kutumwa. Pakia ukurasa upya ujaribu tena.",
    ),
    (
        "assistant.no_provider",
        "No external AI model is in use, so there is nothing to agree to.",
        "Hakuna modeli ya AI ya nje inayotumika, kwa hiyo hakuna cha kukubali.",
    ),
    (
        "assistant.stream_failed",
        "The answer did not arrive. Check your connection and try again.",
        "Jibu halikufika. Angalia mtandao wako ujaribu tena.",
    ),
];
