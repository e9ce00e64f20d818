//! The "My data" page: the patient's history, the FHIR download, deleting the account.

use super::api::{DeleteAccount, timeline};
use super::strings::{RECORDS, RecordsText};
use super::types::{TimelineItem, TimelineKind};
use crate::forms::{Field, FormError, FormErrors, go_to, when};
use crate::i18n::{Locale, use_locale, use_strings};
use crate::layout::SignedIn;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MyDataPage() -> impl IntoView {
    let t = use_strings(&RECORDS);
    view! {
        <Title text=move || t().title />
        <section class="form-page wide">
            <h1>{move || t().title}</h1>
            <p class="lead">{move || t().lead}</p>
            <SignedIn>
                <Timeline />
                <section class="card" aria-labelledby="export-title">
                    <h2 id="export-title">{move || t().export_title}</h2>
                    <p>{move || t().export_lead}</p>
                    <a class="button" href="/api/records/fhir" download="tabibu-record.fhir.json" data-testid="download-fhir">
                        {move || t().export_button}
                    </a>
                </section>
                <DeleteAccountForm />
            </SignedIn>
        </section>
    }
}

fn kind_label(t: &'static RecordsText, kind: TimelineKind) -> &'static str {
    match kind {
        TimelineKind::Conversation => t.kind_conversation,
        TimelineKind::TriageResult => t.kind_triage,
        TimelineKind::Document => t.kind_document,
        TimelineKind::Consultation => t.kind_consultation,
        TimelineKind::Payment => t.kind_payment,
    }
}

fn detail_label(t: &'static RecordsText, locale: Locale, detail: &str) -> String {
    match detail {
        "emergency" => t.level_emergency.to_owned(),
        "urgent" => t.level_urgent.to_owned(),
        "routine" => t.level_routine.to_owned(),
        "self_care" => t.level_self_care.to_owned(),
        other => match crate::consultations::Status::parse(other) {
            Some(status) => crate::consultations::strings::CONSULT
                .get(locale)
                .status(status)
                .to_owned(),
            None => match crate::payments::PaymentState::parse(other) {
                Some(state) => crate::payments::strings::PAYMENTS
                    .get(locale)
                    .state(state)
                    .to_owned(),
                None => other.replace('_', " "),
            },
        },
    }
}

#[component]
fn Timeline() -> impl IntoView {
    let t = use_strings(&RECORDS);
    let locale = use_locale();
    let items = Resource::new(|| (), |()| timeline());
    let row = move |item: TimelineItem| {
        let detail = item.detail.clone();
        view! {
            <li class="timeline-item" data-testid="timeline-item" data-kind=format!("{:?}", item.kind)>
                <time>{when(item.at_ms)}</time>
                <span class="timeline-kind">{move || kind_label(t(), item.kind)}</span>
                {detail.map(|d| view! { <span class="badge">{move || detail_label(t(), locale.get(), &d)}</span> })}
                <a href=item.link.clone()>{move || t().open}</a>
            </li>
        }
    };
    view! {
        <section class="card" aria-labelledby="timeline-title">
            <h2 id="timeline-title">{move || t().timeline_title}</h2>
            <Suspense fallback=move || view! { <p role="status">{move || t().loading}</p> }>
                {move || {
                    items
                        .get()
                        .map(|result| match result {
                            Ok(list) if list.is_empty() => {
                                view! { <p data-testid="timeline-empty">{move || t().timeline_empty}</p> }
                                    .into_any()
                            }
                            Ok(list) => {
                                view! {
                                    <ol class="timeline">{list.into_iter().map(row).collect_view()}</ol>
                                }
                                    .into_any()
                            }
                            Err(err) => {
                                view! {
                                    <p class="form-error" role="alert">
                                        {move || crate::accounts::strings::error_text(locale.get(), &err)}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn DeleteAccountForm() -> impl IntoView {
    let t = use_strings(&RECORDS);
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let done = RwSignal::new(false);
    let action = ServerAction::<DeleteAccount>::new();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => {
            done.set(true);
            go_to("/");
        }
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        if !super::strings::is_confirmation(&confirm.get()) {
            errors.set_field("confirm", "delete.confirm_word");
            return;
        }
        action.dispatch(DeleteAccount {
            password: password.get(),
            confirm: confirm.get(),
        });
    };
    view! {
        <section class="card danger-zone" aria-labelledby="delete-title">
            <h2 id="delete-title">{move || t().delete_title}</h2>
            <p>{move || t().delete_lead}</p>
            <form method="post" action="/api/records/delete_account" on:submit=submit novalidate data-testid="delete-form">
                <FormError errors />
                <Field label=Signal::derive(move || t().password) name="password" kind="password" value=password error=errors.field("current_password") autocomplete="current-password" required=true />
                <Field label=Signal::derive(move || t().confirm_label) name="confirm" value=confirm error=errors.field("confirm") required=true />
                <button type="submit" class="button danger" disabled=move || action.pending().get() data-testid="delete-account">
                    {move || t().delete_button}
                </button>
                <p class="notice" role="status">{move || done.get().then(|| t().deleted)}</p>
            </form>
        </section>
    }
}
