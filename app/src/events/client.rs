//! The browser's end of the live events: one `EventSource` per page that wants them.
//!
//! [`use_live_events`] gives a page a counter that goes up with every event it receives (and
//! once more after each reconnect, when something may have been missed), so a page's
//! resources can depend on it and fetch again. The browser's `EventSource` reconnects by
//! itself and sends `Last-Event-ID`, so the server replays what happened meanwhile; the
//! window's `offline` and `online` events mark the page offline and back sooner than a stalled
//! stream would. On the server (rendering the first HTML) the signals stay at their starting
//! values.

use super::types::LiveEvent;
use leptos::prelude::*;

/// What a page reads about the live connection.
#[derive(Debug, Clone, Copy)]
pub struct LiveEvents {
    /// Goes up by one for each event that changed something, and on each (re)connection.
    pub version: ReadSignal<u64>,
    /// The last event received.
    pub last: ReadSignal<Option<LiveEvent>>,
    /// `false` while the connection is down (the page says so and catches up when back).
    pub online: ReadSignal<bool>,
}

/// Opens the stream for the page calling it; it closes when the page goes away.
pub fn use_live_events() -> LiveEvents {
    let (version, set_version) = signal(0_u64);
    let (last, set_last) = signal(None::<LiveEvent>);
    let (online, set_online) = signal(true);
    #[cfg(feature = "hydrate")]
    browser::connect(set_version, set_last, set_online);
    #[cfg(not(feature = "hydrate"))]
    let _ = (set_version, set_last, set_online);
    LiveEvents {
        version,
        last,
        online,
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::LiveEvent;
    use crate::events::types::LiveEventKind;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{EventSource, MessageEvent};

    /// The open source and the callbacks it holds; dropped (and closed) with the page.
    struct Connection {
        source: EventSource,
        _on_open: Closure<dyn FnMut(web_sys::Event)>,
        _on_error: Closure<dyn FnMut(web_sys::Event)>,
        _on_event: Closure<dyn FnMut(MessageEvent)>,
    }

    pub fn connect(
        set_version: WriteSignal<u64>,
        set_last: WriteSignal<Option<LiveEvent>>,
        set_online: WriteSignal<bool>,
    ) {
        let Ok(source) = EventSource::new("/api/events") else {
            set_online.set(false);
            return;
        };
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            set_online.set(true);
            set_version.update(|v| *v += 1);
        });
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            set_online.set(false);
        });
        let on_event = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            let Some(data) = message.data().as_string() else {
                return;
            };
            if let Ok(event) = serde_json::from_str::<LiveEvent>(&data) {
                // A typing signal changes nothing stored: no need to fetch again.
                let changed = event.kind != LiveEventKind::ConsultationTyping;
                set_last.set(Some(event));
                if changed {
                    set_version.update(|v| *v += 1);
                }
            }
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // Named events (`event: consultation_claimed`) reach only listeners for that name.
        for kind in LiveEventKind::ALL {
            let _ = source
                .add_event_listener_with_callback(kind.as_str(), on_event.as_ref().unchecked_ref());
        }
        // The browser knows before the stream does when the network goes: say so at once, and
        // count coming back as a reconnection (pages fetch again, unsent messages go).
        let went_offline = window_event_listener(leptos::ev::offline, move |_| {
            set_online.set(false);
        });
        let came_back = window_event_listener(leptos::ev::online, move |_| {
            set_online.set(true);
            set_version.update(|v| *v += 1);
        });
        let connection = StoredValue::new_local(Some(Connection {
            source,
            _on_open: on_open,
            _on_error: on_error,
            _on_event: on_event,
        }));
        on_cleanup(move || {
            went_offline.remove();
            came_back.remove();
            if let Some(Some(connection)) = connection.try_update_value(Option::take) {
                connection.source.close();
            }
        });
    }
}
