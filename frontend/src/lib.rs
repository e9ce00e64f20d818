//! The browser entry point: hydrates the page the server rendered.
//!
//! Built for `wasm32-unknown-unknown` and bound with `wasm-bindgen` into `pkg/tabibu.js` and
//! `pkg/tabibu_bg.wasm`; the shell's hydration script imports them and calls [`hydrate`].

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(tabibu_app::App);
    // Tells scripts and tests that the page is interactive now.
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
