//! The payment step on a patient's consultation page, and the admins' payments page.
//!
//! The step follows the live event stream like the rest of the consultation page: once the
//! payer confirms on their phone, M-Pesa's callback settles the payment, a live event arrives
//! and the step turns from "check your phone" to "paid" by itself.

use super::api::{PayForConsultation, admin_payments, consultation_payment};
use super::strings::{PAYMENTS, PaymentText};
use super::types::{PaymentPanel, PaymentState, PaymentView};
use crate::consultations::pages::fresh_key;
use crate::error::AppError;
use crate::events::client::LiveEvents;
use crate::forms::{Field, FormError, FormErrors, error_line, when};
use crate::i18n::use_strings;
use leptos::prelude::*;
use leptos_meta::Title;

fn fill(template: &str, key: &str, value: &str) -> String {
    template.replace(&format!("{{{key}}}"), value)
}

/// What the payment form keeps while the panel around it is fetched again: made once per page,
/// so a live event arriving while the patient types (the stream opening, a message) neither
/// clears the number nor loses an answer on its way.
#[derive(Clone, Copy)]
struct PayState {
    phone: RwSignal<String>,
    errors: FormErrors,
    action: ServerAction<PayForConsultation>,
    /// One key per attempt: a resubmit after a lost answer is the same payment.
    key: StoredValue<Option<String>>,
    consultation_id: StoredValue<String>,
}

