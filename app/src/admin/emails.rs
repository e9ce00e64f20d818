//! The admins' view of the email outbox (`/admin/emails`): what was queued, sent, is waiting
//! for another attempt, or was given up (the dead letters), with a "Resend" for the given-up
//! ones and, for the `log` provider (which sends nothing), the message itself.
//!
//! Addresses are shown masked (`a•••@example.com`): enough to tell emails apart, not to write
//! to anyone. Every server function here is admin-only, by the access table and again inside;
//! a resend and a read of a message are audited. Failure reasons are the outbox's short codes.

use super::AdminNav;
use crate::error::AppError;
use crate::forms::{error_line, when};
use crate::i18n::{Translations, use_locale, use_strings};
use crate::layout::SignedIn;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// The statuses the filter offers, in the outbox's own codes.
pub const STATUSES: [&str; 4] = ["dead", "pending", "sending", "sent"];

/// One outbox email as the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRow {
    pub id: String,
    pub created_ms: i64,
    /// The template's code, e.g. `doctor_replied`.
    pub template: String,
    pub locale: String,
    /// `pending`, `sending`, `sent` or `dead`.
    pub status: String,
    pub attempts: i32,
    /// The last failure's short code (`smtp_550`, `sendgrid_429`, …).
    pub last_error: Option<String>,
    /// `a•••@example.com`.
    pub to_masked: String,
    pub provider: Option<String>,
    pub sent_ms: Option<i64>,
    /// When a pending email is tried next.
    pub next_attempt_ms: i64,
    /// Kept by the `log` provider: the admin may read it.
    pub readable: bool,
    /// Dead, or sent by the `log` provider: the admin may queue it again.
    pub resendable: bool,
}

/// A message kept by the `log` provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    pub id: String,
    pub subject: String,
    pub text: String,
}

/// The newest outbox emails (at most 200), optionally only those with `status`.
#[server(prefix = "/api", endpoint = "admin/emails")]
pub async fn admin_emails(status: Option<String>) -> Result<Vec<EmailRow>, AppError> {
    use crate::notifications::outbox::{self, OutboxStatus};
    let state = crate::platform::app_state()?;
    crate::access::require(crate::access::ADMIN)?;
    let status =
        match status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => Some(OutboxStatus::from_code(code).ok_or_else(|| {
                crate::platform::reject(AppError::invalid("status", "email.status"))
            })?),
        };
    let entries = outbox::list_recent(&state.db, status, 200)
        .await
        .map_err(|e| crate::platform::internal_error("admin_emails", &e))?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let kept = e.provider.as_deref() == Some(outbox::LOG_PROVIDER);
            let has_params = e.params.as_object().is_some_and(|p| !p.is_empty());
            EmailRow {
                readable: kept && has_params,
                resendable: has_params
                    && matches!(e.status, OutboxStatus::Dead | OutboxStatus::Sent),
                to_masked: outbox::mask_address(&e.to),
                template: e.template.code().to_owned(),
                locale: e.locale.code().to_owned(),
                status: e.status.code().to_owned(),
                id: e.id,
                created_ms: e.created_at,
                attempts: e.attempts,
                last_error: e.last_error,
                provider: e.provider,
                sent_ms: e.sent_at,
                next_attempt_ms: e.next_attempt_at,
            }
        })
        .collect())
}

