//! Messages Tabibu sends to people outside the app: which emails exist, what they say in
//! English and Swahili, how they are queued ([`outbox`]), and how they leave the server
//! ([`providers`]: `log`, SendGrid, SMTP; [`delivery`]: the pass a worker runs).
//!
//! Emails carry no medical content, ever: no symptom, triage level, diagnosis, document or
//! doctor's words. Email crosses servers Tabibu does not control; an email says that
//! something happened and links to the app, where the person signs in to see it.
//!
//! Every parameter is escaped in the HTML part, links must be `http(s)://`, and subjects are
//! fixed per template and language (no parameter can reach a header). This module must never
//! log an address or a parameter; its errors name the parameter, never its value.

pub mod config;
pub mod delivery;
pub mod outbox;
pub mod providers;

use crate::i18n::{Locale, Translations};
use serde_json::Value;

/// Longest link accepted in an email.
const MAX_LINK: usize = 2_048;
/// Longest name used in a greeting; longer ones are cut, not refused.
const MAX_NAME: usize = 100;
/// Longest M-Pesa receipt number accepted (they are 10 characters today).
const MAX_RECEIPT: usize = 20;

/// An email Tabibu can send. Stored as [`EmailTemplate::code`]; later features add theirs
/// here (a variant, its code, its strings and a match arm in [`render`]).
///
/// Parameters (JSON object):
/// - every template: `link` (required, `http(s)://…`), `name` (optional, for the greeting);
/// - `PasswordReset`: `expires_minutes` (required, a whole number);
/// - `MfaChanged`: `enabled` (required, `true` when two-step sign-in was turned on);
/// - `PaymentReceived`: `amount_kes` (required, whole shillings) and `receipt` (optional, the
///   M-Pesa receipt number: letters and digits only).
///
/// The consultation templates (`ConsultationClaimed`, `DoctorReplied`, `ConsultationClosed`)
/// take the link to the consultation's page and nothing else: not the doctor's name, not a
/// word of the thread, not the urgency. Whatever else a caller puts in the parameters is
/// never rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailTemplate {
    Welcome,
    PasswordReset,
    PasswordChanged,
    MfaChanged,
    PaymentReceived,
    ConsultationClaimed,
    DoctorReplied,
    ConsultationClosed,
}

impl EmailTemplate {
    pub const ALL: &'static [EmailTemplate] = &[
        EmailTemplate::Welcome,
        EmailTemplate::PasswordReset,
        EmailTemplate::PasswordChanged,
        EmailTemplate::MfaChanged,
        EmailTemplate::PaymentReceived,
        EmailTemplate::ConsultationClaimed,
        EmailTemplate::DoctorReplied,
        EmailTemplate::ConsultationClosed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EmailTemplate::Welcome => "welcome",
            EmailTemplate::PasswordReset => "password_reset",
            EmailTemplate::PasswordChanged => "password_changed",
            EmailTemplate::MfaChanged => "mfa_changed",
            EmailTemplate::PaymentReceived => "payment_received",
            EmailTemplate::ConsultationClaimed => "consultation_claimed",
            EmailTemplate::DoctorReplied => "doctor_replied",
            EmailTemplate::ConsultationClosed => "consultation_closed",
        }
    }

    pub fn from_code(code: &str) -> Option<EmailTemplate> {
        EmailTemplate::ALL
            .iter()
            .copied()
            .find(|t| t.code() == code)
    }
}

