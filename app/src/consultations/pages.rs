//! The patient's consultation pages: the list, the request form, and one consultation with
//! its live status and message thread.
//!
//! The pages listen to the live event stream (`crate::events::client`) and fetch again when
//! an event arrives or the connection comes back, so a claim, a reply or a closing shows up
//! within a second without a reload. A message that could not be sent (offline) is kept with
//! its key and sent again when the connection returns; the key makes the retry harmless.

use super::api::{RequestConsultation, SendMessage, Typing, consultation, my_consultations};
use super::strings::{CONSULT, ConsultText};
use super::types::{Author, ConsultationDetail, ConsultationSummary, Status, ThreadMessage};
use crate::error::AppError;
use crate::events::LiveEventKind;
use crate::events::client::{LiveEvents, use_live_events};
use crate::forms::{
    FormError, FormErrors, TextAreaField, error_line, go_to, load_draft, save_draft, when,
};
use crate::i18n::use_strings;
use crate::layout::SignedIn;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// A fresh key for a request or a message, made in the browser when it is first sent.
pub(crate) fn fresh_key() -> String {
    #[cfg(feature = "hydrate")]
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        return crypto.random_uuid();
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("key-{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The line that says the live connection is down.
#[component]
fn OfflineNotice(live: LiveEvents) -> impl IntoView {
    let t = use_strings(&CONSULT);
    view! {
        <Show when=move || !live.online.get()>
            <p class="notice offline" role="status" data-testid="offline">{move || t().offline}</p>
        </Show>
    }
}

#[component]
pub fn ConsultationsPage() -> impl IntoView {
    let t = use_strings(&CONSULT);
    view! {
        <Title text=move || t().list_title />
        <section class="form-page wide">
            <h1>{move || t().list_title}</h1>
            <p class="lead">{move || t().list_lead}</p>
            <SignedIn>
                <ConsultationList />
            </SignedIn>
        </section>
    }
}

#[component]
fn ConsultationList() -> impl IntoView {
    let t = use_strings(&CONSULT);
    let live = use_live_events();
    let list = Resource::new(move || live.version.get(), |_| my_consultations());
    let row = move |c: ConsultationSummary| {
        let href = format!("/consultations/{}", c.id);
        view! {
            <li class="consultation-item" data-testid="consultation-item" data-status=c.status.as_str()>
                <a href=href>{c.chief_complaint.clone()}</a>
                <span class=format!("badge level-{}", c.level.as_str())>{move || t().level(c.level)}</span>
                <span class="badge">{move || t().status(c.status)}</span>
                <time>{when(c.created_ms)}</time>
            </li>
        }
    };
    view! {
        <OfflineNotice live />
        <p>
            <a class="button" href="/consultations/new" data-testid="new-consultation">{move || t().new_button}</a>
        </p>
        <Suspense fallback=move || view! { <p role="status">{move || t().loading}</p> }>
            {move || {
                list.get()
                    .map(|result| match result {
                        Ok(items) if items.is_empty() => view! { <p>{move || t().list_empty}</p> }.into_any(),
                        Ok(items) => view! { <ul class="consultations">{items.into_iter().map(row).collect_view()}</ul> }.into_any(),
                        Err(err) => error_line(err).into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
pub fn NewConsultationPage() -> impl IntoView {
    let t = use_strings(&CONSULT);
    let query = use_query_map();
    let conversation = move || {
        query
            .with(|q| q.get("conversation"))
            .filter(|c| !c.is_empty())
    };
    let note = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let key = StoredValue::new(None::<String>);
    let shared = RwSignal::new(Vec::<String>::new());
    let action = ServerAction::<RequestConsultation>::new();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(id)) => go_to(&format!("/consultations/{id}")),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        let has_conversation = conversation().is_some();
        if let Err(err) = super::validate::text("note", &note.get(), !has_conversation) {
            errors.show(err);
            return;
        }
        // One key per page: pressing twice, or again after an error, is the same request.
        let request_key = key.with_value(Clone::clone).unwrap_or_else(|| {
            let fresh = fresh_key();
            key.set_value(Some(fresh.clone()));
            fresh
        });
        action.dispatch(RequestConsultation {
            conversation_id: conversation(),
            note: note.get(),
            request_key,
            document_ids: shared.get(),
        });
    };
    view! {
        <Title text=move || t().new_title />
        <section class="form-page">
            <h1>{move || t().new_title}</h1>
            <p class="lead">{move || t().new_lead}</p>
            <SignedIn>
                <form on:submit=submit novalidate data-testid="consultation-form">
                    <FormError errors />
                    {move || conversation().map(|_| view! { <p class="notice">{move || t().from_assistant}</p> })}
                    <TextAreaField label=Signal::derive(move || t().note_label) name="note" value=note error=errors.field("note") rows=5 hint=Signal::derive(move || t().note_hint) />
                    <ShareDocuments shared />
                    <button type="submit" class="button" disabled=move || action.pending().get() data-testid="send-request">
                        {move || if action.pending().get() { t().sending } else { t().send_request }}
                    </button>
                </form>
            </SignedIn>
        </section>
    }
}

/// Tick boxes for the patient's documents, to share them with the doctor.
#[component]
fn ShareDocuments(shared: RwSignal<Vec<String>>) -> impl IntoView {
    let t = use_strings(&CONSULT);
    let documents = Resource::new(|| (), |_| crate::documents::api::list_documents());
    let item = move |d: crate::documents::types::DocumentSummary| {
        let id = d.id.clone();
        let input_id = format!("share-{}", d.id);
        view! {
            <li>
                <input type="checkbox" id=input_id.clone() data-testid="share-document"
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        shared.update(|s| {
                            s.retain(|x| *x != id);
                            if on {
                                s.push(id.clone());
                            }
                        });
                    } />
                " "
                <label for=input_id>{d.filename.clone()}</label>
            </li>
        }
    };
    view! {
        <Suspense fallback=|| ()>
            {move || documents.get().and_then(Result::ok).filter(|l| !l.documents.is_empty()).map(|list| view! {
                <fieldset class="share-documents">
                    <legend>{move || t().share_documents}</legend>
                    <ul>{list.documents.into_iter().map(item).collect_view()}</ul>
                </fieldset>
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
pub fn ConsultationPage() -> impl IntoView {
    let t = use_strings(&CONSULT);
    view! {
        <Title text=move || t().detail_title />
        <section class="form-page wide">
            <h1>{move || t().detail_title}</h1>
            <SignedIn>
                <ConsultationView />
            </SignedIn>
        </section>
    }
}

#[component]
fn ConsultationView() -> impl IntoView {
    let t = use_strings(&CONSULT);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id")).unwrap_or_default();
    let live = use_live_events();
    let detail = Resource::new(
        move || (id(), live.version.get()),
        |(id, _)| consultation(id),
    );
    // The box to write in stays put while the rest follows the events, so what is being typed
    // (and the focus) survives a message arriving. It appears once the browser has the
    // consultation, and goes when it closes.
    let open = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(d)) = detail.get() {
            open.set(d.summary.status.is_open());
        }
    });
    view! {
        <OfflineNotice live />
        <Suspense fallback=move || view! { <p role="status">{move || t().loading}</p> }>
            {move || {
                detail.get()
                    .map(|result| match result {
                        Ok(d) => view! { <Detail detail=d live /> }.into_any(),
                        Err(err) => error_line(err).into_any(),
                    })
            }}
        </Suspense>
        <crate::payments::pages::PaymentStep consultation_id=id() live />
        <Show when=move || open.get()>
            <Compose id=id() live />
        </Show>
    }
}

#[component]
fn Detail(detail: ConsultationDetail, live: LiveEvents) -> impl IntoView {
    let t = use_strings(&CONSULT);
    let s = detail.summary.clone();
    let open = s.status.is_open();
    view! {
        <dl class="facts" data-testid="consultation-facts">
            <dt>{move || t().status_label}</dt>
            <dd data-testid="consultation-status" data-status=s.status.as_str()>{move || t().status(s.status)}</dd>
            <dt>{move || t().level_label}</dt>
            <dd><span class=format!("badge level-{}", s.level.as_str())>{move || t().level(s.level)}</span></dd>
            {s.doctor_name.clone().map(|name| view! {
                <dt>{move || t().doctor_label}</dt>
                <dd data-testid="consultation-doctor">{name}</dd>
            })}
        </dl>
        <section class="card" aria-labelledby="note-title">
            <h2 id="note-title">{move || t().your_note}</h2>
            <p class="note">{detail.note.clone()}</p>
        </section>
        {detail.closing.clone().map(|c| view! {
            <section class="card outcome" aria-labelledby="outcome-title" data-testid="consultation-outcome">
                <h2 id="outcome-title">{move || t().outcome_title}</h2>
                <p>{c.outcome.clone()}</p>
                <p><strong>{move || t().final_level}": "</strong>{move || t().level(c.final_level)}</p>
                <p><strong>{move || t().advice}": "</strong>{c.advice.clone()}</p>
            </section>
        })}
        <Thread messages=detail.messages.clone() />
        <TypingNotice live id=s.id.clone() text=Signal::derive(move || t().doctor_typing) />
        {(!open && s.status != Status::AwaitingPayment).then(|| view! { <p class="notice" role="status" data-testid="closed-notice">{move || t().closed_notice}</p> })}
    }
}

fn author_label(t: &'static ConsultText, m: &ThreadMessage) -> &'static str {
    match (m.mine, m.author) {
        (true, _) => t.you,
        (false, Author::Doctor) => t.doctor,
        (false, Author::Patient) => t.patient,
    }
}

/// "… is typing", while the other side of consultation `id` writes.
#[component]
pub fn TypingNotice(live: LiveEvents, id: String, text: Signal<&'static str>) -> impl IntoView {
    let typing = use_typing(live, Signal::stored(id));
    view! {
        <p class="typing" aria-live="polite" data-testid="typing">
            {move || typing.get().then(|| text.get())}
        </p>
    }
}

/// The messages, oldest first; the list is a live region so new ones are announced.
#[component]
pub fn Thread(messages: Vec<ThreadMessage>) -> impl IntoView {
    let t = use_strings(&CONSULT);
    let empty = messages.is_empty();
    let item = move |m: ThreadMessage| {
        let class = if m.mine {
            "message mine"
        } else {
            "message theirs"
        };
        let read = m.mine && m.read_ms.is_some();
        let label = author_label(t(), &m);
        view! {
            <li class=class data-testid="thread-message">
                <p class="message-meta">
                    <strong>{label}</strong>" · "<time>{when(m.sent_ms)}</time>
                    {read.then(|| view! { " · " <span data-testid="read-receipt">{move || t().read}</span> })}
                </p>
                <p class="message-body">{m.body.clone()}</p>
            </li>
        }
    };
    view! {
        <section class="card" aria-labelledby="thread-title">
            <h2 id="thread-title">{move || t().thread_title}</h2>
            {empty.then(|| view! { <p>{move || t().thread_empty}</p> })}
            <ol class="thread" aria-live="polite">{messages.into_iter().map(item).collect_view()}</ol>
        </section>
    }
}

/// The box to write a message. A message that fails to send for want of a connection stays,
/// with its key, and goes again when the connection is back.
#[component]
pub fn Compose(id: String, live: LiveEvents) -> impl IntoView {
    let t = use_strings(&CONSULT);
    let body = RwSignal::new(String::new());
    let draft_key = format!("consultation.{id}");
    // The draft is kept in the browser as it is written, and comes back after a reload.
    Effect::new({
        let draft_key = draft_key.clone();
        move |_| {
            if let Some(draft) = load_draft(&draft_key) {
                body.set(draft);
            }
        }
    });
    let typing = ServerAction::<Typing>::new();
    let last_typing = StoredValue::new(0_i64);
    let typing_id = id.clone();
    Effect::new({
        let draft_key = draft_key.clone();
        move |first: Option<()>| {
            let text = body.get();
            if first.is_some() {
                save_draft(&draft_key, &text);
                // Tell the other side, at most every few seconds while writing.
                let now = crate::dashboard::cue::now_ms();
                if !text.is_empty() && now - last_typing.get_value() > TYPING_EVERY_MS {
                    last_typing.set_value(now);
                    typing.dispatch(Typing {
                        id: typing_id.clone(),
                    });
                }
            }
        }
    });
    let errors = FormErrors::new();
    let pending = RwSignal::new(None::<(String, String)>);
    let action = ServerAction::<SendMessage>::new();
    let id = StoredValue::new(id);
    let send = move |key: String, text: String| {
        pending.set(Some((key.clone(), text.clone())));
        action.dispatch(SendMessage {
            id: id.get_value(),
            body: text,
            client_key: key,
        });
    };
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => {
            pending.set(None);
            body.set(String::new());
        }
        Some(Err(AppError::Transport)) => {}
        Some(Err(err)) => {
            pending.set(None);
            errors.show(err);
        }
        None => {}
    });
    // Back online with a message still unsent: send it again, with the same key.
    Effect::new(move |was_online: Option<bool>| {
        let online = live.online.get();
        if online
            && was_online == Some(false)
            && !action.pending().get_untracked()
            && let Some((key, text)) = pending.get_untracked()
        {
            send(key, text);
        }
        online
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        if let Err(err) = super::validate::text("body", &body.get(), true) {
            errors.show(err);
            return;
        }
        let key = pending.get().map_or_else(fresh_key, |(key, _)| key);
        send(key, body.get());
    };
    let unsent = move || pending.get().is_some() && !action.pending().get();
    view! {
        <form class="compose" on:submit=submit novalidate data-testid="compose">
            <FormError errors />
            <TextAreaField label=Signal::derive(move || t().message_label) name="body" value=body error=errors.field("body") rows=3 />
            <Show when=unsent>
                <p class="notice" role="status" data-testid="unsent">{move || t().not_sent}</p>
            </Show>
            <button type="submit" class="button" disabled=move || action.pending().get() data-testid="send-message">
                {move || if unsent() { t().retry } else { t().send }}
            </button>
        </form>
    }
}

/// How often a typing signal is sent while someone writes.
const TYPING_EVERY_MS: i64 = 3_000;

/// Whether the other side of consultation `id` is writing right now: true for a few seconds
/// after each typing signal.
pub fn use_typing(live: LiveEvents, id: Signal<String>) -> ReadSignal<bool> {
    let (typing, set_typing) = signal(false);
    let generation = StoredValue::new(0_u32);
    Effect::new(move |_| {
        let Some(event) = live.last.get() else {
            return;
        };
        let here = event.consultation_id.as_deref() == Some(id.get_untracked().as_str());
        if !here {
            return;
        }
        // Any stored change (a message arrived) ends the indicator; a typing signal starts it.
        let on = event.kind == LiveEventKind::ConsultationTyping;
        set_typing.set(on);
        if on {
            generation.update_value(|g| *g += 1);
            let mine = generation.get_value();
            set_timeout(
                // The page may have moved on by then: nothing to clear.
                move || {
                    if generation.try_get_value() == Some(mine) {
                        set_typing.try_set(false);
                    }
                },
                std::time::Duration::from_secs(4),
            );
        }
    });
    typing
}
