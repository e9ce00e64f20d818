//! The chat page: `/assistant` starts a conversation, `/assistant/{id}` resumes one. The reply
//! streams into an aria-live region; the emergency banner appears from the first event, before
//! any model text; the triage card shows the level, reasons, advice, the safety net and the
//! follow-up questions. The unsent draft is kept in the browser until it is sent.
//!
//! Sending needs JavaScript (the answer is a stream); without it the page still lists and
//! shows conversations.

use super::api::{Consent, conversations, get_conversation};
use super::strings::ASSISTANT;
use super::types::{Author, ChatMessage, Conversation, ConversationSummary, PostMessage, validate};
use crate::error::AppError;
use crate::i18n::{use_locale, use_strings};
use crate::layout::SignedIn;
use crate::public_config::use_public_config;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tabibu_ai::{TriageLevel, TriageResult};

#[component]
pub fn AssistantPage() -> impl IntoView {
    view! { <Frame id=None /> }
}

#[component]
pub fn ConversationPage() -> impl IntoView {
    let params = use_params_map();
    move || {
        let id = params.read().get("id");
        view! { <Frame id /> }.into_any()
    }
}

#[component]
fn Frame(id: Option<String>) -> impl IntoView {
    let t = use_strings(&ASSISTANT);
    view! {
        <Title text=move || t().title />
        <section class="form-page wide assistant-page">
            <h1>{move || t().title}</h1>
            <p class="lead">{move || t().lead}</p>
            <SignedIn>
                <Loader id=id.clone() />
            </SignedIn>
        </section>
    }
}