/// The payment part of one consultation: nothing when it is free, else the fee, the form, the
/// "check your phone" notice while M-Pesa waits for the payer, and the receipt once paid.
#[component]
pub fn PaymentStep(consultation_id: String, live: LiveEvents) -> impl IntoView {
    let t = use_strings(&PAYMENTS);
    let id = StoredValue::new(consultation_id);
    let panel = Resource::new(
        move || (id.get_value(), live.version.get()),
        |(id, _)| consultation_payment(id),
    );
    let form = PayState {
        phone: RwSignal::new(String::new()),
        errors: FormErrors::new(),
        action: ServerAction::<PayForConsultation>::new(),
        key: StoredValue::new(None),
        consultation_id: id,
    };
    // The number from the profile, until the patient types one.
    Effect::new(move |_| {
        if let Some(Ok(Some(p))) = panel.get()
            && let Some(profile_phone) = p.profile_phone
            && form.phone.get_untracked().is_empty()
        {
            form.phone.set(profile_phone);
        }
    });
    Effect::new(move |_| match form.action.value().get() {
        Some(Ok(_)) => {
            form.key.set_value(None);
            panel.refetch();
        }
        Some(Err(AppError::Transport)) => {}
        Some(Err(err)) => {
            form.key.set_value(None);
            form.errors.show(err);
        }
        None => {}
    });
    view! {
        <Suspense fallback=move || view! { <p role="status">{move || t().loading}</p> }>
            {move || {
                panel.get().map(|result| match result {
                    Ok(Some(p)) => view! { <Panel panel=p form /> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(err) => error_line(err).into_any(),
                })
            }}
        </Suspense>
    }
}

fn outcome_line(t: &'static PaymentText, state: PaymentState) -> Option<&'static str> {
    match state {
        PaymentState::Cancelled => Some(t.cancelled_line),
        PaymentState::Failed => Some(t.failed_line),
        PaymentState::Expired => Some(t.expired_line),
        PaymentState::Pending | PaymentState::Paid => None,
    }
}

#[component]
fn Panel(panel: PaymentPanel, form: PayState) -> impl IntoView {
    let t = use_strings(&PAYMENTS);
    let fee = panel.fee_kes.to_string();
    let state = panel.latest.as_ref().map(|p| p.state);
    let body = match (state, panel.latest.clone()) {
        (Some(PaymentState::Paid), Some(p)) => view! { <Paid payment=p /> }.into_any(),
        (Some(PaymentState::Pending), Some(p)) => view! {
            <div class="notice" role="status" aria-live="polite" data-testid="check-phone">
                <h3>{move || t().check_phone_title}</h3>
                <p>{move || fill(t().check_phone, "phone", &p.phone_hint)}</p>
            </div>
        }
        .into_any(),
        (last, _) => view! {
            {last.and_then(|s| outcome_line(t(), s)).map(|line| view! {
                <p class="notice warning" role="status" data-testid="payment-outcome">
                    {move || line} " " {move || t().try_again}
                </p>
            })}
            <PayForm form />
        }
        .into_any(),
    };
    view! {
        <section class="card payment" aria-labelledby="payment-title" data-testid="payment-step"
            data-state=state.map_or("due", PaymentState::as_str)>
            <h2 id="payment-title">{move || t().title}</h2>
            <p data-testid="fee">{move || fill(t().fee_line, "amount", &fee)}</p>
            {body}
        </section>
    }
}

#[component]
fn Paid(payment: PaymentView) -> impl IntoView {
    let t = use_strings(&PAYMENTS);
    view! {
        <div data-testid="paid">
            <p><strong>{move || t().paid_title}</strong>" — "{move || t().paid_line}</p>
            {match payment.receipt {
                Some(receipt) => view! {
                    <p>{move || t().receipt}": "<strong data-testid="receipt">{receipt.clone()}</strong></p>
                }.into_any(),
                None => view! { <p>{move || t().receipt_pending}</p> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn PayForm(form: PayState) -> impl IntoView {
    let t = use_strings(&PAYMENTS);
    let PayState {
        phone,
        errors,
        action,
        key,
        consultation_id,
    } = form;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        if let Err(err) = super::validate::mpesa_phone(&phone.get()) {
            errors.show(err);
            return;
        }
        let request_key = key.get_value().unwrap_or_else(fresh_key);
        key.set_value(Some(request_key.clone()));
        action.dispatch(PayForConsultation {
            consultation_id: consultation_id.get_value(),
            phone: phone.get(),
            request_key,
        });
    };
    view! {
        <p>{move || t().explain}</p>
        <form on:submit=submit novalidate data-testid="pay-form">
            <FormError errors />
            <Field
                label=Signal::derive(move || t().phone_label)
                name="phone"
                kind="tel"
                value=phone
                error=errors.field("phone")
                autocomplete="tel"
                hint=Signal::derive(move || t().phone_hint)
                required=true
            />
            <button type="submit" class="button" disabled=move || action.pending().get() data-testid="pay">
                {move || if action.pending().get() { t().paying } else { t().pay }}
            </button>
        </form>
    }
}

/// `/admin/payments`: the latest payments, totals per state, and the CSV export.
#[component]
pub fn PaymentsPage() -> impl IntoView {
    let t = use_strings(&PAYMENTS);
    let only = RwSignal::new(String::new());
    let shown = RwSignal::new(None::<String>);
    let overview = Resource::new(move || shown.get(), admin_payments);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = only.get();
        shown.set((!value.is_empty()).then_some(value));
    };
    view! {
        <Title text=move || t().admin_title />
        <section class="admin-page">
            <h1>{move || t().admin_title}</h1>
            <crate::admin::AdminNav />
            <p>{move || t().admin_intro}</p>
            <form class="inline-form" on:submit=submit data-testid="payments-filter">
                <label for="payments-state">{move || t().filter_label}</label>
                <select id="payments-state" name="only" on:change=move |ev| only.set(event_target_value(&ev))>
                    <option value="">{move || t().filter_all}</option>
                    {PaymentState::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str()>{move || t().state(s)}</option>
                    }).collect_view()}
                </select>
                <button type="submit" class="button secondary">{move || t().show}</button>
                " "
                <a class="button secondary" href="/api/admin/payments.csv" download data-testid="payments-csv">{move || t().export}</a>
            </form>
            <Suspense fallback=move || view! { <p role="status">{move || t().loading}</p> }>
                {move || overview.get().map(|result| match result {
                    Ok(o) => view! { <Overview overview=o /> }.into_any(),
                    Err(err) => error_line(err).into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Overview(overview: super::types::PaymentsOverview) -> impl IntoView {
    let t = use_strings(&PAYMENTS);
    let empty = overview.rows.is_empty();
    view! {
        <h2>{move || t().totals_title}</h2>
        <table class="data-table" data-testid="payment-totals">
            <thead><tr>
                <th scope="col">{move || t().col_state}</th>
                <th scope="col">{move || t().col_count}</th>
                <th scope="col">{move || t().col_sum}</th>
            </tr></thead>
            <tbody>
                {overview.totals.into_iter().map(|(state, count, sum)| view! {
                    <tr><th scope="row">{move || t().state(state)}</th><td>{count}</td><td>{sum}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <p data-testid="unmatched-callbacks">{move || t().unmatched}": "{overview.unmatched_callbacks}</p>
        {empty.then(|| view! { <p>{move || t().none}</p> })}
        <table class="data-table" data-testid="payments-table">
            <thead><tr>
                <th scope="col">{move || t().col_when}</th>
                <th scope="col">{move || t().col_state}</th>
                <th scope="col">{move || t().col_amount}</th>
                <th scope="col">{move || t().col_receipt}</th>
                <th scope="col">{move || t().col_phone}</th>
                <th scope="col">{move || t().col_code}</th>
                <th scope="col">{move || t().col_consultation}</th>
            </tr></thead>
            <tbody>
                {overview.rows.into_iter().map(|p| view! {
                    <tr data-testid="payment-row" data-state=p.state.as_str()>
                        <td>{when(p.created_ms)}</td>
                        <td>{move || t().state(p.state)}</td>
                        <td>{p.amount_kes}</td>
                        <td>{p.receipt.clone().unwrap_or_default()}</td>
                        <td>{p.phone_hint.clone()}</td>
                        <td>{p.result_code.clone().unwrap_or_default()}</td>
                        <td>{p.consultation_id.clone().map(|c| c.chars().take(8).collect::<String>()).unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