/// Queues a dead (or `log`-sent) email again with a fresh set of attempts. Audited.
#[server(prefix = "/api", endpoint = "admin/resend_email")]
pub async fn admin_resend_email(id: String) -> Result<(), AppError> {
    use crate::audit::{self, AuditAction, AuditEvent, Outcome};
    use crate::notifications::outbox;
    let state = crate::platform::app_state()?;
    let admin = crate::access::require(crate::access::ADMIN)?;
    let failed = |e: &(dyn std::error::Error + 'static)| {
        crate::platform::internal_error("admin_resend_email", e)
    };
    let mut tx = state.db.pool().begin().await.map_err(|e| failed(&e))?;
    let requeued = outbox::requeue_in(&mut tx, id.trim(), crate::platform::db::now_ms())
        .await
        .map_err(|e| failed(&e))?;
    if !requeued {
        return Err(crate::platform::reject(AppError::Conflict {
            code: "email.not_resendable".into(),
        }));
    }
    let event = AuditEvent::new(AuditAction::EmailResent, Outcome::Success)
        .actor(&admin.user_id, admin.role.as_str())
        .subject(SUBJECT_EMAIL, id.trim());
    audit::record_in(&mut tx, event)
        .await
        .map_err(|e| failed(&e))?;
    tx.commit().await.map_err(|e| failed(&e))?;
    state.mailer.wake();
    Ok(())
}

/// The subject and plain text of an email the `log` provider kept. Audited: the text can
/// hold a name and a one-time link.
#[server(prefix = "/api", endpoint = "admin/email_message")]
pub async fn admin_email_message(id: String) -> Result<EmailMessage, AppError> {
    use crate::audit::{self, AuditAction, AuditEvent, Outcome};
    use crate::notifications::outbox;
    let state = crate::platform::app_state()?;
    let admin = crate::access::require(crate::access::ADMIN)?;
    let failed = |e: &(dyn std::error::Error + 'static)| {
        crate::platform::internal_error("admin_email_message", e)
    };
    let entry = outbox::get(&state.db, id.trim())
        .await
        .map_err(|e| failed(&e))?
        .ok_or_else(|| crate::platform::reject(AppError::NotFound))?;
    if entry.provider.as_deref() != Some(outbox::LOG_PROVIDER) {
        return Err(crate::platform::reject(AppError::Conflict {
            code: "email.not_readable".into(),
        }));
    }
    let Ok(message) = entry.rendered() else {
        return Err(crate::platform::reject(AppError::Conflict {
            code: "email.not_readable".into(),
        }));
    };
    let event = AuditEvent::new(AuditAction::EmailRead, Outcome::Success)
        .actor(&admin.user_id, admin.role.as_str())
        .subject(SUBJECT_EMAIL, &entry.id);
    audit::record(&state.db, event)
        .await
        .map_err(|e| failed(&e))?;
    Ok(EmailMessage {
        id: entry.id,
        subject: message.subject,
        text: message.text,
    })
}

/// The audit log's name for an outbox email as a subject.
#[cfg(feature = "ssr")]
pub const SUBJECT_EMAIL: &str = "email";

#[derive(Debug)]
pub struct EmailsText {
    pub title: &'static str,
    pub lead: &'static str,
    pub filter: &'static str,
    pub all: &'static str,
    pub show: &'static str,
    pub when: &'static str,
    pub template: &'static str,
    pub language: &'static str,
    pub to: &'static str,
    pub status: &'static str,
    pub attempts: &'static str,
    pub last_error: &'static str,
    pub actions: &'static str,
    pub resend: &'static str,
    pub read: &'static str,
    pub resent: &'static str,
    pub empty: &'static str,
    pub message_title: &'static str,
    pub subject: &'static str,
    pub next_attempt: &'static str,
    pub pending: &'static str,
    pub sending: &'static str,
    pub sent: &'static str,
    pub dead: &'static str,
}

impl EmailsText {
    /// A status code (`pending`, …) in words.
    pub fn status_name(&self, code: &str) -> &'static str {
        match code {
            "pending" => self.pending,
            "sending" => self.sending,
            "sent" => self.sent,
            _ => self.dead,
        }
    }
}

