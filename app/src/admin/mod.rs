//! The admins' pages: the users list (create doctors, disable and re-enable accounts), the
//! audit log, and the email outbox ([`emails`]). Every server function here is admin-only by
//! the access table. [`AdminNav`] links the admin pages to one another.

pub mod emails;

use crate::accounts::api::{AdminCreateUser, AdminSetUserActive, admin_list_users};
use crate::accounts::strings::{ACCOUNTS, error_text};
use crate::accounts::types::Role;
use crate::error::AppError;
use crate::forms::{Field, FormError, FormErrors};
use crate::i18n::{Translations, use_locale, use_strings};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug)]
pub struct AdminText {
    pub users_title: &'static str,
    pub audit_title: &'static str,
    pub create_heading: &'static str,
    pub create_submit: &'static str,
    pub created_link: &'static str,
    pub role: &'static str,
    pub status: &'static str,
    pub active: &'static str,
    pub disabled: &'static str,
    pub disable: &'static str,
    pub enable: &'static str,
    pub when: &'static str,
    pub action: &'static str,
    pub actor: &'static str,
    pub subject: &'static str,
    pub outcome: &'static str,
    pub older: &'static str,
    pub nav_label: &'static str,
}

pub static ADMIN: Translations<AdminText> = Translations {
    en: AdminText {
        users_title: "Users",
        audit_title: "Audit log",
        create_heading: "Create a doctor account",
        create_submit: "Create account",
        created_link: "Account created. The set-password link was emailed; you can also hand it over:",
        role: "Role",
        status: "Status",
        active: "active",
        disabled: "disabled",
        disable: "Disable",
        enable: "Enable",
        when: "When (UTC)",
        action: "Action",
        actor: "Who",
        subject: "On",
        outcome: "Outcome",
        older: "Older entries",
        nav_label: "Administration",
    },
    sw: AdminText {
        users_title: "Watumiaji",
        audit_title: "Kumbukumbu za ukaguzi",
        create_heading: "Unda akaunti ya daktari",
        create_submit: "Unda akaunti",
        created_link: "Akaunti imeundwa. Kiungo cha kuweka nenosiri kimetumwa kwa barua pepe; unaweza pia kukikabidhi:",
        role: "Wadhifa",
        status: "Hali",
        active: "hai",
        disabled: "imezimwa",
        disable: "Zima",
        enable: "Washa",
        when: "Lini (UTC)",
        action: "Kitendo",
        actor: "Nani",
        subject: "Juu ya",
        outcome: "Matokeo",
        older: "Za zamani zaidi",
        nav_label: "Usimamizi",
    },
};

/// One audit entry as the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub outcome: String,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// A page of the audit log, newest first, before `before_seq` when given.
#[server(prefix = "/api", endpoint = "admin/audit_log")]
pub async fn admin_audit_log(before_seq: Option<i64>) -> Result<Vec<AuditRow>, AppError> {
    use crate::audit::{self, AuditFilter, Party};
    let state = crate::platform::app_state()?;
    crate::access::require(crate::access::ADMIN)?;
    let filter = AuditFilter {
        before_seq,
        limit: 100,
        ..AuditFilter::default()
    };
    let entries = audit::list(&state.db, &filter)
        .await
        .map_err(|e| crate::platform::internal_error("admin_audit_log", &e))?;
    let party = |p: Option<Party>| {
        p.map(|p| match p {
            Party::Known(id) => id,
            Party::Pseudonymised(alias) => format!("(deleted) {alias}"),
        })
    };
    Ok(entries
        .into_iter()
        .map(|e| AuditRow {
            seq: e.seq,
            at_ms: e.at_ms,
            actor: party(e.actor),
            actor_role: e.actor_role,
            action: e.action,
            subject: party(e.subject),
            outcome: e.outcome,
            ip: e.ip,
            detail: e.detail,
        })
        .collect())
}

/// The links between the admin pages, at the top of each.
#[component]
pub fn AdminNav() -> impl IntoView {
    let t = use_strings(&ADMIN);
    let cases = use_strings(&crate::dashboard::strings::DASHBOARD);
    let emails = use_strings(&emails::EMAILS_TEXT);
    let payments = use_strings(&crate::payments::strings::PAYMENTS);
    view! {
        <nav class="admin-nav" aria-label=move || t().nav_label>
            <a href="/admin/users">{move || t().users_title}</a>
            <a href="/admin/audit">{move || t().audit_title}</a>
            <a href="/admin/cases" data-testid="nav-cases">{move || cases().oversight_title}</a>
            <a href="/admin/emails" data-testid="nav-emails">{move || emails().title}</a>
            <a href="/admin/payments" data-testid="nav-payments">{move || payments().admin_title}</a>
        </nav>
    }
}

