//! `GET /api/events`: the signed-in user's live events as server-sent events.
//!
//! Each event is sent with its id; a browser that reconnects sends `Last-Event-ID` and first
//! gets, from the table, what it missed, then the live ones (deduplicated by id). A comment
//! line every [`HEARTBEAT`] keeps proxies from closing an idle stream. The stream carries no
//! content (see `super`), and only events the caller's [`Audience`] receives.

use super::hub::{Audience, Routed};
use super::types::LiveEvent;
use crate::access::{self, Access};
use crate::accounts::session::RequestAuth;
use crate::error::AppError;
use crate::platform::AppState;
use crate::platform::error::{endpoint_internal_error, error_response};
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// How often an idle stream sends a comment line.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting after the stream drops.
const RETRY: Duration = Duration::from_secs(2);

pub async fn stream(
    State(state): State<AppState>,
    auth: Option<Extension<RequestAuth>>,
    headers: HeaderMap,
) -> Response {
    let user = auth.and_then(|Extension(RequestAuth(user))| user);
    if let Err(refusal) = access::check(Access::SignedIn, user.as_ref()) {
        return error_response(&refusal);
    }
    let Some(user) = user else {
        return error_response(&AppError::Unauthenticated);
    };
    let audience = Audience {
        user_id: user.user_id,
        role: user.role,
    };
    // Subscribe before reading the backlog, so nothing falls between the two.
    let receiver = state.events.subscribe();
    let last_seen = last_event_id(&headers);
    let (backlog, floor) = match last_seen {
        Some(after) => match state.events.replay(&audience, after).await {
            Ok(events) => (events, after),
            Err(err) => return endpoint_internal_error("events.replay", &err, &headers),
        },
        // A new listener hears what happens from now on; a change committed just before it
        // connected but not yet fanned out is already in what its page fetched.
        None => match state.events.latest_id().await {
            Ok(latest) => (Vec::new(), latest),
            Err(err) => return endpoint_internal_error("events.latest", &err, &headers),
        },
    };
    let follow = Follow {
        receiver,
        audience,
        hub: state.events.clone(),
        pending: backlog.into(),
        last_sent: floor,
    };
    let opening = stream::once(async { Ok(Event::default().retry(RETRY).comment("open")) });
    let events = stream::unfold(follow, Follow::next)
        .map(|e| Ok::<_, Infallible>(to_sse(&e)))
        .take_until(state.events.closed());
    let mut response = Sse::new(opening.chain(events))
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response();
    // Tell nginx and similar proxies not to buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    response
}

/// The id the browser last saw, from the standard reconnect header.
fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| *id >= 0)
}

fn to_sse(event: &LiveEvent) -> Event {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    // A passing signal carries no id, so the browser's Last-Event-ID stays on stored events.
    let sse = if event.id == 0 {
        Event::default()
    } else {
        Event::default().id(event.id.to_string())
    };
    sse.event(event.kind.as_str()).data(data)
}

/// One stream's position: replayed events still to send, then the live ones.
struct Follow {
    receiver: broadcast::Receiver<Arc<Routed>>,
    audience: Audience,
    hub: Arc<super::hub::EventHub>,
    pending: VecDeque<Arc<Routed>>,
    last_sent: i64,
}

impl Follow {
    async fn next(mut self) -> Option<(LiveEvent, Follow)> {
        loop {
            let routed = match self.pending.pop_front() {
                Some(routed) => routed,
                None => match self.receiver.recv().await {
                    Ok(routed) => routed,
                    Err(RecvError::Lagged(_)) => {
                        // Too slow to keep up: catch up from the table instead.
                        match self.hub.replay(&self.audience, self.last_sent).await {
                            Ok(missed) => self.pending.extend(missed),
                            Err(err) => {
                                tracing::warn!(cause = %err, "live stream could not catch up");
                                return None;
                            }
                        }
                        continue;
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            let passing = routed.event.id == 0;
            if (!passing && routed.event.id <= self.last_sent) || !self.audience.receives(&routed) {
                continue;
            }
            if !passing {
                self.last_sent = routed.event.id;
            }
            return Some((routed.event.clone(), self));
        }
    }
}
