//! Translations: English and Swahili, chosen per visitor and remembered in a cookie.
//!
//! Each feature keeps its own strings next to its pages as a plain struct with one field per
//! key, and one constant per language of type [`Translations`]. A key missing from one
//! language is a compile error, so no page can ship half translated. Strings are `&'static`
//! or small functions (for plurals and numbers), so lookups cost nothing.
//!
//! The locale is decided on the server (cookie, else `Accept-Language`, else English) and
//! written into `<html lang>`; the browser reads it back from there when it hydrates, so both
//! halves agree on the first render.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The cookie that remembers the visitor's language (a preference, not personal data).
pub const LOCALE_COOKIE: &str = "tabibu_lang";

/// A language Tabibu speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    En,
    Sw,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Sw];

    /// The BCP 47 code, as used in `<html lang>` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Sw => "sw",
        }
    }

    /// The language's own name, shown in the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Sw => "Kiswahili",
        }
    }

    /// Parses a code such as `sw`, `sw-KE` or `en-GB`; anything else is `None`.
    pub fn from_code(code: &str) -> Option<Locale> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "sw" => Some(Locale::Sw),
            _ => None,
        }
    }

    /// Picks the locale from a `Cookie` header value, if it names one.
    pub fn from_cookie_header(header: &str) -> Option<Locale> {
        header.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == LOCALE_COOKIE)
                .then(|| Locale::from_code(value))
                .flatten()
        })
    }

    /// Picks the first supported language of an `Accept-Language` header, honouring q-values.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(Locale, f32)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(locale) = parts.next().and_then(Locale::from_code) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(_, b)| q > b) {
                best = Some((locale, q));
            }
        }
        best.filter(|(_, q)| *q > 0.0).map(|(l, _)| l)
    }
}

/// One value of `T` per language; a feature declares `pub const STRINGS: Translations<Its>`.
#[derive(Debug)]
pub struct Translations<T: 'static> {
    pub en: T,
    pub sw: T,
}

impl<T> Translations<T> {
    pub const fn get(&'static self, locale: Locale) -> &'static T {
        match locale {
            Locale::En => &self.en,
            Locale::Sw => &self.sw,
        }
    }
}

/// The current locale, shared through context by [`provide_locale`].
#[derive(Debug, Clone, Copy)]
pub struct LocaleSignal(pub RwSignal<Locale>);

/// Decides the first locale and puts it in context. Call once, at the root of the app.
pub fn provide_locale() -> RwSignal<Locale> {
    let signal = RwSignal::new(initial_locale());
    provide_context(LocaleSignal(signal));
    signal
}

/// The current locale; English where no provider is mounted (e.g. in a unit test).
pub fn use_locale() -> Signal<Locale> {
    match use_context::<LocaleSignal>() {
        Some(LocaleSignal(signal)) => signal.into(),
        None => Signal::stored(Locale::En),
    }
}

/// Picks the strings of the current locale: `let t = use_strings(&LANDING);` then `t().title`.
pub fn use_strings<T: Send + Sync>(
    table: &'static Translations<T>,
) -> impl Fn() -> &'static T + Copy + Send + Sync + 'static {
    let locale = use_locale();
    move || table.get(locale.get())
}

/// Switches the language of the page at once (the cookie follows from [`set_language`]).
pub fn show_in(locale: Locale) {
    if let Some(LocaleSignal(signal)) = use_context::<LocaleSignal>() {
        signal.set(locale);
    }
}

/// Remembers the visitor's language for a year in the `tabibu_lang` cookie, and for a signed-in
/// caller also in their account, so that the emails they get are in it. Called by the
/// language switch, as a server function from the hydrated page or as a plain form post
/// without JavaScript (which then returns to the page it came from).
#[server(prefix = "/api", endpoint = "set_language")]
pub async fn set_language(code: String) -> Result<(), crate::error::AppError> {
    use crate::error::AppError;
    let locale = Locale::from_code(&code).ok_or_else(|| {
        crate::platform::reject(AppError::invalid("code", "error.unknown_language"))
    })?;
    let state = crate::platform::app_state()?;
    let secure = if state.config.is_production() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{LOCALE_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
        locale.code()
    );
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&cookie),
    ) {
        response.append_header(http::header::SET_COOKIE, value);
    }
    if let Some(user) = crate::access::caller() {
        let saved = sqlx::query("UPDATE users SET locale = $1 WHERE id = $2")
            .bind(locale.code())
            .bind(&user.user_id)
            .execute(state.db.pool())
            .await;
        if let Err(err) = saved {
            // The page is already in the new language; only the emails keep the old one.
            tracing::warn!(cause = %err, "could not save the account's language");
        }
    }
    Ok(())
}

/// The language of the request being handled: the `tabibu_lang` cookie, else
/// `Accept-Language`, else English.
#[cfg(feature = "ssr")]
pub fn request_locale() -> Locale {
    initial_locale()
}

#[cfg(feature = "ssr")]
fn initial_locale() -> Locale {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Locale::En;
    };
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    header(http::header::COOKIE)
        .and_then(Locale::from_cookie_header)
        .or_else(|| header(http::header::ACCEPT_LANGUAGE).and_then(Locale::from_accept_language))
        .unwrap_or_default()
}

#[cfg(not(feature = "ssr"))]
fn initial_locale() -> Locale {
    // The server wrote its decision into <html lang>; agreeing with it keeps hydration exact.
    #[cfg(feature = "hydrate")]
    if let Some(lang) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|el| el.get_attribute("lang"))
    {
        return Locale::from_code(&lang).unwrap_or_default();
    }
    Locale::En
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_names_the_language() {
        assert_eq!(
            Locale::from_cookie_header("a=1; tabibu_lang=sw; b=2"),
            Some(Locale::Sw)
        );
        assert_eq!(Locale::from_cookie_header("tabibu_lang=fr"), None);
        assert_eq!(Locale::from_cookie_header("other=sw"), None);
    }

    #[test]
    fn accept_language_honours_quality_values() {
        assert_eq!(
            Locale::from_accept_language("fr, sw-KE;q=0.8, en;q=0.5"),
            Some(Locale::Sw)
        );
        assert_eq!(
            Locale::from_accept_language("en-GB,en;q=0.9"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_accept_language("de, fr"), None);
        assert_eq!(Locale::from_accept_language("sw;q=0"), None);
    }

    #[test]
    fn codes_round_trip() {
        for l in Locale::ALL {
            assert_eq!(Locale::from_code(l.code()), Some(l));
        }
    }
}