/// The parameters do not fit the template. Names the parameter only, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the email parameters must be a JSON object")]
    NotAnObject,
    #[error("the email parameter `{0}` is missing")]
    MissingParam(&'static str),
    #[error("the email parameter `{0}` has the wrong form")]
    InvalidParam(&'static str),
}

/// A message ready for a provider.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for RenderedEmail {
    // The body holds a name and possibly a reset link.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedEmail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// The words of every email, per language.
#[derive(Debug)]
pub struct EmailText {
    pub greeting_named: &'static str,
    pub greeting: &'static str,
    pub signature: &'static str,
    pub footer: &'static str,
    pub link_fallback: &'static str,
    pub welcome_subject: &'static str,
    pub welcome_lines: &'static [&'static str],
    pub welcome_button: &'static str,
    pub reset_subject: &'static str,
    /// `{expires_minutes}` is replaced by the number.
    pub reset_lines: &'static [&'static str],
    pub reset_button: &'static str,
    pub changed_subject: &'static str,
    pub changed_lines: &'static [&'static str],
    pub changed_button: &'static str,
    pub mfa_on_subject: &'static str,
    pub mfa_on_lines: &'static [&'static str],
    pub mfa_off_subject: &'static str,
    pub mfa_off_lines: &'static [&'static str],
    pub mfa_button: &'static str,
    pub payment_subject: &'static str,
    /// `{amount_kes}` is replaced by the amount; a line with `{receipt}` is left out when
    /// there is no receipt number.
    pub payment_lines: &'static [&'static str],
    pub claimed_subject: &'static str,
    pub claimed_lines: &'static [&'static str],
    pub replied_subject: &'static str,
    pub replied_lines: &'static [&'static str],
    pub replied_button: &'static str,
    pub closed_subject: &'static str,
    pub closed_lines: &'static [&'static str],
    /// The button of every consultation email.
    pub consultation_button: &'static str,
}

