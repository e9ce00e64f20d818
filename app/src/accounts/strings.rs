//! The account pages' words, and the messages for the keys that validation and the server
//! send back, in every language.

use crate::i18n::{Locale, Translations};

#[derive(Debug)]
pub struct AccountsText {
    pub sign_up_title: &'static str,
    pub sign_up_lead: &'static str,
    pub sign_in_title: &'static str,
    pub code_title: &'static str,
    pub code_lead: &'static str,
    pub forgot_title: &'static str,
    pub forgot_lead: &'static str,
    pub forgot_sent: &'static str,
    pub reset_title: &'static str,
    pub reset_done: &'static str,
    pub account_title: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub date_of_birth: &'static str,
    pub password: &'static str,
    pub password_hint: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub code: &'static str,
    pub submit_sign_up: &'static str,
    pub submit_sign_in: &'static str,
    pub submit_code: &'static str,
    pub submit_forgot: &'static str,
    pub submit_reset: &'static str,
    pub submit_change_password: &'static str,
    pub forgot_link: &'static str,
    pub have_account: &'static str,
    pub no_account: &'static str,
    pub sign_in: &'static str,
    pub sign_up: &'static str,
    pub sign_out: &'static str,
    pub account: &'static str,
    pub working: &'static str,
    pub password_changed: &'static str,
    pub mfa_heading: &'static str,
    pub mfa_on: &'static str,
    pub mfa_off: &'static str,
    pub mfa_required_notice: &'static str,
    pub mfa_start: &'static str,
    pub mfa_secret_label: &'static str,
    pub mfa_confirm: &'static str,
    pub mfa_disable: &'static str,
    pub mfa_codes_heading: &'static str,
    pub mfa_codes_lead: &'static str,
    pub sessions_heading: &'static str,
    pub this_device: &'static str,
    pub signed_in_at: &'static str,
    pub last_active: &'static str,
    pub sign_out_everywhere: &'static str,
    pub role_patient: &'static str,
    pub role_doctor: &'static str,
    pub role_admin: &'static str,
}

