//! The doctors' pages: the live queue (`/doctor`) and the case view (`/doctor/cases/{id}`).

use super::cue::{self, use_clock, waited};
use super::strings::{DASHBOARD, DashboardText};
use crate::consultations::api::{
    AddNote, BreakGlass, Claim, Close, OverrideLevel, Reassign, Release, case, doctors, queue,
};
use crate::consultations::pages::{Compose, Thread, TypingNotice};
use crate::consultations::strings::CONSULT;
use crate::consultations::types::{CaseDetail, QueueItem, Status};
use crate::error::AppError;
use crate::events::client::{LiveEvents, use_live_events};
use crate::forms::{Field, FormError, FormErrors, TextAreaField, error_line, go_to};
use crate::i18n::use_strings;
use crate::layout::SignedIn;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tabibu_ai::TriageLevel;

fn sex_label(t: &'static DashboardText, sex: Option<&str>) -> &'static str {
    match sex {
        Some("female") => t.female,
        Some("male") => t.male,
        Some(_) => t.other_sex,
        None => "–",
    }
}

#[component]
pub fn QueuePage() -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    view! {
        <Title text=move || t().queue_title />
        <section class="dashboard">
            <h1>{move || t().queue_title}</h1>
            <p class="lead">{move || t().queue_lead}</p>
            <SignedIn>
                <Queue />
            </SignedIn>
        </section>
    }
}