pub static EMAILS_TEXT: Translations<EmailsText> = Translations {
    en: EmailsText {
        title: "Emails",
        lead: "The newest emails in the outbox. Failed attempts are retried with a growing wait; after the last one an email is given up and waits here to be resent. Failure codes name the reason, for example smtp_550 (the server refused the address) or sendgrid_401 (the API key was refused).",
        filter: "Status",
        all: "All",
        show: "Show",
        when: "Queued (UTC)",
        template: "Email",
        language: "Language",
        to: "To",
        status: "Status",
        attempts: "Attempts",
        last_error: "Last failure",
        actions: "Actions",
        resend: "Resend",
        read: "Read",
        resent: "Queued again: it will be sent shortly.",
        empty: "No emails.",
        message_title: "Message kept by the log provider",
        subject: "Subject",
        next_attempt: "next try",
        pending: "waiting",
        sending: "sending",
        sent: "sent",
        dead: "given up",
    },
    sw: EmailsText {
        title: "Barua pepe",
        lead: "Barua pepe za karibuni kwenye foleni ya kutuma. Jaribio lililoshindwa hurudiwa baada ya muda unaoongezeka; baada ya jaribio la mwisho barua pepe huachwa na kusubiri hapa ili itumwe tena. Misimbo ya hitilafu hutaja sababu, kwa mfano smtp_550 (seva ilikataa anwani) au sendgrid_401 (ufunguo wa API ulikataliwa).",
        filter: "Hali",
        all: "Zote",
        show: "Onyesha",
        when: "Iliingizwa (UTC)",
        template: "Barua pepe",
        language: "Lugha",
        to: "Kwa",
        status: "Hali",
        attempts: "Majaribio",
        last_error: "Hitilafu ya mwisho",
        actions: "Vitendo",
        resend: "Tuma tena",
        read: "Soma",
        resent: "Imewekwa kwenye foleni tena: itatumwa hivi punde.",
        empty: "Hakuna barua pepe.",
        message_title: "Ujumbe uliohifadhiwa na mtoa huduma wa kumbukumbu",
        subject: "Kichwa",
        next_attempt: "jaribio lijalo",
        pending: "inasubiri",
        sending: "inatumwa",
        sent: "imetumwa",
        dead: "imeachwa",
    },
};

/// Conflict and validation messages: key, English, Swahili.
pub static MESSAGES: &[(&str, &str, &str)] = &[
    (
        "email.not_resendable",
        "This email cannot be resent: only given-up emails, and those the log provider kept, can.",
        "Barua pepe hii haiwezi kutumwa tena: zinazoweza ni zile zilizoachwa, na zile zilizohifadhiwa na mtoa huduma wa kumbukumbu.",
    ),
    (
        "email.not_readable",
        "Only messages kept by the log provider can be read here.",
        "Ujumbe unaoweza kusomwa hapa ni ule uliohifadhiwa na mtoa huduma wa kumbukumbu pekee.",
    ),
    (
        "email.status",
        "Choose a status from the list.",
        "Chagua hali kutoka kwenye orodha.",
    ),
];

#[component]
pub fn EmailsPage() -> impl IntoView {
    let t = use_strings(&EMAILS_TEXT);
    view! {
        <Title text=move || t().title />
        <section class="admin-page">
            <h1>{move || t().title}</h1>
            <AdminNav />
            <SignedIn>
                <Outbox />
            </SignedIn>
        </section>
    }
}

