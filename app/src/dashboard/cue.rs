//! The browser-only parts of the dashboard: the alert sound for a new emergency, the muting
//! switch that survives a reload, and the clock the waiting times tick by. On the server these
//! do nothing (the sound) or answer a fixed value (the mute switch: off).

use leptos::prelude::*;

const MUTE_KEY: &str = "tabibu.dashboard.muted";

/// Whether the doctor muted the alert sound in this browser.
pub fn load_muted() -> bool {
    #[cfg(feature = "hydrate")]
    {
        storage()
            .and_then(|s| s.get_item(MUTE_KEY).ok().flatten())
            .is_some_and(|v| v == "1")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = MUTE_KEY;
        false
    }
}

/// Remembers the mute switch in this browser.
pub fn save_muted(muted: bool) {
    #[cfg(feature = "hydrate")]
    if let Some(s) = storage() {
        let _ = s.set_item(MUTE_KEY, if muted { "1" } else { "0" });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = muted;
}

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Two short tones: a sound that says "look at the queue" without being alarming. Browsers
/// play it only after the doctor has interacted with the page once.
pub fn chime() {
    #[cfg(feature = "hydrate")]
    {
        let Ok(context) = web_sys::AudioContext::new() else {
            return;
        };
        let now = context.current_time();
        for (i, hz) in [880.0_f32, 660.0].into_iter().enumerate() {
            let Ok(tone) = context.create_oscillator() else {
                return;
            };
            tone.frequency().set_value(hz);
            let start = now + 0.25 * i as f64;
            let wired = tone.connect_with_audio_node(&context.destination()).is_ok()
                && tone.start_with_when(start).is_ok()
                && tone.stop_with_when(start + 0.18).is_ok();
            if !wired {
                return;
            }
        }
    }
}

/// Now, in milliseconds since the epoch, updated every second in the browser (the server
/// renders with the time of the request).
pub fn use_clock() -> ReadSignal<i64> {
    let (now, set_now) = signal(now_ms());
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || set_now.set(now_ms()),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = set_now;
    now
}

/// Now, in milliseconds since the epoch (the browser's clock in the browser).
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        // `Date.now()` without js-sys: the performance clock's origin plus its reading.
        web_sys::window()
            .and_then(|w| w.performance())
            .map_or(0, |p| (p.time_origin() + p.now()) as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// "4 min", "1 h 05", "2 d": how long since `since_ms`.
pub fn waited(since_ms: i64, now_ms: i64) -> String {
    let minutes = (now_ms - since_ms).max(0) / 60_000;
    match minutes {
        0..60 => format!("{minutes} min"),
        60..1440 => format!("{} h {:02}", minutes / 60, minutes % 60),
        _ => format!("{} d", minutes / 1440),
    }
}

#[cfg(test)]
mod tests {
    use super::waited;

    #[test]
    fn waiting_times_read_in_minutes_hours_and_days() {
        assert_eq!(waited(0, 59_999), "0 min");
        assert_eq!(waited(0, 12 * 60_000), "12 min");
        assert_eq!(waited(0, 65 * 60_000), "1 h 05");
        assert_eq!(waited(0, 3 * 1440 * 60_000), "3 d");
        assert_eq!(waited(10, 0), "0 min");
    }
}
