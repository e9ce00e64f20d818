//! Messages Tabibu sends to people outside the app: which emails exist, what they say in
//! English and Swahili, and (in [`outbox`]) how they are queued and handed to a provider.
//!
//! Emails carry no medical content, ever: no symptom, triage level, diagnosis, document or
//! doctor's words. Email crosses servers Tabibu does not control; an email says that
//! something happened and links to the app, where the person signs in to see it.
//!
//! Every parameter is escaped in the HTML part, links must be `http(s)://`, and subjects are
//! fixed per template and language (no parameter can reach a header). This module must never
//! log an address or a parameter; its errors name the parameter, never its value.

pub mod outbox;

use crate::i18n::{Locale, Translations};
use serde_json::Value;

/// Longest link accepted in an email.
const MAX_LINK: usize = 2_048;
/// Longest name used in a greeting; longer ones are cut, not refused.
const MAX_NAME: usize = 100;

/// An email Tabibu can send. Stored as [`EmailTemplate::code`]; later features add theirs
/// here (a variant, its code, its strings and a match arm in [`render`]).
///
/// Parameters (JSON object):
/// - every template: `link` (required, `http(s)://…`), `name` (optional, for the greeting);
/// - `PasswordReset`: `expires_minutes` (required, a whole number);
/// - `MfaChanged`: `enabled` (required, `true` when two-step sign-in was turned on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailTemplate {
    Welcome,
    PasswordReset,
    PasswordChanged,
    MfaChanged,
}

impl EmailTemplate {
    pub const ALL: &'static [EmailTemplate] = &[
        EmailTemplate::Welcome,
        EmailTemplate::PasswordReset,
        EmailTemplate::PasswordChanged,
        EmailTemplate::MfaChanged,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EmailTemplate::Welcome => "welcome",
            EmailTemplate::PasswordReset => "password_reset",
            EmailTemplate::PasswordChanged => "password_changed",
            EmailTemplate::MfaChanged => "mfa_changed",
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
    let (subject, lines, button) = match template {
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
    };
    let greeting = match &name {
        Some(name) => {
            values.push(("name", name.clone()));
            t.greeting_named
        }
        None => t.greeting,
    };

    let mut text = String::new();
    text.push_str(&fill(greeting, &values, Escape::None));
    for line in lines {
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
    for line in lines {
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
    match value {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or(RenderError::InvalidParam("expires_minutes")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| RenderError::InvalidParam("expires_minutes")),
        Some(_) => Err(RenderError::InvalidParam("expires_minutes")),
        None => Err(RenderError::MissingParam("expires_minutes")),
    }
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
            _ => json!({ "name": "Amina", "link": "https://tabibu.example/account" }),
        }
    }

    #[test]
    fn every_template_renders_in_both_languages_with_no_placeholder_left() {
        for &template in EmailTemplate::ALL {
            let en = render(template, Locale::En, &params_for(template)).unwrap();
            let sw = render(template, Locale::Sw, &params_for(template)).unwrap();
            for email in [&en, &sw] {
                for part in [&email.subject, &email.text, &email.html] {
                    assert!(!part.contains("{name}") && !part.contains("{expires_minutes}"));
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
        .collect();
        assert_eq!(en.welcome_lines.len(), sw.welcome_lines.len());
        assert_eq!(en.reset_lines.len(), sw.reset_lines.len());
        assert_eq!(en.changed_lines.len(), sw.changed_lines.len());
        for &template in EmailTemplate::ALL {
            let email = render(template, Locale::Sw, &params_for(template)).unwrap();
            for sentence in &english {
                assert!(
                    !email.text.contains(sentence),
                    "{template:?} in Swahili contains English: {sentence}"
                );
            }
        }
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