pub static EMAILS: Translations<EmailText> = Translations {
    en: EmailText {
        greeting_named: "Hello {name},",
        greeting: "Hello,",
        signature: "The Tabibu team",
        footer: "You receive this email because this address belongs to a Tabibu account. \
                 Tabibu will never ask for your password or a code by email.",
        link_fallback: "If the button does not work, copy this link into your browser:",
        welcome_subject: "Welcome to Tabibu",
        welcome_lines: &[
            "Your Tabibu account is ready. You can sign in at any time with the link below.",
        ],
        welcome_button: "Sign in",
        reset_subject: "Reset your Tabibu password",
        reset_lines: &[
            "Someone asked to reset the password of your Tabibu account. If it was you, \
             choose a new password with the link below. The link works once and expires in \
             {expires_minutes} minutes.",
            "If you did not ask for this, you can ignore this email: your password stays the \
             same.",
        ],
        reset_button: "Choose a new password",
        changed_subject: "Your Tabibu password was changed",
        changed_lines: &[
            "The password of your Tabibu account was just changed. If this was you, there is \
             nothing more to do.",
            "If it was not you, reset your password now with the link below.",
        ],
        changed_button: "Reset my password",
        mfa_on_subject: "Two-step sign-in was turned on",
        mfa_on_lines: &[
            "Two-step sign-in was turned on for your Tabibu account. From now on you will \
             need a code from your authenticator app to sign in.",
            "If this was not you, check your account settings with the link below and change \
             your password.",
        ],
        mfa_off_subject: "Two-step sign-in was turned off",
        mfa_off_lines: &[
            "Two-step sign-in was turned off for your Tabibu account. Signing in now needs \
             only your password.",
            "If this was not you, check your account settings with the link below and change \
             your password.",
        ],
        mfa_button: "Open account settings",
        payment_subject: "Payment received",
        payment_lines: &[
            "Thank you: we have received your payment of KES {amount_kes}.",
            "M-Pesa receipt: {receipt}",
            "Your consultation is now in the doctors' queue. We will email you when a doctor \
             takes it up.",
        ],
        claimed_subject: "A doctor has taken up your consultation",
        claimed_lines: &[
            "A doctor has taken up your consultation and will write to you in Tabibu.",
            "For your privacy this email says nothing more: sign in with the link below to \
             follow your consultation.",
        ],
        replied_subject: "You have a new message from your doctor",
        replied_lines: &[
            "Your doctor has written to you in Tabibu.",
            "For your privacy the message is not in this email: sign in with the link below \
             to read it and to reply.",
        ],
        replied_button: "Read the message",
        closed_subject: "Your consultation has been closed",
        closed_lines: &[
            "Your doctor has closed your consultation. The doctor's conclusion is waiting for \
             you in Tabibu.",
            "If you need more help later, you can ask a doctor again at any time.",
        ],
        consultation_button: "Open my consultation",
    },
    sw: EmailText {
        greeting_named: "Habari {name},",
        greeting: "Habari,",
        signature: "Timu ya Tabibu",
        footer: "Umepokea barua pepe hii kwa sababu anwani hii ni ya akaunti ya Tabibu. \
                 Tabibu haitakuomba kamwe nenosiri lako au msimbo kwa barua pepe.",
        link_fallback: "Ikiwa kitufe hakifanyi kazi, nakili kiungo hiki kwenye kivinjari chako:",
        welcome_subject: "Karibu Tabibu",
        welcome_lines: &[
            "Akaunti yako ya Tabibu iko tayari. Unaweza kuingia wakati wowote kupitia kiungo \
             kilicho hapa chini.",
        ],
        welcome_button: "Ingia",
        reset_subject: "Weka upya nenosiri lako la Tabibu",
        reset_lines: &[
            "Mtu ameomba kuweka upya nenosiri la akaunti yako ya Tabibu. Ikiwa ni wewe, \
             chagua nenosiri jipya kupitia kiungo kilicho hapa chini. Kiungo kinatumika mara \
             moja tu na muda wake unaisha baada ya dakika {expires_minutes}.",
            "Ikiwa hukuomba hivi, unaweza kupuuza barua pepe hii: nenosiri lako halitabadilika.",
        ],
        reset_button: "Chagua nenosiri jipya",
        changed_subject: "Nenosiri lako la Tabibu limebadilishwa",
        changed_lines: &[
            "Nenosiri la akaunti yako ya Tabibu limebadilishwa sasa hivi. Ikiwa ni wewe, \
             huhitaji kufanya kitu kingine.",
            "Ikiwa si wewe, weka upya nenosiri lako sasa kupitia kiungo kilicho hapa chini.",
        ],
        changed_button: "Weka upya nenosiri langu",
        mfa_on_subject: "Uthibitishaji wa hatua mbili umewashwa",
        mfa_on_lines: &[
            "Uthibitishaji wa hatua mbili umewashwa kwenye akaunti yako ya Tabibu. Kuanzia \
             sasa utahitaji msimbo kutoka kwenye programu yako ya uthibitishaji ili kuingia.",
            "Ikiwa si wewe, kagua mipangilio ya akaunti yako kupitia kiungo kilicho hapa chini \
             na ubadilishe nenosiri lako.",
        ],
        mfa_off_subject: "Uthibitishaji wa hatua mbili umezimwa",
        mfa_off_lines: &[
            "Uthibitishaji wa hatua mbili umezimwa kwenye akaunti yako ya Tabibu. Sasa \
             kuingia kunahitaji nenosiri lako pekee.",
            "Ikiwa si wewe, kagua mipangilio ya akaunti yako kupitia kiungo kilicho hapa chini \
             na ubadilishe nenosiri lako.",
        ],
        mfa_button: "Fungua mipangilio ya akaunti",
        payment_subject: "Malipo yamepokelewa",
        payment_lines: &[
            "Asante: tumepokea malipo yako ya KES {amount_kes}.",
            "Risiti ya M-Pesa: {receipt}",
            "Shauriano lako sasa liko kwenye foleni ya madaktari. Tutakutumia barua pepe \
             daktari atakapolichukua.",
        ],
        claimed_subject: "Daktari amechukua shauriano lako",
        claimed_lines: &[
            "Daktari amechukua shauriano lako na atakuandikia kupitia Tabibu.",
            "Kwa ajili ya faragha yako barua pepe hii haisemi zaidi: ingia kupitia kiungo \
             kilicho hapa chini ili kufuatilia shauriano lako.",
        ],
        replied_subject: "Una ujumbe mpya kutoka kwa daktari wako",
        replied_lines: &[
            "Daktari wako amekuandikia kupitia Tabibu.",
            "Kwa ajili ya faragha yako ujumbe huo haumo kwenye barua pepe hii: ingia kupitia \
             kiungo kilicho hapa chini ili kuusoma na kujibu.",
        ],
        replied_button: "Soma ujumbe",
        closed_subject: "Shauriano lako limefungwa",
        closed_lines: &[
            "Daktari wako amefunga shauriano lako. Hitimisho la daktari linakusubiri kwenye \
             Tabibu.",
            "Ukihitaji msaada zaidi baadaye, unaweza kumuuliza daktari tena wakati wowote.",
        ],
        consultation_button: "Fungua shauriano langu",
    },
};

