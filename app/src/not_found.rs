//! The page for addresses that lead nowhere; answered with status 404.

use crate::i18n::{Translations, use_strings};
use leptos::prelude::*;
use leptos_meta::Title;

#[derive(Debug)]
pub struct NotFoundText {
    pub title: &'static str,
    pub body: &'static str,
    pub home: &'static str,
}

pub static NOT_FOUND: Translations<NotFoundText> = Translations {
    en: NotFoundText {
        title: "Page not found",
        body: "We could not find that page. It may have moved, or the link may be mistyped.",
        home: "Go to the home page",
    },
    sw: NotFoundText {
        title: "Ukurasa haukupatikana",
        body: "Hatukuweza kupata ukurasa huo. Huenda umehamishwa, au kiungo kina kosa.",
        home: "Nenda kwenye ukurasa wa mwanzo",
    },
};

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let t = use_strings(&NOT_FOUND);
    view! {
        <Title text=move || t().title />
        <section class="not-found">
            <h1 data-testid="not-found-title">{move || t().title}</h1>
            <p>{move || t().body}</p>
            <a href="/">{move || t().home}</a>
        </section>
    }
}
