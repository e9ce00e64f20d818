//! The frame around every page: header with the language switch, the emergency strip, the
//! footer. Pages render inside [`Layout`].

mod strings;

use crate::accounts::pages::AccountNav;
use crate::i18n::{Locale, SetLanguage, show_in, use_locale, use_strings};
use crate::public_config::use_public_config;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
pub use strings::LAYOUT;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let t = use_strings(&LAYOUT);
    view! {
        <a class="skip-link" href="#main">{move || t().skip_to_content}</a>
        <header class="site-header">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"+"</span>
                "Tabibu"
            </a>
            <div class="header-tools">
                <AccountNav />
                <LanguageSwitch />
            </div>
        </header>
        <EmergencyStrip />
        <main id="main" tabindex="-1">{children()}</main>
        <footer class="site-footer">
            <p>{move || t().footer_disclaimer}</p>
        </footer>
    }
}

/// The always-visible line that tells people what to do in an emergency.
#[component]
pub fn EmergencyStrip() -> impl IntoView {
    let t = use_strings(&LAYOUT);
    let config = use_public_config();
    let main_number = config.emergency_number.clone();
    let others = config.other_emergency_numbers.join(", ");
    let href = format!("tel:{main_number}");
    view! {
        <aside class="emergency-strip" aria-label=move || t().emergency_label>
            <span>{move || t().emergency_prefix}</span>
            " "
            <a class="emergency-number" href=href data-testid="emergency-number">
                {main_number}
            </a>
            {(!others.is_empty())
                .then(|| {
                    view! {
                        <span class="emergency-others">
                            " " {move || t().emergency_also} " " {others.clone()}
                        </span>
                    }
                })}
        </aside>
    }
}

/// The language switch: one small form per language. Hydrated, it switches the page at once
/// and stores the choice through the server function; without JavaScript the form posts to
/// the same server function, which sets the cookie and sends the browser back.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let t = use_strings(&LAYOUT);
    let current = use_locale();
    let remember = ServerAction::<SetLanguage>::new();
    let endpoint = <SetLanguage as ServerFn>::PATH;
    view! {
        <nav class="language-switch" aria-label=move || t().language_label>
            {Locale::ALL
                .into_iter()
                .map(|locale| {
                    view! {
                        <form
                            method="post"
                            action=endpoint
                            on:submit=move |ev| {
                                ev.prevent_default();
                                show_in(locale);
                                remember.dispatch(SetLanguage { code: locale.code().to_owned() });
                            }
                        >
                            <input type="hidden" name="code" value=locale.code() />
                            <button
                                type="submit"
                                lang=locale.code()
                                data-testid=format!("lang-{}", locale.code())
                                aria-pressed=move || (current.get() == locale).to_string()
                            >
                                {locale.native_name()}
                            </button>
                        </form>
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// Renders `children` for a signed-in user; anyone else is sent to the sign-in page (a
/// redirect when rendered on the server, a navigation in the browser).
#[component]
pub fn SignedIn(children: ChildrenFn) -> impl IntoView {
    let me = crate::accounts::pages::use_me();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || {
                me.get()
                    .map(|me| match me {
                        Ok(Some(_)) => children.with_value(|c| c()).into_any(),
                        _ => {
                            #[cfg(feature = "ssr")]
                            leptos_axum::redirect("/sign-in");
                            crate::forms::go_to("/sign-in");
                            ().into_any()
                        }
                    })
            }}
        </Suspense>
    }
}