#[component]
fn Loader(id: Option<String>) -> impl IntoView {
    let t = use_strings(&ASSISTANT);
    let locale = use_locale();
    let overview = Resource::new(|| (), |()| conversations());
    let wanted = id.clone();
    let current = Resource::new(
        move || wanted.clone(),
        |id| async move {
            match id {
                Some(id) => get_conversation(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Suspense fallback=move || view! { <p role="status">{move || t().loading}</p> }>
            {move || {
                let id = id.clone();
                match (overview.get(), current.get()) {
                    (Some(Ok(overview)), Some(Ok(conv))) => {
                        view! {
                            <div class="assistant-layout">
                                <Chat initial=conv consent_needed=overview.consent_needed />
                                <ConversationList list=overview.conversations current=id />
                            </div>
                        }
                            .into_any()
                    }
                    (Some(Err(err)), _) | (_, Some(Err(err))) => {
                        view! {
                            <p class="form-error" role="alert" data-testid="assistant-load-error">
                                {move || crate::accounts::strings::error_text(locale.get(), &err)}
                            </p>
                        }
                            .into_any()
                    }
                    _ => ().into_any(),
                }
            }}
        </Suspense>
    }
}

/// `YYYY-MM-DD` for a timestamp.
fn day(ms: i64) -> String {
    let (y, m, d) = crate::accounts::validate::civil_date(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

#[component]
fn ConversationList(list: Vec<ConversationSummary>, current: Option<String>) -> impl IntoView {
    let t = use_strings(&ASSISTANT);
    let empty = list.is_empty();
    let rows = list
        .into_iter()
        .map(|c| {
            let is_current = current.as_deref() == Some(c.id.as_str());
            let level = c.triage_level;
            let class = level.map_or("badge".to_owned(), |l| format!("badge level-{}", l));
            view! {
                <li data-testid="conversation-item">
                    <a href=format!("/assistant/{}", c.id) aria-current=is_current.then_some("page")>
                        {c.preview}
                    </a>
                    " "
                    <span class=class>
                        {move || level.map_or(t().not_assessed, |l| t().level(l).name)}
                    </span>
                    " "
                    <time>{day(c.updated_at)}</time>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="card conversation-list" aria-labelledby="conversations-title">
            <h2 id="conversations-title">{move || t().your_conversations}</h2>
            <a class="button-small" href="/assistant" data-testid="new-conversation">
                {move || t().new_conversation}
            </a>
            {empty.then(|| view! { <p>{move || t().no_conversations}</p> })}
            <ul>{rows}</ul>
        </nav>
    }
}

/// What the chat shows and changes while the patient talks to the assistant.
#[derive(Clone, Copy)]
struct ChatState {
    conversation_id: RwSignal<Option<String>>,
    messages: RwSignal<Vec<ChatMessage>>,
    triage: RwSignal<Option<TriageResult>>,
    /// The reply arriving now; `None` when nothing is streaming.
    streaming: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<AppError>>,
    field_error: RwSignal<Option<String>>,
    draft: RwSignal<String>,
    answering: RwSignal<Option<String>>,
}

#[component]
fn Chat(initial: Option<Conversation>, consent_needed: bool) -> impl IntoView {
    let t = use_strings(&ASSISTANT);
    let locale = use_locale();
    let (id, messages, triage) = match initial {
        Some(c) => (Some(c.id), c.messages, c.triage),
        None => (None, Vec::new(), None),
    };
    let state = ChatState {
        conversation_id: RwSignal::new(id),
        messages: RwSignal::new(messages),
        triage: RwSignal::new(triage),
        streaming: RwSignal::new(None),
        busy: RwSignal::new(false),
        error: RwSignal::new(None),
        field_error: RwSignal::new(None),
        draft: RwSignal::new(String::new()),
        answering: RwSignal::new(None),
    };
    let input = NodeRef::<leptos::html::Textarea>::new();
    // The draft lives in this browser only: read it once the page is interactive.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(draft) =
            super::browser::load_draft(state.conversation_id.get_untracked().as_deref())
        {
            state.draft.set(draft);
        }
    });
    // Set once a new conversation has its id: its own address then replaces `/assistant`, so
    // that a reload finds it. (An effect, because the router's navigate must stay on the
    // browser's thread and `send` is shared.)
    let moved_to = RwSignal::new(None::<String>);
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(path) = moved_to.get() {
            navigate(
                &path,
                leptos_router::NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    let send = move |text: String, client_id: String, again: bool| {
        let message = PostMessage {
            conversation_id: state.conversation_id.get_untracked(),
            text,
            client_message_id: client_id,
        };
        state.error.set(None);
        state.field_error.set(None);
        let text = match validate(&message) {
            Ok(text) => text,
            Err(fields) => {
                state.field_error.set(fields.values().next().cloned());
                return;
            }
        };
        if !again {
            state.messages.update(|m| {
                m.push(ChatMessage {
                    id: message.client_message_id.clone(),
                    author: Author::Patient,
                    body: text,
                    triage_level: None,
                    complete: true,
                    client_message_id: Some(message.client_message_id.clone()),
                    created_at: 0,
                })
            });
            state.draft.set(String::new());
            #[cfg(feature = "hydrate")]
            super::browser::save_draft(message.conversation_id.as_deref(), "");
        }
        state.answering.set(None);
        state.busy.set(true);
        state.streaming.set(Some(String::new()));
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let was_new = message.conversation_id.is_none();
            let mut finished: Option<String> = None;
            let outcome = super::browser::post_message(&message, |name, data| {
                on_event(state, name, data, &mut finished);
            })
            .await;
            let _ = state.busy.try_set(false);
            let _ = state.streaming.try_set(None);
            match outcome {
                Err(AppError::Validation { fields }) => {
                    let _ = state.messages.try_update(|m| {
                        m.retain(|x| x.id != message.client_message_id);
                    });
                    let _ = state.draft.try_set(message.text.clone());
                    let _ = state.field_error.try_set(fields.values().next().cloned());
                }
                Err(err) => {
                    let _ = state.error.try_set(Some(err));
                }
                Ok(()) => match finished {
                    Some(id) if was_new => {
                        let _ = moved_to.try_set(Some(format!("/assistant/{id}")));
                    }
                    Some(_) => {}
                    None => {
                        if state.error.try_get_untracked().flatten().is_none() {
                            let _ = state.error.try_set(Some(AppError::Conflict {
                                code: "assistant.stream_failed".into(),
                            }));
                        }
                    }
                },
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (message, moved_to);
    };
    let send = StoredValue::new(send);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if state.busy.get_untracked() {
            return;
        }
        #[cfg(feature = "hydrate")]
        let id = super::browser::new_client_id();
        #[cfg(not(feature = "hydrate"))]
        let id = String::new();
        send.with_value(|send| send(state.draft.get_untracked(), id, false));
    };
    // The last patient message, when it has no complete reply after it: sending it again
    // (same id) asks for the reply once more.
    let retryable = move || {
        let messages = state.messages.get();
        let last = messages.last()?;
        let cut = last.author == Author::Assistant && !last.complete;
        let unanswered = last.author == Author::Patient;
        if !(cut || unanswered) {
            return None;
        }
        messages
            .iter()
            .rev()
            .find(|m| m.author == Author::Patient)
            .and_then(|m| Some((m.body.clone(), m.client_message_id.clone()?)))
    };
    let retry = move |_| {
        if let Some((text, id)) = retryable() {
            send.with_value(|send| send(text, id, true));
        }
    };
    let show_retry = move || !state.busy.get() && retryable().is_some();
    view! {
        <div class="chat">
            <EmergencyBanner triage=state.triage />
            {consent_needed.then(|| view! { <ConsentNotice /> })}
            <ol class="chat-log" data-testid="chat-log">
                <For
                    each=move || state.messages.get()
                    key=|m| (m.id.clone(), m.complete)
                    children=move |m| view! { <Bubble message=m /> }
                />
            </ol>
            <div class="chat-streaming" aria-live="polite" aria-busy=move || state.busy.get().to_string() data-testid="assistant-streaming">
                {move || {
                    state
                        .streaming
                        .get()
                        .map(|text| {
                            view! {
                                <p class="chat-message from-assistant">
                                    <span class="chat-author">{move || t().assistant}</span>
                                    <span class="chat-body">{text}</span>
                                </p>
                                <p class="hint" role="status">{move || t().sending}</p>
                            }
                        })
                }}
            </div>
            <div class="form-error" role="alert" data-testid="assistant-error">
                {move || state.error.get().map(|err| crate::accounts::strings::error_text(locale.get(), &err))}
            </div>
            {move || {
                show_retry()
                    .then(|| {
                        view! {
                            <button type="button" class="button-small" on:click=retry data-testid="assistant-retry">
                                {move || t().retry}
                            </button>
                        }
                    })
            }}
            <TriageCard state input />
            <form class="chat-form" on:submit=submit novalidate data-testid="assistant-form">
                <label for="assistant-message">{move || t().message_label}</label>
                <p class="hint" id="assistant-message-hint">{move || t().message_hint}</p>
                {move || {
                    state
                        .answering
                        .get()
                        .map(|q| {
                            view! {
                                <p class="answering" id="assistant-answering" data-testid="assistant-answering">
                                    {move || t().answering} " " {q}
                                </p>
                            }
                        })
                }}
                <textarea
                    id="assistant-message"
                    name="text"
                    rows="4"
                    node_ref=input
                    aria-describedby=move || {
                        if state.answering.get().is_some() {
                            "assistant-message-hint assistant-answering assistant-message-error"
                        } else {
                            "assistant-message-hint assistant-message-error"
                        }
                    }
                    aria-invalid=move || state.field_error.get().is_some().to_string()
                    data-testid="assistant-input"
                    prop:value=move || state.draft.get()
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        #[cfg(feature = "hydrate")]
                        super::browser::save_draft(
                            state.conversation_id.get_untracked().as_deref(),
                            &text,
                        );
                        state.draft.set(text);
                    }
                ></textarea>
                <p class="field-error" id="assistant-message-error" role="alert" data-testid="error-text">
                    {move || state.field_error.get().map(|key| crate::accounts::strings::message(locale.get(), &key))}
                </p>
                <button type="submit" class="button" disabled=move || state.busy.get() data-testid="assistant-send">
                    {move || t().send}
                </button>
            </form>
        </div>
    }
}

/// Applies one event of the stream to the chat; `finished` gets the conversation id at `done`.
#[cfg(feature = "hydrate")]
fn on_event(state: ChatState, name: &str, data: &str, finished: &mut Option<String>) {
    use super::types::{Done, EVENT_DELTA, EVENT_DONE, EVENT_ERROR, EVENT_TRIAGE};
    match name {
        EVENT_TRIAGE => {
            if let Ok(result) = serde_json::from_str::<TriageResult>(data) {
                let _ = state.triage.try_set(Some(result));
            }
        }
        EVENT_DELTA => {
            if let Ok(piece) = serde_json::from_str::<String>(data) {
                let _ = state.streaming.try_update(|s| {
                    if let Some(s) = s {
                        s.push_str(&piece);
                    }
                });
            }
        }
        EVENT_DONE => {
            if let Ok(done) = serde_json::from_str::<Done>(data) {
                let _ = state.streaming.try_set(None);
                let _ = state.messages.try_update(|m| {
                    m.push(ChatMessage {
                        id: format!("reply-{}", m.len()),
                        author: Author::Assistant,
                        body: done.reply.clone(),
                        triage_level: Some(done.level),
                        complete: done.complete,
                        client_message_id: None,
                        created_at: 0,
                    })
                });
                // The final level may be higher than the first event's: read it again.
                let _ = state.triage.try_set(Some(done.result));
                let _ = state
                    .conversation_id
                    .try_set(Some(done.conversation_id.clone()));
                *finished = Some(done.conversation_id);
            }
        }
        EVENT_ERROR => {
            let err = serde_json::from_str::<AppError>(data)
                .unwrap_or(AppError::Internal { request_id: None });
            let _ = state.error.try_set(Some(err));
        }
        _ => {}
    }
}

#[component]
fn Bubble(message: ChatMessage) -> impl IntoView {
    let t = use_strings(&ASSISTANT);
    let from_patient = message.author == Author::Patient;
    let class = if from_patient {
        "chat-message from-patient"
    } else {
        "chat-message from-assistant"
    };
    view! {
        <li class=class data-testid="chat-message" data-author=message.author.as_str()>
            <span class="chat-author">
                {move || if from_patient { t().you } else { t().assistant }}
            </span>
            <span class="chat-body">{message.body}</span>
            {(!message.complete)
                .then(|| view! { <span class="notice" data-testid="reply-cut">{move || t().reply_cut}</span> })}
        </li>
    }
}

#[component]
fn EmergencyBanner(triage: RwSignal<Option<TriageResult>>) -> impl IntoView {
    let t = use_strings(&ASSISTANT);
    let config = use_public_config();
    let emergency = move || {
        triage.with(|r| {
            r.as_ref()
                .is_some_and(|r| r.show_emergency_banner || r.level == TriageLevel::Emergency)
        })
    };
    move || {
        emergency().then(|| {
            let number = config.emergency_number.clone();
            let others = config.other_emergency_numbers.clone();
            view! {
                <div class="emergency-banner" role="alert" data-testid="emergency-banner">
                    <strong>{move || t().emergency_title}</strong>
                    " "
                    {move || t().emergency_call}
                    " "
                    <a class="emergency-number" href=format!("tel:{number}")>{number.clone()}</a>
                    {others
                        .into_iter()
                        .map(|n| {
                            view! {
                                " " {move || t().emergency_also} " "
                                <a class="emergency-number" href=format!("tel:{n}")>{n.clone()}</a>
                            }
                        })
                        .collect_view()}
                </div>
            }
        })
    }
}

fn list(items: Vec<String>) -> impl IntoView {
    view! { <ul>{items.into_iter().map(|i| view! { <li>{i}</li> }).collect_view()}</ul> }
}

#[component]
fn TriageCard(state: ChatState, input: NodeRef<leptos::html::Textarea>) -> impl IntoView {
    let t = use_strings(&ASSISTANT);
    let card = move |result: TriageResult| {
        let level = result.level;
        let reasons: Vec<String> = result.reasons.into_iter().map(|r| r.explanation).collect();
        let flags: Vec<String> = result.red_flags.into_iter().map(|f| f.label).collect();
        let questions = result.follow_up_questions;
        let consultation = state
            .conversation_id
            .get()
            .map(|id| format!("/consultations/new?conversation={id}"));
        view! {
            <section class=format!("card triage-card level-{level}") aria-labelledby="triage-title" data-testid="triage-card" data-level=level.as_str()>
                <h2 id="triage-title">
                    {move || t().level_label} ": "
                    <span data-testid="triage-level">{move || t().level(level).name}</span>
                </h2>
                <p>{move || t().level(level).meaning}</p>
                {(!flags.is_empty())
                    .then(|| view! { <h3>{move || t().red_flags}</h3> {list(flags)} })}
                {(!reasons.is_empty())
                    .then(|| view! { <h3>{move || t().reasons}</h3> {list(reasons)} })}
                {(!result.advice.is_empty())
                    .then(|| view! { <h3>{move || t().do_now}</h3> {list(result.advice)} })}
                <h3>{move || t().safety_net}</h3>
                <p data-testid="safety-net">{move || t().level(level).safety_net}</p>
                {(!questions.is_empty())
                    .then(|| {
                        view! {
                            <h3>{move || t().questions}</h3>
                            <p class="hint">{move || t().questions_hint}</p>
                            <ul class="chips">
                                {questions
                                    .into_iter()
                                    .map(|q| {
                                        let chosen = q.clone();
                                        view! {
                                            <li>
                                                <button
                                                    type="button"
                                                    class="chip"
                                                    data-testid="follow-up"
                                                    on:click=move |_| {
                                                        state.answering.set(Some(chosen.clone()));
                                                        if let Some(el) = input.get() {
                                                            let _ = el.focus();
                                                        }
                                                    }
                                                >
                                                    {q}
                                                </button>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    })}
                {consultation
                    .map(|href| {
                        view! {
                            <a class="button" href=href data-testid="request-consultation">
                                {move || t().request_consultation}
                            </a>
                        }
                    })}
            </section>
        }
    };
    move || state.triage.get().map(card)
}

#[component]
fn ConsentNotice() -> impl IntoView {
    let t = use_strings(&ASSISTANT);
    let locale = use_locale();
    let action = ServerAction::<Consent>::new();
    let given = move || matches!(action.value().get(), Some(Ok(())));
    view! {
        <section class="card consent-notice" aria-labelledby="consent-title" data-testid="consent-notice">
            <h2 id="consent-title">{move || t().consent_title}</h2>
            {move || {
                if given() {
                    view! { <p role="status" data-testid="consent-given">{move || t().consent_given}</p> }
                        .into_any()
                } else {
                    view! {
                        <p>{move || t().consent_text}</p>
                        <button type="button" class="button" disabled=move || action.pending().get() on:click=move |_| {
                            action.dispatch(Consent {});
                        } data-testid="consent-agree">
                            {move || t().consent_button}
                        </button>
                        <p class="form-error" role="alert">
                            {move || match action.value().get() {
                                Some(Err(err)) => Some(crate::accounts::strings::error_text(locale.get(), &err)),
                                _ => None,
                            }}
                        </p>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