#[component]
fn Outbox() -> impl IntoView {
    let t = use_strings(&EMAILS_TEXT);
    let locale = use_locale();
    let query = use_query_map();
    let status = move || {
        query
            .with(|q| q.get("status"))
            .filter(|s| STATUSES.contains(&s.as_str()))
    };
    let resend = ServerAction::<AdminResendEmail>::new();
    let read = ServerAction::<AdminEmailMessage>::new();
    let emails = Resource::new(
        move || (status(), resend.version().get()),
        |(status, _)| admin_emails(status),
    );
    // One line for the result of the last action, read out by screen readers.
    let result = move || match resend.value().get() {
        Some(Ok(())) => t().resent.to_owned(),
        Some(Err(err)) => crate::accounts::strings::error_text(locale.get(), &err),
        None => String::new(),
    };
    view! {
        <p class="hint">{move || t().lead}</p>
        // A plain GET form: the filter works before the page is hydrated, and the address
        // (`?status=dead`) can be bookmarked.
        <form method="get" action="/admin/emails" class="filter" data-testid="email-filter">
            <div class="field">
                <label for="email-status">{move || t().filter}</label>
                <select id="email-status" name="status" prop:value=move || status().unwrap_or_default()>
                    <option value="">{move || t().all}</option>
                    {STATUSES
                        .into_iter()
                        .map(|code| view! {
                            <option value=code selected=move || status().as_deref() == Some(code)>
                                {move || t().status_name(code)}
                            </option>
                        })
                        .collect_view()}
                </select>
            </div>
            <button type="submit" class="button secondary small">{move || t().show}</button>
        </form>
        <p class="notice" role="status" aria-live="polite" data-testid="email-action-result">{result}</p>
        <Suspense fallback=|| ()>
            {move || emails.get().map(|list| match list {
                Ok(list) if list.is_empty() => view! { <p>{move || t().empty}</p> }.into_any(),
                Ok(list) => view! {
                    <table class="data-table" data-testid="emails-table">
                        <thead><tr>
                            <th scope="col">{move || t().when}</th>
                            <th scope="col">{move || t().template}</th>
                            <th scope="col">{move || t().language}</th>
                            <th scope="col">{move || t().to}</th>
                            <th scope="col">{move || t().status}</th>
                            <th scope="col">{move || t().attempts}</th>
                            <th scope="col">{move || t().last_error}</th>
                            <th scope="col"><span class="visually-hidden">{move || t().actions}</span></th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|e| view! { <EmailLine email=e resend read /> }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
                Err(err) => error_line(err).into_any(),
            })}
        </Suspense>
        <section class="card email-message" aria-live="polite" aria-labelledby="email-message-title" data-testid="email-message">
            <h2 id="email-message-title">{move || t().message_title}</h2>
            {move || read.value().get().map(|message| match message {
                Ok(message) => view! {
                    <p><strong>{move || t().subject} ": "</strong>{message.subject}</p>
                    <pre class="email-text">{message.text}</pre>
                }.into_any(),
                Err(err) => error_line(err).into_any(),
            })}
        </section>
    }
}

#[component]
fn EmailLine(
    email: EmailRow,
    resend: ServerAction<AdminResendEmail>,
    read: ServerAction<AdminEmailMessage>,
) -> impl IntoView {
    let t = use_strings(&EMAILS_TEXT);
    let status = email.status.clone();
    let retry = (email.status == "pending" && email.attempts > 0).then_some(email.next_attempt_ms);
    let (resend_id, read_id) = (email.id.clone(), email.id.clone());
    view! {
        <tr data-testid="email-row" data-status=email.status.clone()>
            <td>{when(email.created_ms)}</td>
            <td><code>{email.template.clone()}</code></td>
            <td>{email.locale.clone()}</td>
            <td>{email.to_masked.clone()}</td>
            <td>
                {move || t().status_name(&status)}
                {email.provider.clone().map(|p| view! { <span class="hint">" (" {p} ")"</span> })}
                {retry.map(|at| view! { <span class="hint">" · " {move || t().next_attempt} " " {when(at)}</span> })}
            </td>
            <td>{email.attempts}</td>
            <td>{email.last_error.clone().map(|code| view! { <code>{code}</code> })}</td>
            <td class="actions">
                {email.resendable.then(|| view! {
                    <button type="button" class="button small secondary" data-testid="email-resend"
                        on:click=move |_| { resend.dispatch(AdminResendEmail { id: resend_id.clone() }); }>
                        {move || t().resend}
                    </button>
                })}
                {email.readable.then(|| view! {
                    <button type="button" class="button small secondary" data-testid="email-read"
                        on:click=move |_| { read.dispatch(AdminEmailMessage { id: read_id.clone() }); }>
                        {move || t().read}
                    </button>
                })}
            </td>
        </tr>
    }
}
