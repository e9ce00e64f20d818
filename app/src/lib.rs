//! The Tabibu application: the HTML shell, the routes, every page, and the types and server
//! functions both halves share.
//!
//! This crate compiles twice: with `ssr` into the server (which renders pages and runs server
//! functions) and with `hydrate` into the browser's WASM (which makes the rendered pages
//! interactive). Anything that touches the database, secrets or the network lives behind
//! `#[cfg(feature = "ssr")]` (mostly in [`platform`]) and never reaches the browser.
// Leptos views are deeply nested types; the account pages outgrow the default limit.
#![recursion_limit = "256"]

// The server and the browser must render the same view tree, or hydration fails; both get
// `--cfg erase_components` from .cargo/config.toml, and a build without it stops here.
#[cfg(not(erase_components))]
compile_error!(
    "tabibu-app needs `--cfg erase_components` (set in .cargo/config.toml); a RUSTFLAGS \
     variable replaces that setting: add `--cfg erase_components` to it"
);

#[cfg(feature = "ssr")]
pub mod access;
pub mod accounts;
pub mod admin;
pub mod assistant;
#[cfg(feature = "ssr")]
pub mod audit;
pub mod consultations;
pub mod dashboard;
pub mod documents;
pub mod error;
pub mod events;
pub mod forms;
pub mod i18n;
pub mod landing;
pub mod layout;
pub mod not_found;
#[cfg(feature = "ssr")]
pub mod notifications;
pub mod payments;
#[cfg(feature = "ssr")]
pub mod platform;
pub mod profile;
pub mod public_config;
pub mod records;
pub mod triage;

use i18n::provide_locale;
use leptos::prelude::*;
use leptos_meta::{Html, MetaTags, Stylesheet, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let config = public_config::use_public_config();
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <public_config::PublicConfigMeta config />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: routes and the providers every page relies on.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let locale = provide_locale();
    accounts::pages::provide_me();
    view! {
        <Html {..} lang=move || locale.get().code() dir="ltr" />
        <Stylesheet id="tabibu" href="/pkg/tabibu.css" />
        <Router>
            <layout::Layout>
                <Routes fallback=not_found::NotFoundPage>
                    <Route path=path!("/") view=landing::LandingPage />
                    <Route path=path!("/sign-up") view=accounts::pages::SignUpPage />
                    <Route path=path!("/sign-in") view=accounts::pages::SignInPage />
                    <Route path=path!("/sign-in/code") view=accounts::pages::CodePage />
                    <Route path=path!("/forgot-password") view=accounts::pages::ForgotPasswordPage />
                    <Route path=path!("/reset-password") view=accounts::pages::ResetPasswordPage />
                    <Route path=path!("/account") view=accounts::pages::AccountPage />
                    <Route path=path!("/profile") view=profile::pages::ProfilePage />
                    <Route path=path!("/my-data") view=records::pages::MyDataPage />
                    <Route path=path!("/consultations") view=consultations::pages::ConsultationsPage />
                    <Route path=path!("/consultations/new") view=consultations::pages::NewConsultationPage />
                    <Route path=path!("/consultations/:id") view=consultations::pages::ConsultationPage />
                    <Route path=path!("/doctor") view=dashboard::pages::QueuePage />
                    <Route path=path!("/doctor/cases/:id") view=dashboard::pages::CasePage />
                    <Route path=path!("/documents") view=documents::pages::DocumentsPage />
                    <Route path=path!("/admin/users") view=admin::UsersPage />
                    <Route path=path!("/admin/audit") view=admin::AuditPage />
                    <Route path=path!("/admin/cases") view=dashboard::oversight::OversightPage />
                    <Route path=path!("/admin/payments") view=payments::pages::PaymentsPage />
                    <Route path=path!("/admin/emails") view=admin::emails::EmailsPage />
                    <Route path=path!("/assistant") view=assistant::pages::AssistantPage />
                    <Route path=path!("/assistant/:id") view=assistant::pages::ConversationPage />
                </Routes>
            </layout::Layout>
        </Router>
    }
}
