//! Small building blocks every form page uses: a labelled field with its error, the error
//! banner, and the hard navigation after a successful sign-in (a full load, so that the new
//! session cookie shapes the whole page).

use crate::accounts::strings::{error_text, message};
use crate::error::{AppError, FieldErrors};
use crate::i18n::use_locale;
use leptos::prelude::*;

/// The errors a form shows: per field, and one for the whole form.
#[derive(Debug, Clone, Copy)]
pub struct FormErrors {
    pub fields: RwSignal<FieldErrors>,
    pub form: RwSignal<Option<AppError>>,
}

impl FormErrors {
    pub fn new() -> Self {
        FormErrors {
            fields: RwSignal::new(FieldErrors::new()),
            form: RwSignal::new(None),
        }
    }

    pub fn clear(&self) {
        self.fields.set(FieldErrors::new());
        self.form.set(None);
    }

    /// Shows what the server said: field errors next to their fields (a `form` field error
    /// and anything else above the form).
    pub fn show(&self, err: AppError) {
        match err {
            AppError::Validation { fields } if !fields.contains_key("form") => {
                self.fields.set(fields)
            }
            other => self.form.set(Some(other)),
        }
    }

    /// Marks one field with a message key (a check made in the browser).
    pub fn set_field(&self, name: &str, key: &str) {
        self.fields.update(|f| {
            f.insert(name.to_owned(), key.to_owned());
        });
    }

    pub fn field(&self, name: &'static str) -> Signal<Option<String>> {
        let fields = self.fields;
        Signal::derive(move || fields.with(|f| f.get(name).cloned()))
    }
}

impl Default for FormErrors {
    fn default() -> Self {
        Self::new()
    }
}

/// The `aria-describedby` of a field: its hint, and its error while there is one.
fn described_by(
    has_hint: bool,
    hint_id: String,
    error_id: String,
    error: Signal<Option<String>>,
) -> impl Fn() -> Option<String> + Send + Sync + 'static {
    move || {
        let ids: Vec<&str> = [
            has_hint.then_some(hint_id.as_str()),
            error.get().is_some().then_some(error_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

/// A labelled input bound to `value`, with its hint and its error message.
#[component]
pub fn Field(
    #[prop(into)] label: Signal<&'static str>,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional, into)] hint: Option<Signal<&'static str>>,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let locale = use_locale();
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = described_by(hint.is_some(), hint_id.clone(), error_id.clone(), error);
    view! {
        <div class="field" class:has-error=move || error.get().is_some()>
            <label for=id.clone()>{move || label.get()}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{move || h.get()}</p> })}
            <input
                id=id.clone()
                name=name
                type=kind
                autocomplete=autocomplete
                required=required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=described
                data-testid=format!("input-{name}")
                bind:value=value
            />
            <p class="field-error" id=error_id role="alert" data-testid=format!("error-{name}")>
                {move || error.get().map(|key| message(locale.get(), &key))}
            </p>
        </div>
    }
}

/// A labelled multi-line text box bound to `value`, with its hint and its error message: the
/// [`Field`] of free text (notes, messages).
#[component]
pub fn TextAreaField(
    #[prop(into)] label: Signal<&'static str>,
    name: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    #[prop(default = 4)] rows: u32,
    #[prop(optional, into)] hint: Option<Signal<&'static str>>,
) -> impl IntoView {
    let locale = use_locale();
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = described_by(hint.is_some(), hint_id.clone(), error_id.clone(), error);
    view! {
        <div class="field" class:has-error=move || error.get().is_some()>
            <label for=id.clone()>{move || label.get()}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{move || h.get()}</p> })}
            <textarea
                id=id.clone()
                name=name
                rows=rows
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=described
                data-testid=format!("input-{name}")
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            ></textarea>
            <p class="field-error" id=error_id role="alert" data-testid=format!("error-{name}")>
                {move || error.get().map(|key| message(locale.get(), &key))}
            </p>
        </div>
    }
    .into_any()
}

/// The message above a form when something other than one field went wrong.
#[component]
pub fn FormError(errors: FormErrors) -> impl IntoView {
    let locale = use_locale();
    view! {
        <div class="form-error" role="alert" data-testid="form-error">
            {move || errors.form.get().map(|err| error_text(locale.get(), &err))}
        </div>
    }
}

/// A full page load of `path` (after sign-in or sign-out).
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Today as `(year, month, day)`, for the date-of-birth check in the browser.
pub fn today() -> (i32, u32, u32) {
    #[cfg(feature = "hydrate")]
    {
        #[allow(clippy::cast_possible_truncation)]
        let ms = js_sys_now() as i64;
        crate::accounts::validate::civil_date(ms)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
            .unwrap_or(0);
        crate::accounts::validate::civil_date(ms)
    }
}

#[cfg(feature = "hydrate")]
fn js_sys_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.time_origin() + p.now())
}

/// A draft kept in this browser's `localStorage` under `key`, so that a reload, a lost
/// connection or an expired session does not lose what someone was writing. `None` on the
/// server and when nothing is kept.
pub fn load_draft(key: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()?
            .local_storage()
            .ok()??
            .get_item(&format!("tabibu.draft.{key}"))
            .ok()?
            .filter(|d| !d.is_empty())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

/// Keeps (or, when `text` is empty, forgets) the draft under `key` in this browser.
pub fn save_draft(key: &str, text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let name = format!("tabibu.draft.{key}");
        let _ = if text.is_empty() {
            storage.remove_item(&name)
        } else {
            storage.set_item(&name, text)
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, text);
}

/// `YYYY-MM-DD hh:mm` in UTC for a time in milliseconds since the epoch: how every page shows
/// a moment (the browser's zone is not needed for that).
pub fn when(ms: i64) -> String {
    let (y, m, d) = crate::accounts::validate::civil_date(ms);
    let minutes = ms.div_euclid(60_000).rem_euclid(1440);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        minutes / 60,
        minutes % 60
    )
}

/// A failure the page cannot put next to a field, as one line announced to screen readers.
pub fn error_line(err: AppError) -> impl IntoView {
    let locale = use_locale();
    view! {
        <p class="form-error" role="alert">
            {move || error_text(locale.get(), &err)}
        </p>
    }
}