#[component]
fn Queue() -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let c = use_strings(&CONSULT);
    let live = use_live_events();
    let now = use_clock();
    let items = Resource::new(move || live.version.get(), |_| queue());
    let muted = RwSignal::new(false);
    Effect::new(move |_| muted.set(cue::load_muted()));
    // Emergencies waiting when the page opened are not news; any that arrive later are.
    let known = StoredValue::new(None::<Vec<String>>);
    let alert = RwSignal::new(false);
    Effect::new(move |_| {
        let Some(Ok(list)) = items.get() else {
            return;
        };
        let emergencies: Vec<String> = list
            .iter()
            .filter(|i| i.level == TriageLevel::Emergency && i.status == Status::Waiting)
            .map(|i| i.id.clone())
            .collect();
        let fresh = known.with_value(|k| {
            k.as_ref()
                .is_some_and(|k| emergencies.iter().any(|e| !k.contains(e)))
        });
        if fresh {
            alert.set(true);
            if !muted.get_untracked() {
                cue::chime();
            }
        }
        known.set_value(Some(emergencies));
    });
    let selected = RwSignal::new(0_usize);
    let claim = ServerAction::<Claim>::new();
    let claim_error = RwSignal::new(None::<AppError>);
    let claiming = StoredValue::new(String::new());
    Effect::new(move |_| match claim.value().get() {
        Some(Ok(())) => go_to(&format!("/doctor/cases/{}", claiming.get_value())),
        Some(Err(err)) => claim_error.set(Some(err)),
        None => {}
    });
    let do_claim = move |id: String| {
        claim_error.set(None);
        claiming.set_value(id.clone());
        claim.dispatch(Claim { id });
    };
    #[cfg(feature = "hydrate")]
    let current = move || -> Option<QueueItem> {
        items
            .get_untracked()
            .and_then(|r| r.ok())
            .and_then(|list| list.get(selected.get_untracked()).cloned())
    };
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            use wasm_bindgen::JsCast;
            let typing_in_a_field = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| {
                    matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                });
            if typing_in_a_field || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            let count = items
                .get_untracked()
                .and_then(|r| r.ok())
                .map_or(0, |l| l.len());
            match ev.key().as_str() {
                "j" | "ArrowDown" if count > 0 => {
                    ev.prevent_default();
                    selected.update(|s| *s = (*s + 1).min(count - 1));
                }
                "k" | "ArrowUp" if count > 0 => {
                    ev.prevent_default();
                    selected.update(|s| *s = s.saturating_sub(1));
                }
                "c" => {
                    if let Some(item) = current().filter(|i| i.status == Status::Waiting) {
                        do_claim(item.id);
                    }
                }
                "Enter" => {
                    if let Some(item) = current().filter(|i| i.mine) {
                        go_to(&format!("/doctor/cases/{}", item.id));
                    }
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }
    let row = move |(index, item): (usize, QueueItem)| {
        let id = item.id.clone();
        let level = item.level;
        let since = item.waiting_since_ms;
        let who = match (&item.doctor_name, item.mine) {
            (_, true) => Some(t().yours.to_owned()),
            (Some(name), false) => Some(format!("{} {name}", t().taken_by)),
            (None, false) => None,
        };
        let action = if item.mine {
            let href = format!("/doctor/cases/{id}");
            view! { <a class="button small" href=href data-testid="open-case">{move || t().open}</a> }.into_any()
        } else if item.status == Status::Waiting {
            let id = id.clone();
            view! {
                <button type="button" class="button small" data-testid="claim"
                    disabled=move || claim.pending().get()
                    on:click=move |_| do_claim(id.clone())>
                    {move || t().claim}
                </button>
            }
            .into_any()
        } else {
            let href = format!("/doctor/cases/{id}");
            view! { <a href=href data-testid="view-case">{move || t().break_glass_title}</a> }
                .into_any()
        };
        let age = item.age_years.map(|a| format!("{a} {}", t().years));
        let sex = item.sex.clone();
        let fee = item.fee_paid_kes;
        let reasons = item
            .reasons
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ");
        view! {
            <li class="queue-item" class:emergency=level == TriageLevel::Emergency
                class:selected=move || selected.get() == index
                data-testid="queue-item" data-id=id.clone() data-level=level.as_str()
                aria-current=move || (selected.get() == index).then_some("true")>
                <div class="queue-main">
                    <span class=format!("badge level-{}", level.as_str())>{move || c().level(level)}</span>
                    {item.red_flag.then(|| view! { <span class="red-flag">"⚠ " {move || t().red_flag}</span> })}
                    <strong class="complaint">{item.chief_complaint.clone()}</strong>
                </div>
                <div class="queue-meta">
                    <span>{age.unwrap_or_else(|| "–".to_owned())} ", " {move || sex_label(t(), sex.as_deref())}</span>
                    <span>{move || t().waiting_for} " " <time data-testid="waiting">{move || waited(since, now.get())}</time></span>
                    {who.map(|w| view! { <span class="badge">{w}</span> })}
                    <span class="badge payment" data-testid="payment-badge">
                        {move || match fee {
                            Some(kes) => format!("{} · KES {kes}", t().paid),
                            None => t().free.to_owned(),
                        }}
                    </span>
                </div>
                <p class="queue-reasons">{reasons}</p>
                <div class="queue-action">{action}</div>
            </li>
        }
    };
    view! {
        <div class="dashboard-tools">
            <button type="button" class="button secondary small" data-testid="mute"
                aria-pressed=move || muted.get().to_string()
                on:click=move |_| {
                    let now_muted = !muted.get();
                    muted.set(now_muted);
                    cue::save_muted(now_muted);
                }>
                {move || if muted.get() { t().unmute } else { t().mute }}
            </button>
            <p class="hint">{move || t().shortcuts}</p>
        </div>
        <Show when=move || !live.online.get()>
            <p class="notice offline" role="status" data-testid="offline">{move || c().offline}</p>
        </Show>
        <Show when=move || alert.get()>
            <p class="emergency-alert" role="alert" data-testid="emergency-alert">
                {move || t().new_emergency}
                " "
                <button type="button" class="link-button" on:click=move |_| alert.set(false)>"×"</button>
            </p>
        </Show>
        {move || claim_error.get().map(error_line)}
        <Suspense fallback=move || view! { <p role="status">{move || c().loading}</p> }>
            {move || {
                items.get().map(|result| match result {
                    Ok(list) if list.is_empty() => view! { <p data-testid="queue-empty">{move || t().queue_empty}</p> }.into_any(),
                    Ok(list) => view! {
                        <ol class="queue" data-testid="queue">{list.into_iter().enumerate().map(row).collect_view()}</ol>
                    }.into_any(),
                    Err(err) => error_line(err).into_any(),
                })
            }}
        </Suspense>
    }
}

#[component]
pub fn CasePage() -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    view! {
        <Title text=move || t().case_title />
        <section class="dashboard">
            <p><a href="/doctor" data-testid="back-to-queue">{move || t().back_to_queue}</a></p>
            <SignedIn>
                <CaseView />
            </SignedIn>
        </section>
    }
}