/// Renders `template` in `locale` with `params` (see [`EmailTemplate`] for what each needs).
pub fn render(
    template: EmailTemplate,
    locale: Locale,
    params: &Value,
) -> Result<RenderedEmail, RenderError> {
    let params = params.as_object().ok_or(RenderError::NotAnObject)?;
    let t = EMAILS.get(locale);
    let link = link_param(params.get("link"))?;
    let name = name_param(params.get("name"))?;
    let mut values: Vec<(&str, String)> = Vec::new();
    let (subject, lines, button): (&str, &[&str], &str) = match template {
        EmailTemplate::Welcome => (t.welcome_subject, t.welcome_lines, t.welcome_button),
        EmailTemplate::PasswordReset => {
            let minutes = minutes_param(params.get("expires_minutes"))?;
            values.push(("expires_minutes", minutes.to_string()));
            (t.reset_subject, t.reset_lines, t.reset_button)
        }
        EmailTemplate::PasswordChanged => (t.changed_subject, t.changed_lines, t.changed_button),
        EmailTemplate::MfaChanged => match params.get("enabled") {
            Some(Value::Bool(true)) => (t.mfa_on_subject, t.mfa_on_lines, t.mfa_button),
            Some(Value::Bool(false)) => (t.mfa_off_subject, t.mfa_off_lines, t.mfa_button),
            Some(_) => return Err(RenderError::InvalidParam("enabled")),
            None => return Err(RenderError::MissingParam("enabled")),
        },
        EmailTemplate::PaymentReceived => {
            let amount = whole_number_param("amount_kes", params.get("amount_kes"))?;
            values.push(("amount_kes", group_thousands(amount)));
            if let Some(receipt) = receipt_param(params.get("receipt"))? {
                values.push(("receipt", receipt));
            }
            (t.payment_subject, t.payment_lines, t.consultation_button)
        }
        EmailTemplate::ConsultationClaimed => {
            (t.claimed_subject, t.claimed_lines, t.consultation_button)
        }
        EmailTemplate::DoctorReplied => (t.replied_subject, t.replied_lines, t.replied_button),
        EmailTemplate::ConsultationClosed => {
            (t.closed_subject, t.closed_lines, t.consultation_button)
        }
    };
    // A line that names a parameter nobody gave (the optional receipt) is left out whole.
    let lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| !names_missing_value(line, &values))
        .collect();
    let greeting = match &name {
        Some(name) => {
            values.push(("name", name.clone()));
            t.greeting_named
        }
        None => t.greeting,
    };

    let mut text = String::new();
    text.push_str(&fill(greeting, &values, Escape::None));
    for line in &lines {
        text.push_str("\n\n");
        text.push_str(&fill(line, &values, Escape::None));
    }
    text.push_str(&format!(
        "\n\n{button}:\n{link}\n\n{}\n\n--\n{}\n",
        t.signature, t.footer
    ));

    let href = escape_html(&link);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n\
         <body style=\"margin:0;padding:24px;background:#f4f6f8;\
         font-family:Arial,Helvetica,sans-serif;color:#1d2733;line-height:1.5\">\n\
         <div style=\"max-width:560px;margin:0 auto;background:#ffffff;padding:24px;\
         border-radius:8px\">\n<p>{greeting}</p>\n",
        lang = locale.code(),
        title = escape_html(subject),
        greeting = fill(greeting, &values, Escape::Html),
    );
    for line in &lines {
        html.push_str(&format!("<p>{}</p>\n", fill(line, &values, Escape::Html)));
    }
    html.push_str(&format!(
        "<p><a href=\"{href}\" style=\"display:inline-block;padding:12px 20px;\
         background:#0b6e4f;color:#ffffff;text-decoration:none;border-radius:6px\">\
         {button}</a></p>\n\
         <p style=\"font-size:13px;color:#5b6673\">{fallback}<br>{href}</p>\n\
         <p>{signature}</p>\n\
         <hr style=\"border:none;border-top:1px solid #dde3e8\">\n\
         <p style=\"font-size:12px;color:#5b6673\">{footer}</p>\n</div>\n</body>\n</html>\n",
        button = escape_html(button),
        fallback = escape_html(t.link_fallback),
        signature = escape_html(t.signature),
        footer = escape_html(t.footer),
    ));
    Ok(RenderedEmail {
        subject: subject.to_owned(),
        text,
        html,
    })
}