pub static ACCOUNTS: Translations<AccountsText> = Translations {
    en: AccountsText {
        sign_up_title: "Create your account",
        sign_up_lead: "Your account keeps your conversations, documents and consultations in one place.",
        sign_in_title: "Sign in",
        code_title: "Enter your code",
        code_lead: "Open your authenticator app and type the 6-digit code for Tabibu, or one of your recovery codes.",
        forgot_title: "Forgot your password?",
        forgot_lead: "Enter your email address. If it belongs to an account, we will send a link to choose a new password.",
        forgot_sent: "If that address belongs to an account, a link is on its way. It works once, for 30 minutes.",
        reset_title: "Choose a new password",
        reset_done: "Your password is changed. Sign in with the new one.",
        account_title: "Your account",
        name: "Full name",
        email: "Email address",
        date_of_birth: "Date of birth",
        password: "Password",
        password_hint: "At least 12 characters. A few unrelated words make a strong password.",
        current_password: "Current password",
        new_password: "New password",
        code: "Code",
        submit_sign_up: "Create account",
        submit_sign_in: "Sign in",
        submit_code: "Continue",
        submit_forgot: "Send the link",
        submit_reset: "Save the new password",
        submit_change_password: "Change password",
        forgot_link: "Forgot your password?",
        have_account: "Already have an account?",
        no_account: "New to Tabibu?",
        sign_in: "Sign in",
        sign_up: "Create account",
        sign_out: "Sign out",
        account: "Account",
        working: "Please wait…",
        password_changed: "Password changed.",
        mfa_heading: "Two-factor sign-in",
        mfa_on: "On: signing in needs a code from your authenticator app.",
        mfa_off: "Off. Turn it on so that a stolen password is not enough to get in.",
        mfa_required_notice: "Your role requires two-factor sign-in. Turn it on to continue.",
        mfa_start: "Turn on two-factor sign-in",
        mfa_secret_label: "Add this key to your authenticator app, then type the code it shows:",
        mfa_confirm: "Confirm",
        mfa_disable: "Turn off (asks for your password)",
        mfa_codes_heading: "Your recovery codes",
        mfa_codes_lead: "Keep these somewhere safe. Each works once if you lose your phone. They are shown only now.",
        sessions_heading: "Where you are signed in",
        this_device: "this device",
        signed_in_at: "signed in",
        last_active: "last active",
        sign_out_everywhere: "Sign out everywhere",
        role_patient: "Patient",
        role_doctor: "Doctor",
        role_admin: "Administrator",
    },
    sw: AccountsText {
        sign_up_title: "Fungua akaunti yako",
        sign_up_lead: "Akaunti yako inahifadhi mazungumzo, nyaraka na mashauriano yako mahali pamoja.",
        sign_in_title: "Ingia",
        code_title: "Weka msimbo wako",
        code_lead: "Fungua programu yako ya uthibitishaji na uandike msimbo wa tarakimu 6 wa Tabibu, au mojawapo ya misimbo yako ya dharura.",
        forgot_title: "Umesahau nenosiri?",
        forgot_lead: "Weka anwani yako ya barua pepe. Ikiwa ni ya akaunti, tutatuma kiungo cha kuchagua nenosiri jipya.",
        forgot_sent: "Ikiwa anwani hiyo ni ya akaunti, kiungo kinakuja. Kinafanya kazi mara moja, kwa dakika 30.",
        reset_title: "Chagua nenosiri jipya",
        reset_done: "Nenosiri lako limebadilishwa. Ingia kwa nenosiri jipya.",
        account_title: "Akaunti yako",
        name: "Jina kamili",
        email: "Barua pepe",
        date_of_birth: "Tarehe ya kuzaliwa",
        password: "Nenosiri",
        password_hint: "Angalau herufi 12. Maneno machache yasiyohusiana hufanya nenosiri imara.",
        current_password: "Nenosiri la sasa",
        new_password: "Nenosiri jipya",
        code: "Msimbo",
        submit_sign_up: "Fungua akaunti",
        submit_sign_in: "Ingia",
        submit_code: "Endelea",
        submit_forgot: "Tuma kiungo",
        submit_reset: "Hifadhi nenosiri jipya",
        submit_change_password: "Badilisha nenosiri",
        forgot_link: "Umesahau nenosiri?",
        have_account: "Una akaunti tayari?",
        no_account: "Mgeni kwa Tabibu?",
        sign_in: "Ingia",
        sign_up: "Fungua akaunti",
        sign_out: "Toka",
        account: "Akaunti",
        working: "Tafadhali subiri…",
        password_changed: "Nenosiri limebadilishwa.",
        mfa_heading: "Kuingia kwa hatua mbili",
        mfa_on: "Imewashwa: kuingia kunahitaji msimbo kutoka kwa programu yako ya uthibitishaji.",
        mfa_off: "Imezimwa. Iwashe ili nenosiri lililoibiwa lisitoshe kuingia.",
        mfa_required_notice: "Wadhifa wako unahitaji kuingia kwa hatua mbili. Iwashe ili kuendelea.",
        mfa_start: "Washa kuingia kwa hatua mbili",
        mfa_secret_label: "Ongeza ufunguo huu kwenye programu yako ya uthibitishaji, kisha uandike msimbo inaoonyesha:",
        mfa_confirm: "Thibitisha",
        mfa_disable: "Zima (inauliza nenosiri lako)",
        mfa_codes_heading: "Misimbo yako ya dharura",
        mfa_codes_lead: "Iweke mahali salama. Kila mmoja hufanya kazi mara moja ukipoteza simu yako. Inaonyeshwa sasa tu.",
        sessions_heading: "Ulipoingia",
        this_device: "kifaa hiki",
        signed_in_at: "aliingia",
        last_active: "mara ya mwisho",
        sign_out_everywhere: "Toka kila mahali",
        role_patient: "Mgonjwa",
        role_doctor: "Daktari",
        role_admin: "Msimamizi",
    },
};

