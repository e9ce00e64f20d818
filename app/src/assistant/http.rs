//! `POST /api/assistant/messages`: the patient's message in, the assistant's answer out as
//! server-sent events. First `triage` (the engine's result, so an emergency banner shows
//! before any model text), then `delta` pieces of the reply, then `done` (the reply as
//! stored, the final level and result, the conversation id), or `error` if storing failed.
//!
//! Only a signed-in patient may post, and only into their own conversations: the access
//! table refuses everyone else before this runs, the handler checks again, and the service
//! answers 404 for another patient's conversation. The answer is produced by a task of its
//! own, so it is stored even if the browser goes away mid-stream. Nothing here logs what the
//! patient wrote or was told.

use super::service::{self, AssistantError, Posted, Reply};
use super::types::{
    Done, EVENT_DELTA, EVENT_DONE, EVENT_ERROR, EVENT_TRIAGE, PostMessage, validate,
};
use crate::access::{self, PATIENT};
use crate::accounts::session::{AuthUser, RequestAuth};
use crate::error::AppError;
use crate::platform::AppState;
use crate::platform::error::{ErrorChain, endpoint_internal_error, error_response};
use crate::triage::{service as triage_service, store};
use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use serde::Serialize;
use tabibu_ai::assistant::{ChatEvent, ReplySource};
use tokio::sync::mpsc;

/// Frames waiting for a slow client before the producer waits too.
const BUFFER: usize = 64;

pub async fn post_message(
    State(state): State<AppState>,
    auth: Option<Extension<RequestAuth>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = auth.and_then(|Extension(RequestAuth(user))| user);
    if let Err(refusal) = access::check(PATIENT, user.as_ref()) {
        return error_response(&refusal);
    }
    let Some(user) = user else {
        return error_response(&AppError::Unauthenticated);
    };
    // Parsed here rather than by an extractor, whose rejection text can echo the input.
    let Ok(message) = serde_json::from_slice::<PostMessage>(&body) else {
        return error_response(&AppError::invalid("request", "error.bad_request"));
    };
    let text = match validate(&message) {
        Ok(text) => text,
        Err(fields) => return error_response(&AppError::Validation { fields }),
    };
    let posted = match service::post_message(
        &state.db,
        &user,
        message.conversation_id.as_deref(),
        &text,
        &message.client_message_id,
    )
    .await
    {
        Ok(posted) => posted,
        Err(AssistantError::NotFound) => return error_response(&AppError::NotFound),
        Err(AssistantError::IdTaken) => {
            return error_response(&AppError::Conflict {
                code: "assistant.id_taken".into(),
            });
        }
        Err(err) => return endpoint_internal_error("assistant.post", &err, &headers),
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (tx, rx) = mpsc::channel::<String>(BUFFER);
    if let Some(replay) = &posted.replay {
        let done = Done {
            conversation_id: posted.conversation_id.clone(),
            reply: replay.reply.clone(),
            level: replay.level,
            result: replay.result.clone(),
            complete: true,
        };
        // Two frames fit the buffer: nothing waits here.
        let _ = tx.try_send(frame(EVENT_TRIAGE, &replay.result));
        let _ = tx.try_send(frame(EVENT_DONE, &done));
        drop(tx);
    } else {
        tokio::spawn(answer(state, user, posted, tx, request_id));
    }
    stream_response(rx)
}

/// One server-sent event. JSON never holds a raw line break, so one `data:` line suffices.
fn frame<T: Serialize>(name: &str, data: &T) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    format!("event: {name}\ndata: {json}\n\n")
}

fn stream_response(rx: mpsc::Receiver<String>) -> Response {
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let next = rx.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(next)), rx))
    });
    let mut response = Response::new(Body::from_stream(frames));
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // A reverse proxy must pass each piece on at once instead of collecting the answer.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Runs the assessment over the whole conversation, forwards its events, and stores the
/// reply. A client that went away only stops the forwarding.
async fn answer(
    state: AppState,
    user: AuthUser,
    posted: Posted,
    tx: mpsc::Sender<String>,
    request_id: Option<String>,
) {
    let text = service::conversation_text(&posted.patient_texts);
    let context = match crate::profile::service::load(&state.db, &user.user_id).await {
        Ok(profile) => profile.triage_context(crate::accounts::validate::civil_date(
            crate::platform::db::now_ms(),
        )),
        Err(err) => {
            // The engine still reads age and sex from the text; the answer must not wait.
            tracing::warn!(cause = %ErrorChain(&err), "profile unreadable; triage without it");
            tabibu_ai::PatientContext::default()
        }
    };
    let provider = triage_service::consented_provider(&state, &user.user_id).await;
    let names = [user.name.as_str()];
    let events = tabibu_ai::assistant::assess_stream(
        &state.triage,
        provider.as_ref().map(|p| p.0.as_ref()),
        &text,
        &context,
        &names,
    );
    let mut events = std::pin::pin!(events);
    let mut shown = String::new();
    while let Some(event) = events.next().await {
        match event {
            ChatEvent::Triage(result) => {
                let _ = tx.send(frame(EVENT_TRIAGE, &result)).await;
            }
            ChatEvent::Delta(piece) => {
                shown.push_str(&piece);
                let _ = tx.send(frame(EVENT_DELTA, &piece)).await;
            }
            ChatEvent::Done(assessment) => {
                if let Some(usage) = &assessment.usage
                    && let Err(err) =
                        store::record_usage(&state.db, usage, Some(&user.user_id)).await
                {
                    tracing::warn!(cause = %err, "could not record model usage");
                }
                // Text was shown and then the stream broke: keep what the patient saw.
                let cut =
                    !shown.trim().is_empty() && assessment.reply_source == ReplySource::Fallback;
                let body = if cut {
                    shown.trim().to_owned()
                } else {
                    assessment.reply.clone()
                };
                let summary = tabibu_ai::pre_consult_summary(&text, &assessment.result);
                let reply = Reply {
                    body: &body,
                    complete: !cut,
                    result: &assessment.result,
                    summary: &summary,
                };
                let last =
                    match service::record_reply(&state.db, &user, &posted.conversation_id, &reply)
                        .await
                    {
                        Ok(()) => frame(
                            EVENT_DONE,
                            &Done {
                                conversation_id: posted.conversation_id.clone(),
                                level: assessment.result.level,
                                reply: body,
                                result: assessment.result,
                                complete: !cut,
                            },
                        ),
                        Err(err) => {
                            tracing::error!(
                                request_id = request_id.as_deref().unwrap_or("-"),
                                operation = "assistant.reply",
                                cause = %ErrorChain(&err),
                                "request failed"
                            );
                            frame(
                                EVENT_ERROR,
                                &AppError::Internal {
                                    request_id: request_id.clone(),
                                },
                            )
                        }
                    };
                let _ = tx.send(last).await;
            }
        }
    }
}
