//! The public landing page: what Tabibu does, in the visitor's language.

mod strings;

use crate::i18n::use_strings;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
pub use strings::LANDING;

#[component]
pub fn LandingPage() -> impl IntoView {
    let t = use_strings(&LANDING);
    view! {
        <Title text=move || t().page_title />
        <Meta name="description" content=move || t().lead />
        <section class="hero">
            <h1 data-testid="landing-title">{move || t().headline}</h1>
            <p class="lead">{move || t().lead}</p>
        </section>
        <section class="features" aria-labelledby="features-heading">
            <h2 id="features-heading" class="visually-hidden">{move || t().features_heading}</h2>
            <ul class="feature-list">
                {move || {
                    t()
                        .features
                        .iter()
                        .map(|(title, body)| {
                            view! {
                                <li class="feature">
                                    <h3>{*title}</h3>
                                    <p>{*body}</p>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </section>
    }
}