#[component]
fn CaseView() -> impl IntoView {
    let c = use_strings(&CONSULT);
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id")).unwrap_or_default());
    let live = use_live_events();
    // Fetch again for events about this case, and after a reconnect; not for other cases.
    let version = RwSignal::new(0_u64);
    Effect::new(move |last_seen: Option<Option<i64>>| {
        live.version.track();
        let last = live.last.get_untracked();
        let last_id = last.as_ref().map(|e| e.id);
        let reconnect = last_seen.is_some_and(|seen| seen == last_id);
        let here = last
            .as_ref()
            .is_some_and(|e| e.consultation_id.as_deref() == Some(id.get_untracked().as_str()));
        if last_seen.is_some() && (here || reconnect) {
            version.update(|v| *v += 1);
        }
        last_id
    });
    let detail = Resource::new(move || (id.get(), version.get()), |(id, _)| case(id));
    // The forms stay put while the case above them follows the events, so what is being typed
    // survives a message arriving. They appear once the browser has the case, for its doctor,
    // while it is open.
    let acting = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(result) = detail.get() {
            acting.set(
                result.is_ok_and(|case| case.mine && case.consultation.summary.status.is_open()),
            );
        }
    });
    view! {
        <Show when=move || !live.online.get()>
            <p class="notice offline" role="status" data-testid="offline">{move || c().offline}</p>
        </Show>
        <Suspense fallback=move || view! { <p role="status">{move || c().loading}</p> }>
            {move || {
                detail.get().map(|result| match result {
                    Ok(case) => view! { <Case case live /> }.into_any(),
                    Err(AppError::NotFound) => view! { <BreakGlassForm id=id.get_untracked() /> }.into_any(),
                    Err(err) => error_line(err).into_any(),
                })
            }}
        </Suspense>
        <Show when=move || acting.get()>
            <div class="case-grid case-actions">
                <div class="case-main">
                    <Compose id=id.get_untracked() live />
                </div>
                <aside class="case-side">
                    <NoteForm id=id.get_untracked() />
                    <OverrideForm id=id.get_untracked() />
                    <HandOver id=id.get_untracked() />
                    <CloseForm id=id.get_untracked() />
                </aside>
            </div>
        </Show>
    }
}

fn list_or_none(t: &'static DashboardText, items: &[String]) -> String {
    if items.is_empty() {
        t.none.to_owned()
    } else {
        items.join(", ")
    }
}