/// Every message key the validation and the server can send, with its text in each language.
/// A key missing here shows the generic message; `every_key_is_translated` keeps the list
/// complete.
static MESSAGES: &[(&str, &str, &str)] = &[
    (
        "email.required",
        "Enter your email address.",
        "Weka anwani yako ya barua pepe.",
    ),
    (
        "email.invalid",
        "Enter an email address like name@example.com.",
        "Weka barua pepe kama jina@mfano.com.",
    ),
    (
        "email.taken",
        "An account with this email already exists. Sign in instead.",
        "Akaunti yenye barua pepe hii ipo tayari. Ingia badala yake.",
    ),
    (
        "password.too_short",
        "Use at least 12 characters.",
        "Tumia angalau herufi 12.",
    ),
    (
        "password.too_long",
        "Use at most 128 characters.",
        "Tumia herufi 128 au chache.",
    ),
    (
        "password.common",
        "This password is too common. Choose one that is harder to guess.",
        "Nenosiri hili ni la kawaida mno. Chagua ambalo ni gumu kukisia.",
    ),
    (
        "password.contains_personal",
        "Do not use your name or email in your password.",
        "Usitumie jina lako au barua pepe katika nenosiri.",
    ),
    (
        "password.wrong",
        "That is not your current password.",
        "Hilo si nenosiri lako la sasa.",
    ),
    ("name.required", "Enter your name.", "Weka jina lako."),
    (
        "name.invalid",
        "Enter your name as you write it (up to 120 characters).",
        "Weka jina lako (hadi herufi 120).",
    ),
    (
        "dob.required",
        "Enter your date of birth.",
        "Weka tarehe yako ya kuzaliwa.",
    ),
    (
        "dob.invalid",
        "Enter a real date of birth.",
        "Weka tarehe halisi ya kuzaliwa.",
    ),
    (
        "dob.future",
        "A date of birth cannot be in the future.",
        "Tarehe ya kuzaliwa haiwezi kuwa ya baadaye.",
    ),
    (
        "sign_in.bad_credentials",
        "Wrong email or password.",
        "Barua pepe au nenosiri si sahihi.",
    ),
    (
        "sign_in.disabled",
        "This account is disabled. Contact the clinic.",
        "Akaunti hii imezimwa. Wasiliana na kliniki.",
    ),
    (
        "mfa.bad_code",
        "That code is wrong or has expired. Try the newest one.",
        "Msimbo huo si sahihi au umeisha muda. Jaribu mpya.",
    ),
    (
        "link.invalid",
        "This link is not valid. Ask for a new one.",
        "Kiungo hiki si halali. Omba kipya.",
    ),
    (
        "link.expired",
        "This link has expired. Ask for a new one.",
        "Kiungo hiki kimeisha muda. Omba kipya.",
    ),
    (
        "link.used",
        "This link was already used. Ask for a new one.",
        "Kiungo hiki kimeshatumika. Omba kipya.",
    ),
    (
        "admin.staff_only",
        "Create only doctor or admin accounts here.",
        "Unda akaunti za daktari au msimamizi pekee hapa.",
    ),
    (
        "error.bad_request",
        "The request could not be read. Reload the page and try again.",
        "Ombi halikusomeka. Pakia ukurasa upya ujaribu tena.",
    ),
    (
        "error.unknown_language",
        "That language is not available.",
        "Lugha hiyo haipatikani.",
    ),
    (
        "error.rate_limited",
        "Too many attempts. Wait a moment and try again.",
        "Majaribio mengi mno. Subiri kidogo ujaribu tena.",
    ),
    (
        "error.unavailable",
        "The service is busy. Try again shortly.",
        "Huduma ina shughuli nyingi. Jaribu tena baada ya muda mfupi.",
    ),
    (
        "error.generic",
        "Something went wrong. Try again.",
        "Hitilafu imetokea. Jaribu tena.",
    ),
    (
        "error.unauthenticated",
        "Sign in to continue.",
        "Ingia ili kuendelea.",
    ),
    (
        "error.forbidden",
        "You do not have access to this.",
        "Huna ruhusa ya kufikia hili.",
    ),
    (
        "error.mfa_setup_required",
        "Turn on two-factor sign-in first.",
        "Washa kuingia kwa hatua mbili kwanza.",
    ),
    (
        "error.transport",
        "Could not reach Tabibu. Check your connection and try again.",
        "Imeshindwa kufikia Tabibu. Angalia mtandao wako ujaribu tena.",
    ),
    (
        "mfa.already_enabled",
        "Two-factor sign-in is already on.",
        "Kuingia kwa hatua mbili tayari kumewashwa.",
    ),
    (
        "mfa.not_started",
        "Start again: the key was not set up.",
        "Anza upya: ufunguo haukuwekwa.",
    ),
    (
        "mfa.required_for_staff",
        "Two-factor sign-in is required for your role.",
        "Kuingia kwa hatua mbili kunahitajika kwa wadhifa wako.",
    ),
    (
        "admin.cannot_disable_self",
        "You cannot disable your own account.",
        "Huwezi kuzima akaunti yako mwenyewe.",
    ),
];