#[derive(Clone, Copy)]
enum Escape {
    None,
    Html,
}

/// Replaces each `{key}` in `template` by its value; in HTML both are escaped.
fn fill(template: &str, values: &[(&str, String)], escape: Escape) -> String {
    let mut out = match escape {
        Escape::None => template.to_owned(),
        Escape::Html => escape_html(template),
    };
    for (key, value) in values {
        let value = match escape {
            Escape::None => value.clone(),
            Escape::Html => escape_html(value),
        };
        out = out.replace(&format!("{{{key}}}"), &value);
    }
    out
}

/// Escapes the five characters that matter in HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn link_param(value: Option<&Value>) -> Result<String, RenderError> {
    let link = match value {
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(RenderError::InvalidParam("link")),
        None => return Err(RenderError::MissingParam("link")),
    };
    let scheme_ok = link.starts_with("https://") || link.starts_with("http://");
    // A `javascript:` or `data:` link must never reach a mail client; nor may a line break.
    if !scheme_ok || link.len() > MAX_LINK || link.chars().any(|c| c.is_control() || c == ' ') {
        return Err(RenderError::InvalidParam("link"));
    }
    Ok(link.to_owned())
}

fn name_param(value: Option<&Value>) -> Result<Option<String>, RenderError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let clean: String = s
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_NAME)
                .collect();
            let clean = clean.trim();
            Ok((!clean.is_empty()).then(|| clean.to_owned()))
        }
        Some(_) => Err(RenderError::InvalidParam("name")),
    }
}

fn minutes_param(value: Option<&Value>) -> Result<u64, RenderError> {
    whole_number_param("expires_minutes", value)
}

/// A whole number, given as a JSON number or as a string of digits.
fn whole_number_param(name: &'static str, value: Option<&Value>) -> Result<u64, RenderError> {
    match value {
        Some(Value::Number(n)) => n.as_u64().ok_or(RenderError::InvalidParam(name)),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| RenderError::InvalidParam(name)),
        Some(_) => Err(RenderError::InvalidParam(name)),
        None => Err(RenderError::MissingParam(name)),
    }
}

/// An M-Pesa receipt number (such as `SGR7ABC12X`): 1 to 20 ASCII letters and digits, shown in
/// capitals. Absent, null or blank means none.
fn receipt_param(value: Option<&Value>) -> Result<Option<String>, RenderError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let receipt = s.trim();
            if receipt.len() <= MAX_RECEIPT && receipt.chars().all(|c| c.is_ascii_alphanumeric()) {
                Ok(Some(receipt.to_ascii_uppercase()))
            } else {
                Err(RenderError::InvalidParam("receipt"))
            }
        }
        Some(_) => Err(RenderError::InvalidParam("receipt")),
    }
}