#[component]
fn Case(case: CaseDetail, live: LiveEvents) -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let c = use_strings(&CONSULT);
    let summary = case.consultation.summary.clone();
    let id = summary.id.clone();
    let open = summary.status.is_open();
    let ai = case.ai_summary.clone();
    let triage = case.triage.clone();
    let pregnant = case.pregnant.map(|p| if p { "✓" } else { "–" });
    let sex = case.sex.clone();
    let (allergies, medications, conditions) = (
        case.allergies.clone(),
        case.medications.clone(),
        case.conditions.clone(),
    );
    view! {
        <h1>{move || t().case_title} ": " {summary.chief_complaint.clone()}</h1>
        {(!case.mine).then(|| view! { <p class="notice warning" role="status" data-testid="reading-only">{move || t().reading_only}</p> })}
        <div class="case-grid">
            <div class="case-main">
                <section class="card" aria-labelledby="patient-title">
                    <h2 id="patient-title">{move || t().patient}</h2>
                    <dl class="facts" data-testid="case-patient">
                        <dt>{move || t().patient}</dt><dd>{case.patient_name.clone()}</dd>
                        <dt>{move || t().age}</dt><dd>{case.age_years.map_or_else(|| "–".to_owned(), |a| a.to_string())}</dd>
                        <dt>{move || t().sex}</dt><dd>{move || sex_label(t(), sex.as_deref())}</dd>
                        {pregnant.map(|p| view! { <dt>{move || t().pregnant}</dt><dd>{p}</dd> })}
                        <dt>{move || t().allergies}</dt><dd>{move || list_or_none(t(), &allergies)}</dd>
                        <dt>{move || t().medications}</dt><dd>{move || list_or_none(t(), &medications)}</dd>
                        <dt>{move || t().conditions}</dt><dd>{move || list_or_none(t(), &conditions)}</dd>
                        <dt>{move || c().status_label}</dt><dd data-testid="case-status">{move || c().status(summary.status)}</dd>
                        <dt>{move || c().level_label}</dt>
                        <dd><span class=format!("badge level-{}", summary.level.as_str()) data-testid="case-level">{move || c().level(summary.level)}</span></dd>
                        {case.override_reason.clone().map(|r| view! { <dt>{move || t().overridden}</dt><dd>{r}</dd> })}
                    </dl>
                </section>
                <section class="card" aria-labelledby="summary-title" data-testid="ai-summary">
                    <h2 id="summary-title">{move || t().summary_title}</h2>
                    <h3>{move || t().chief_complaint}</h3>
                    <p>{ai.chief_complaint.clone()}</p>
                    <h3>{move || t().history}</h3>
                    <p class="note">{ai.history_of_present_illness.clone()}</p>
                    {(!ai.relevant_negatives.is_empty()).then(|| view! {
                        <h3>{move || t().negatives}</h3>
                        <ul>{ai.relevant_negatives.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}</ul>
                    })}
                    {(!triage.red_flags.is_empty()).then(|| view! {
                        <h3>{move || t().red_flags}</h3>
                        <ul class="red-flags">{triage.red_flags.iter().map(|f| view! { <li>{f.label.clone()}</li> }).collect_view()}</ul>
                    })}
                    <h3>{move || t().reasons}</h3>
                    <ul>{triage.reasons.iter().map(|r| view! { <li>{r.explanation.clone()}</li> }).collect_view()}</ul>
                </section>
                {(!case.documents.is_empty()).then(|| view! {
                    <CaseDocuments id=id.clone() documents=case.documents.clone() labs=case.labs.clone() />
                })}
                {(!case.transcript.is_empty()).then(|| view! {
                    <section class="card" aria-labelledby="transcript-title">
                        <h2 id="transcript-title">{move || t().transcript_title}</h2>
                        <ol class="thread">
                            {case.transcript.iter().map(|line| {
                                let who = if line.from_patient { t().patient } else { t().assistant };
                                let class = if line.from_patient { "message theirs" } else { "message mine" };
                                view! { <li class=class><p class="message-meta"><strong>{who}</strong></p><p class="message-body">{line.body.clone()}</p></li> }
                            }).collect_view()}
                        </ol>
                    </section>
                })}
                <Thread messages=case.consultation.messages.clone() />
                <TypingNotice live id=id.clone() text=Signal::derive(move || t().typing) />
                {(!open).then(|| view! { <p class="notice" role="status">{move || c().closed_notice}</p> })}
            </div>
            <aside class="case-side">
                <Notes case=case.clone() />
                {(!case.earlier.is_empty()).then(|| view! {
                    <section class="card" aria-labelledby="earlier-title">
                        <h2 id="earlier-title">{move || t().earlier_title}</h2>
                        <ul class="consultations">
                            {case.earlier.iter().map(|e| {
                                let level = e.level;
                                let status = e.status;
                                view! {
                                    <li class="consultation-item">
                                        <span>{e.chief_complaint.clone()}</span>
                                        <span class=format!("badge level-{}", level.as_str())>{move || c().level(level)}</span>
                                        <span class="badge">{move || c().status(status)}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                })}
            </aside>
        </div>
    }
}

/// The documents the patient shared with this case, viewable in the page, and the lab values
/// found in them with their trends.
#[component]
fn CaseDocuments(
    id: String,
    documents: Vec<crate::documents::types::DocumentSummary>,
    labs: Vec<crate::documents::types::LabResult>,
) -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let shown = RwSignal::new(None::<String>);
    let item = {
        let id = id.clone();
        move |d: crate::documents::types::DocumentSummary| {
            let url = format!("/api/cases/{id}/documents/{}", d.id);
            let download = format!("{url}?download=1");
            let is_image = d.is_image();
            let (doc_id, name) = (d.id.clone(), d.filename.clone());
            let open = {
                let doc_id = doc_id.clone();
                Signal::derive(move || shown.get().as_deref() == Some(doc_id.as_str()))
            };
            let viewer = {
                let (url, name) = (url.clone(), name.clone());
                move || {
                    if is_image {
                        view! { <img class="document-preview" src=url.clone() alt=name.clone() /> }
                            .into_any()
                    } else {
                        view! { <iframe class="document-preview" src=url.clone() title=name.clone()></iframe> }.into_any()
                    }
                }
            };
            view! {
                <li data-testid="case-document">
                    <strong>{name.clone()}</strong>
                    " "
                    <button type="button" class="link-button" data-testid="view-document"
                        aria-expanded=move || open.get().to_string()
                        on:click=move |_| shown.update(|s| {
                            *s = if s.as_deref() == Some(doc_id.as_str()) { None } else { Some(doc_id.clone()) };
                        })>
                        {move || t().view_document}
                    </button>
                    " · "
                    <a href=download>{move || t().download_document}</a>
                    <Show when=move || open.get()>{viewer.clone()}</Show>
                </li>
            }
        }
    };
    view! {
        <section class="card" aria-labelledby="documents-title" data-testid="case-documents">
            <h2 id="documents-title">{move || t().documents_title}</h2>
            <ul class="sessions">{documents.into_iter().map(item).collect_view()}</ul>
            {(!labs.is_empty()).then(|| view! { <crate::documents::pages::LabTable labs /> })}
        </section>
    }
    .into_any()
}

#[component]
fn Notes(case: CaseDetail) -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    view! {
        <section class="card notes" aria-labelledby="notes-title" data-testid="notes">
            <h2 id="notes-title">{move || t().notes_title}</h2>
            <p class="hint">{move || t().notes_lead}</p>
            <ul class="sessions">
                {case.notes.iter().map(|n| view! {
                    <li data-testid="note"><strong>{n.author_name.clone()}</strong>": " <span class="note">{n.body.clone()}</span></li>
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn NoteForm(id: String) -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let body = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let action = ServerAction::<AddNote>::new();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => body.set(String::new()),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        action.dispatch(AddNote {
            id: id.clone(),
            body: body.get(),
        });
    };
    view! {
        <section class="card" aria-labelledby="note-form-title">
            <h2 id="note-form-title">{move || t().note_label}</h2>
            <form on:submit=submit novalidate>
                <FormError errors />
                <TextAreaField label=Signal::derive(move || t().notes_lead) name="note" value=body error=errors.field("note") rows=2 />
                <button type="submit" class="button small" data-testid="add-note" disabled=move || action.pending().get()>{move || t().add_note}</button>
            </form>
        </section>
    }
}

/// The four levels as options of a `<select>`, `chosen` selected. A `<select>` is rebuilt
/// whole when the language changes: it cannot hold the markers of dynamic children.
fn level_options(
    c: &'static crate::consultations::strings::ConsultText,
    chosen: String,
) -> impl IntoView {
    TriageLevel::ALL
        .into_iter()
        .map(|l| {
            let selected = l.as_str() == chosen;
            view! { <option value=l.as_str() selected=selected>{c.level(l)}</option> }
        })
        .collect_view()
}

#[component]
fn OverrideForm(id: String) -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let c = use_strings(&CONSULT);
    let level = RwSignal::new("urgent".to_owned());
    let reason = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let action = ServerAction::<OverrideLevel>::new();
    Effect::new(move |_| {
        if let Some(Err(err)) = action.value().get() {
            errors.show(err);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        action.dispatch(OverrideLevel {
            id: id.clone(),
            level: level.get(),
            reason: reason.get(),
        });
    };
    view! {
        <section class="card" aria-labelledby="override-title">
            <h2 id="override-title">{move || t().override_title}</h2>
            <form on:submit=submit novalidate data-testid="override-form">
                <FormError errors />
                <div class="field">
                    <label for="override-level">{move || t().level}</label>
                    {move || view! {
                        <select id="override-level" on:change=move |ev| level.set(event_target_value(&ev)) prop:value=level.get_untracked()>
                            {level_options(c(), level.get_untracked())}
                        </select>
                    }}
                </div>
                <Field label=Signal::derive(move || t().reason) name="reason" value=reason error=errors.field("reason") />
                <button type="submit" class="button small" disabled=move || action.pending().get()>{move || t().save_level}</button>
            </form>
        </section>
    }
}

#[component]
fn HandOver(id: String) -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    // Fetched in the browser only: the list is not needed to render the page.
    let colleagues = RwSignal::new(Vec::new());
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(list) = doctors().await {
                colleagues.set(list);
            }
        });
    });
    let to = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let reassign = ServerAction::<Reassign>::new();
    let release = ServerAction::<Release>::new();
    Effect::new(
        move |_| match (reassign.value().get(), release.value().get()) {
            (Some(Ok(())), _) | (_, Some(Ok(()))) => go_to("/doctor"),
            (Some(Err(err)), _) | (_, Some(Err(err))) => errors.show(err),
            _ => {}
        },
    );
    let release_id = id.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        reassign.dispatch(Reassign {
            id: id.clone(),
            doctor_id: to.get(),
        });
    };
    view! {
        <section class="card" aria-labelledby="handover-title">
            <h2 id="handover-title">{move || t().handover_title}</h2>
            <form on:submit=submit novalidate>
                <FormError errors />
                <div class="field">
                    <label for="handover-to">{move || t().handover_to}</label>
                    // Built whole each time: a <select> cannot hold the markers of dynamic children.
                    {move || {
                        let options = colleagues.get().into_iter().map(|d| view! {
                            <option value=d.id.clone()>{d.name.clone()}</option>
                        }).collect_view();
                        view! {
                            <select id="handover-to" on:change=move |ev| to.set(event_target_value(&ev))>
                                <option value="">"–"</option>
                                {options}
                            </select>
                        }
                    }}
                </div>
                <button type="submit" class="button small secondary">{move || t().hand_over}</button>
            </form>
            <button type="button" class="button small secondary" data-testid="release"
                on:click=move |_| { release.dispatch(Release { id: release_id.clone() }); }>
                {move || t().release}
            </button>
        </section>
    }
}

