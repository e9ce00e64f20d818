//! placeholder
use leptos::prelude::*;
#[component]
pub fn DocumentsPage() -> impl IntoView {
    view! { <p>"x"</p> }
}