/// `1500000` → `1,500,000`, as amounts are written in Kenya in both languages.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether `line` has a `{key}` placeholder for which `values` holds nothing.
fn names_missing_value(line: &str, values: &[(&str, String)]) -> bool {
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return false;
        };
        let key = &after[..end];
        if key != "name" && !values.iter().any(|(k, _)| *k == key) {
            return true;
        }
        rest = &after[end + 1..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params_for(template: EmailTemplate) -> Value {
        match template {
            EmailTemplate::PasswordReset => json!({
                "name": "Amina",
                "link": "https://tabibu.example/reset?token=abc",
                "expires_minutes": 30
            }),
            EmailTemplate::MfaChanged => json!({
                "name": "Amina", "link": "https://tabibu.example/account", "enabled": true
            }),
            EmailTemplate::PaymentReceived => json!({
                "name": "Amina",
                "link": "https://tabibu.example/consultations/c1",
                "amount_kes": 1500,
                "receipt": "SGR7ABC12X"
            }),
            _ => json!({ "name": "Amina", "link": "https://tabibu.example/account" }),
        }
    }

    const CONSULTATION_TEMPLATES: [EmailTemplate; 3] = [
        EmailTemplate::ConsultationClaimed,
        EmailTemplate::DoctorReplied,
        EmailTemplate::ConsultationClosed,
    ];

    #[test]
    fn every_template_renders_in_both_languages_with_no_placeholder_left() {
        for &template in EmailTemplate::ALL {
            let en = render(template, Locale::En, &params_for(template)).unwrap();
            let sw = render(template, Locale::Sw, &params_for(template)).unwrap();
            for email in [&en, &sw] {
                for part in [&email.subject, &email.text, &email.html] {
                    assert!(
                        !part.contains('{') && !part.contains('}'),
                        "{template:?}: a placeholder is left in {part}"
                    );
                }
                assert!(email.text.contains("https://tabibu.example/"));
                assert!(email.html.contains("href=\"https://tabibu.example/"));
                assert!(email.text.contains("Amina"));
            }
            assert!(sw.html.contains("<html lang=\"sw\">"));
            assert_ne!(en.subject, sw.subject, "{template:?} subject is translated");
        }
    }

    #[test]
    fn swahili_emails_contain_no_english_sentence() {
        let en = EMAILS.get(Locale::En);
        let sw = EMAILS.get(Locale::Sw);
        let english: Vec<&str> = [
            en.greeting,
            en.signature,
            en.footer,
            en.link_fallback,
            en.welcome_button,
            en.reset_button,
            en.changed_button,
            en.mfa_button,
        ]
        .into_iter()
        .chain(en.welcome_lines.iter().copied())
        .chain(en.reset_lines.iter().copied())
        .chain(en.changed_lines.iter().copied())
        .chain(en.mfa_on_lines.iter().copied())
        .chain(en.mfa_off_lines.iter().copied())
        .chain(en.payment_lines.iter().copied())
        .chain(en.claimed_lines.iter().copied())
        .chain(en.replied_lines.iter().copied())
        .chain(en.closed_lines.iter().copied())
        .chain([
            en.payment_subject,
            en.claimed_subject,
            en.replied_subject,
            en.closed_subject,
            en.replied_button,
            en.consultation_button,
        ])
        // Only the wording: a line such as "M-Pesa receipt: {receipt}" is compared without
        // its placeholder.
        .map(|s| s.split('{').next().unwrap_or_default().trim())
        .filter(|s| s.len() > 4)
        .collect();
        assert_eq!(en.welcome_lines.len(), sw.welcome_lines.len());
        assert_eq!(en.reset_lines.len(), sw.reset_lines.len());
        assert_eq!(en.changed_lines.len(), sw.changed_lines.len());
        assert_eq!(en.payment_lines.len(), sw.payment_lines.len());
        assert_eq!(en.claimed_lines.len(), sw.claimed_lines.len());
        assert_eq!(en.replied_lines.len(), sw.replied_lines.len());
        assert_eq!(en.closed_lines.len(), sw.closed_lines.len());
        for &template in EmailTemplate::ALL {
            let email = render(template, Locale::Sw, &params_for(template)).unwrap();
            for sentence in &english {
                assert!(
                    !email.text.contains(sentence) && !email.subject.contains(sentence),
                    "{template:?} in Swahili contains English: {sentence}"
                );
            }
        }
    }

    #[test]
    fn consultation_emails_carry_a_link_and_nothing_medical() {
        // A careless caller passes the case's content along: none of it may be rendered.
        let params = json!({
            "name": "Amina",
            "link": "https://tabibu.example/consultations/c42",
            "message": "Your blood pressure is 190/120, go to hospital",
            "level": "emergency",
            "symptom": "chest pain",
            "doctor": "Dr Wanjiru",
        });
        for template in CONSULTATION_TEMPLATES {
            for locale in Locale::ALL {
                let email = render(template, locale, &params).unwrap();
                for part in [&email.subject, &email.text, &email.html] {
                    for secret in ["190/120", "mergency", "chest", "Wanjiru", "hospital"] {
                        assert!(!part.contains(secret), "{template:?} {locale:?}: {secret}");
                    }
                }
                assert!(
                    email
                        .text
                        .contains("https://tabibu.example/consultations/c42")
                );
                assert!(
                    email
                        .html
                        .contains("href=\"https://tabibu.example/consultations/c42\"")
                );
            }
        }
        let subjects: std::collections::HashSet<_> = CONSULTATION_TEMPLATES
            .iter()
            .map(|&t| render(t, Locale::En, &params).unwrap().subject)
            .collect();
        assert_eq!(
            subjects.len(),
            3,
            "each consultation email says what happened"
        );
    }

    #[test]
    fn payment_received_shows_the_amount_and_the_receipt() {
        let email = render(
            EmailTemplate::PaymentReceived,
            Locale::En,
            &params_for(EmailTemplate::PaymentReceived),
        )
        .unwrap();
        assert!(email.text.contains("KES 1,500."), "{}", email.text);
        assert!(email.text.contains("M-Pesa receipt: SGR7ABC12X"));
        assert!(email.html.contains("KES 1,500."));
        let sw = render(
            EmailTemplate::PaymentReceived,
            Locale::Sw,
            &json!({ "link": "https://x.example/c", "amount_kes": "2500000", "receipt": "sgr7abc12x" }),
        )
        .unwrap();
        assert!(sw.text.contains("KES 2,500,000."));
        assert!(sw.text.contains("Risiti ya M-Pesa: SGR7ABC12X"));
    }

    #[test]
    fn payment_received_without_a_receipt_leaves_the_receipt_line_out() {
        for receipt in [json!(null), json!(""), json!("  ")] {
            let params =
                json!({ "link": "https://x.example/c", "amount_kes": 300, "receipt": receipt });
            let email = render(EmailTemplate::PaymentReceived, Locale::En, &params).unwrap();
            assert!(!email.text.contains("receipt"), "{}", email.text);
            assert!(email.text.contains("KES 300."));
        }
        let email = render(
            EmailTemplate::PaymentReceived,
            Locale::Sw,
            &json!({ "link": "https://x.example/c", "amount_kes": 300 }),
        )
        .unwrap();
        assert!(!email.text.contains("Risiti"));
    }

    #[test]
    fn payment_received_refuses_a_bad_amount_or_receipt() {
        let with = |amount: Value, receipt: Value| {
            render(
                EmailTemplate::PaymentReceived,
                Locale::En,
                &json!({ "link": "https://x.example/c", "amount_kes": amount, "receipt": receipt }),
            )
        };
        for amount in [
            json!(-5),
            json!(12.5),
            json!("12.50"),
            json!("KES 12"),
            json!(true),
        ] {
            assert_eq!(
                with(amount.clone(), json!(null)),
                Err(RenderError::InvalidParam("amount_kes")),
                "{amount}"
            );
        }
        for receipt in [
            json!("SGR7 ABC"),
            json!("<b>X</b>"),
            json!("ABC\r\nBcc: x"),
            json!("A".repeat(21)),
            json!(12345),
        ] {
            assert_eq!(
                with(json!(100), receipt.clone()),
                Err(RenderError::InvalidParam("receipt")),
                "{receipt}"
            );
        }
        assert_eq!(
            render(
                EmailTemplate::PaymentReceived,
                Locale::En,
                &json!({ "link": "https://x.example/c" })
            ),
            Err(RenderError::MissingParam("amount_kes"))
        );
    }

    #[test]
    fn parameters_are_escaped_in_html() {
        let params = json!({
            "name": "<script>alert('x')</script> & \"Bob\"",
            "link": "https://tabibu.example/reset?a=1&b=\"2\"",
            "expires_minutes": 30,
        });
        let email = render(EmailTemplate::PasswordReset, Locale::En, &params).unwrap();
        assert!(!email.html.contains("<script>"));
        assert!(
            email
                .html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Bob&quot;")
        );
        assert!(
            email
                .html
                .contains("href=\"https://tabibu.example/reset?a=1&amp;b=&quot;2&quot;\"")
        );
        // The plain-text part shows the name as typed.
        assert!(email.text.contains("Hello <script>"));
    }

    #[test]
    fn links_other_than_http_are_refused() {
        for link in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://ok.example/\r\nBcc: x",
            "//tabibu.example",
        ] {
            let params = json!({ "link": link });
            assert_eq!(
                render(EmailTemplate::Welcome, Locale::En, &params),
                Err(RenderError::InvalidParam("link")),
                "{link}"
            );
        }
    }

    #[test]
    fn missing_or_mistyped_parameters_are_named_in_the_error() {
        assert_eq!(
            render(EmailTemplate::Welcome, Locale::En, &json!({})),
            Err(RenderError::MissingParam("link"))
        );
        assert_eq!(
            render(
                EmailTemplate::PasswordReset,
                Locale::En,
                &json!({ "link": "https://x.example" })
            ),
            Err(RenderError::MissingParam("expires_minutes"))
        );
        assert_eq!(
            render(
                EmailTemplate::MfaChanged,
                Locale::En,
                &json!({ "link": "https://x.example", "enabled": "yes" })
            ),
            Err(RenderError::InvalidParam("enabled"))
        );
        assert_eq!(
            render(EmailTemplate::Welcome, Locale::En, &json!([])),
            Err(RenderError::NotAnObject)
        );
    }

    #[test]
    fn without_a_name_the_greeting_is_plain() {
        let email = render(
            EmailTemplate::Welcome,
            Locale::Sw,
            &json!({ "link": "https://x.example" }),
        )
        .unwrap();
        assert!(email.text.starts_with("Habari,\n"));
    }

    #[test]
    fn mfa_changed_says_whether_it_was_turned_on_or_off() {
        let on = json!({ "link": "https://x.example", "enabled": true });
        let off = json!({ "link": "https://x.example", "enabled": false });
        let on = render(EmailTemplate::MfaChanged, Locale::En, &on).unwrap();
        let off = render(EmailTemplate::MfaChanged, Locale::En, &off).unwrap();
        assert!(on.subject.contains("on"));
        assert!(off.subject.contains("off"));
    }

    #[test]
    fn template_codes_round_trip() {
        for &t in EmailTemplate::ALL {
            assert_eq!(EmailTemplate::from_code(t.code()), Some(t));
        }
        assert_eq!(EmailTemplate::from_code("nope"), None);
    }
}