#[component]
fn CloseForm(id: String) -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let c = use_strings(&CONSULT);
    let outcome = RwSignal::new(String::new());
    let advice = RwSignal::new(String::new());
    let level = RwSignal::new("self_care".to_owned());
    let errors = FormErrors::new();
    let action = ServerAction::<Close>::new();
    Effect::new(move |_| {
        if let Some(Err(err)) = action.value().get() {
            errors.show(err);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        action.dispatch(Close {
            id: id.clone(),
            outcome: outcome.get(),
            final_level: level.get(),
            advice: advice.get(),
        });
    };
    view! {
        <section class="card" aria-labelledby="close-title">
            <h2 id="close-title">{move || t().close_title}</h2>
            <form on:submit=submit novalidate data-testid="close-form">
                <FormError errors />
                <TextAreaField label=Signal::derive(move || t().outcome) name="outcome" value=outcome error=errors.field("outcome") rows=2 />
                <div class="field">
                    <label for="final-level">{move || t().final_level}</label>
                    {move || view! {
                        <select id="final-level" on:change=move |ev| level.set(event_target_value(&ev)) prop:value=level.get_untracked()>
                            {level_options(c(), level.get_untracked())}
                        </select>
                    }}
                </div>
                <TextAreaField label=Signal::derive(move || t().advice) name="advice" value=advice error=errors.field("advice") rows=3 />
                <button type="submit" class="button small" data-testid="close-case" disabled=move || action.pending().get()>{move || t().close_case}</button>
            </form>
        </section>
    }
}

/// Shown instead of a case the doctor does not hold: break-glass with a reason.
#[component]
fn BreakGlassForm(id: String) -> impl IntoView {
    let t = use_strings(&DASHBOARD);
    let reason = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let action = ServerAction::<BreakGlass>::new();
    let target = format!("/doctor/cases/{id}");
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => go_to(&target),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        action.dispatch(BreakGlass {
            id: id.clone(),
            reason: reason.get(),
        });
    };
    view! {
        <section class="card danger-zone" aria-labelledby="glass-title" data-testid="break-glass">
            <h2 id="glass-title">{move || t().break_glass_title}</h2>
            <p>{move || t().break_glass_lead}</p>
            <form on:submit=submit novalidate>
                <FormError errors />
                <TextAreaField label=Signal::derive(move || t().reason) name="reason" value=reason error=errors.field("reason") rows=2 />
                <button type="submit" class="button danger small">{move || t().break_glass_button}</button>
            </form>
        </section>
    }
}