/// Every feature's message table (key, English, Swahili). Keys are unique across all of them.
static TABLES: &[&[(&str, &str, &str)]] = &[
    MESSAGES,
    crate::profile::strings::MESSAGES,
    crate::records::strings::MESSAGES,
    crate::consultations::strings::MESSAGES,
    crate::documents::strings::MESSAGES,
    crate::assistant::strings::MESSAGES,
    crate::payments::strings::MESSAGES,
    crate::admin::emails::MESSAGES,
];

fn all_messages() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    TABLES.iter().flat_map(|table| table.iter())
}

/// The text for a message key in `locale`.
pub fn message(locale: Locale, key: &str) -> &'static str {
    let pick = |(_, en, sw): &(&str, &'static str, &'static str)| match locale {
        Locale::En => *en,
        Locale::Sw => *sw,
    };
    all_messages()
        .find(|(k, _, _)| *k == key)
        .or_else(|| MESSAGES.iter().find(|(k, _, _)| *k == "error.generic"))
        .map_or("Something went wrong.", pick)
}

/// The text for any error a server function returned.
pub fn error_text(locale: Locale, err: &crate::error::AppError) -> String {
    use crate::error::AppError;
    let key = match err {
        AppError::Validation { fields } => fields
            .values()
            .next()
            .map_or("error.generic", String::as_str),
        AppError::RateLimited { .. } => "error.rate_limited",
        AppError::Unavailable => "error.unavailable",
        AppError::Unauthenticated => "error.unauthenticated",
        AppError::Forbidden | AppError::NotFound => "error.forbidden",
        AppError::MfaSetupRequired => "error.mfa_setup_required",
        AppError::Conflict { code } => code.as_str(),
        AppError::Transport => "error.transport",
        AppError::Internal { .. } => "error.generic",
    };
    let text = message(locale, key).to_owned();
    match err {
        AppError::RateLimited { retry_after_secs } => format!("{text} ({retry_after_secs} s)"),
        AppError::Internal {
            request_id: Some(id),
        } => format!("{text} (ref. {id})"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_translated_and_unique() {
        let mut keys: Vec<_> = all_messages().map(|(k, _, _)| *k).collect();
        for (key, en, sw) in all_messages() {
            assert!(!en.is_empty() && !sw.is_empty(), "{key}");
            assert_ne!(en, sw, "{key} is not translated");
        }
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(n, keys.len());
        for key in [
            "email.required",
            "email.invalid",
            "password.too_short",
            "password.too_long",
            "name.required",
            "name.invalid",
            "dob.required",
            "dob.invalid",
            "dob.future",
        ] {
            assert!(MESSAGES.iter().any(|(k, _, _)| *k == key), "{key}");
        }
    }
}