fn when(ms: i64) -> String {
    let (y, m, d) = crate::accounts::validate::civil_date(ms);
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let t = use_strings(&ADMIN);
    let a = use_strings(&ACCOUNTS);
    let locale = use_locale();
    let set_active = ServerAction::<AdminSetUserActive>::new();
    let create = ServerAction::<AdminCreateUser>::new();
    let users = Resource::new(
        move || (set_active.version().get(), create.version().get()),
        |_| admin_list_users(),
    );
    let (email, name) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let errors = FormErrors::new();
    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => {
            email.set(String::new());
            name.set(String::new());
        }
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let row_error = RwSignal::new(None::<AppError>);
    Effect::new(move |_| {
        if let Some(Err(err)) = set_active.value().get() {
            row_error.set(Some(err));
        }
    });
    view! {
        <Title text=move || t().users_title />
        <section class="admin-page">
            <h1>{move || t().users_title}</h1>
            <AdminNav />
            <section class="card" aria-labelledby="create-heading">
                <h2 id="create-heading">{move || t().create_heading}</h2>
                <form
                    novalidate
                    data-testid="create-doctor-form"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        errors.clear();
                        create.dispatch(AdminCreateUser { email: email.get(), name: name.get(), role: Role::Doctor });
                    }
                >
                    <FormError errors />
                    <Field label=Signal::derive(move || a().name) name="name" value=name error=errors.field("name") required=true />
                    <Field label=Signal::derive(move || a().email) name="email" kind="email" value=email error=errors.field("email") required=true />
                    <button type="submit" class="button" disabled=move || create.pending().get() data-testid="create-doctor">
                        {move || t().create_submit}
                    </button>
                </form>
                {move || {
                    create
                        .value()
                        .get()
                        .and_then(Result::ok)
                        .map(|link| {
                            view! {
                                <p class="notice" role="status">{move || t().created_link}</p>
                                <p><code class="link" data-testid="set-password-link">{link}</code></p>
                            }
                        })
                }}
            </section>
            <p class="form-error" role="alert">{move || row_error.get().map(|e| error_text(locale.get(), &e))}</p>
            <Suspense fallback=|| ()>
                <table class="data-table" data-testid="users-table">
                    <thead>
                        <tr>
                            <th scope="col">{move || a().name}</th>
                            <th scope="col">{move || a().email}</th>
                            <th scope="col">{move || t().role}</th>
                            <th scope="col">{move || t().status}</th>
                            <th scope="col"><span class="visually-hidden">{move || t().action}</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            users
                                .get()
                                .and_then(Result::ok)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|u| {
                                    let id = u.id.clone();
                                    let active = u.active;
                                    view! {
                                        <tr data-testid="user-row">
                                            <td>{u.name.clone()}</td>
                                            <td>{u.email.clone()}</td>
                                            <td>{u.role.as_str()}</td>
                                            <td>{move || if active { t().active } else { t().disabled }}</td>
                                            <td>
                                                <button
                                                    type="button"
                                                    class="button secondary small"
                                                    on:click=move |_| {
                                                        set_active.dispatch(AdminSetUserActive { user_id: id.clone(), active: !active });
                                                    }
                                                >
                                                    {move || if active { t().disable } else { t().enable }}
                                                </button>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </Suspense>
        </section>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let t = use_strings(&ADMIN);
    let before = RwSignal::new(None::<i64>);
    let entries = Resource::new(move || before.get(), admin_audit_log);
    view! {
        <Title text=move || t().audit_title />
        <section class="admin-page">
            <h1>{move || t().audit_title}</h1>
            <AdminNav />
            <Suspense fallback=|| ()>
                <table class="data-table" data-testid="audit-table">
                    <thead>
                        <tr>
                            <th scope="col">"#"</th>
                            <th scope="col">{move || t().when}</th>
                            <th scope="col">{move || t().action}</th>
                            <th scope="col">{move || t().outcome}</th>
                            <th scope="col">{move || t().actor}</th>
                            <th scope="col">{move || t().subject}</th>
                            <th scope="col">"IP"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            entries
                                .get()
                                .and_then(Result::ok)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|e| {
                                    view! {
                                        <tr data-testid="audit-row">
                                            <td>{e.seq}</td>
                                            <td>{when(e.at_ms)}</td>
                                            <td>
                                                {e.action.clone()}
                                                {e.detail.clone().map(|d| view! { <span class="hint">" (" {d} ")"</span> })}
                                            </td>
                                            <td>{e.outcome.clone()}</td>
                                            <td>{e.actor.clone().unwrap_or_default()} " " {e.actor_role.clone().unwrap_or_default()}</td>
                                            <td>{e.subject.clone().unwrap_or_default()}</td>
                                            <td>{e.ip.clone().unwrap_or_default()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
                <button
                    type="button"
                    class="button secondary"
                    on:click=move |_| {
                        let oldest = entries.get().and_then(Result::ok).and_then(|v| v.last().map(|e| e.seq));
                        if oldest.is_some() {
                            before.set(oldest);
                        }
                    }
                >
                    {move || t().older}
                </button>
            </Suspense>
        </section>
    }
}
