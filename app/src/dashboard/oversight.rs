//! The admins' view of the doctors' work (`/admin/cases`): the cases doctors hold, to put a
//! stale claim back in the queue, and every break-glass access with its reason. Nothing here
//! shows a patient's data.

use super::strings::DASHBOARD;
use crate::consultations::api::{Release, break_glass_log, held_cases};
use crate::consultations::strings::CONSULT;
use crate::forms::{error_line, when};
use crate::i18n::use_strings;
use crate::layout::SignedIn;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn OversightPage() -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    view! {
        <Title text=move || t().oversight_title />
        <section class="admin-page">
            <h1>{move || t().oversight_title}</h1>
            <crate::admin::AdminNav />
            <SignedIn>
                <HeldCases />
                <BreakGlassLog />
            </SignedIn>
        </section>
    }
}

#[component]
fn HeldCases() -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let c = use_strings(&CONSULT);
    let release = ServerAction::<Release>::new();
    let cases = Resource::new(move || release.version().get(), |_| held_cases());
    view! {
        <section class="card" aria-labelledby="held-title">
            <h2 id="held-title">{move || t().held_title}</h2>
            <Suspense fallback=|| ()>
                {move || cases.get().map(|result| match result {
                    Ok(list) => view! {
                        <table class="data-table" data-testid="held-cases">
                            <thead><tr>
                                <th scope="col">{move || c().level_label}</th>
                                <th scope="col">{move || c().doctor_label}</th>
                                <th scope="col">{move || t().held_since}</th>
                                <th scope="col">{move || c().status_label}</th>
                                <th scope="col"><span class="visually-hidden">{move || t().release}</span></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|h| {
                                    let id = h.id.clone();
                                    view! {
                                        <tr data-testid="held-case">
                                            <td>{move || c().level(h.level)}</td>
                                            <td>{h.doctor_name.clone()}</td>
                                            <td>{when(h.claimed_ms)}</td>
                                            <td>{move || c().status(h.status)}</td>
                                            <td>
                                                <button type="button" class="button small secondary" data-testid="admin-release"
                                                    on:click=move |_| { release.dispatch(Release { id: id.clone() }); }>
                                                    {move || t().release}
                                                </button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(err) => error_line(err).into_any(),
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

#[component]
fn BreakGlassLog() -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let log = Resource::new(|| (), |_| break_glass_log());
    view! {
        <section class="card" aria-labelledby="glass-log-title">
            <h2 id="glass-log-title">{move || t().glass_log_title}</h2>
            <Suspense fallback=|| ()>
                {move || log.get().map(|result| match result {
                    Ok(list) => view! {
                        <table class="data-table" data-testid="break-glass-log">
                            <thead><tr>
                                <th scope="col">{move || t().held_since}</th>
                                <th scope="col">{move || t().handover_to}</th>
                                <th scope="col">{move || t().reason}</th>
                                <th scope="col">{move || t().case_title}</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|g| view! {
                                    <tr>
                                        <td>{when(g.created_ms)}</td>
                                        <td>{g.doctor_name.clone()}</td>
                                        <td>{g.reason.clone()}</td>
                                        <td><code>{g.consultation_id.clone()}</code></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(err) => error_line(err).into_any(),
                })}
            </Suspense>
        </section>
    }
    .into_any()
}
