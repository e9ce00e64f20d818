//! The health-profile page.

use super::api::{SaveProfile, get_profile};
use super::strings::PROFILE;
use super::types::{HealthProfile, Sex};
use crate::forms::{Field, FormError, FormErrors, today};
use crate::i18n::{use_locale, use_strings};
use crate::layout::SignedIn;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let t = use_strings(&PROFILE);
    view! {
        <Title text=move || t().title />
        <section class="form-page wide">
            <h1>{move || t().title}</h1>
            <p class="lead">{move || t().lead}</p>
            <SignedIn>
                <ProfileLoader />
            </SignedIn>
        </section>
    }
}

#[component]
fn ProfileLoader() -> impl IntoView {
    let t = use_strings(&PROFILE);
    let profile = Resource::new(|| (), |()| get_profile());
    view! {
        <Suspense fallback=move || view! { <p role="status">{move || t().loading}</p> }>
            {move || {
                profile
                    .get()
                    .map(|result| match result {
                        Ok(p) => view! { <ProfileForm profile=p /> }.into_any(),
                        Err(err) => {
                            let locale = use_locale();
                            view! {
                                <p class="form-error" role="alert">
                                    {move || crate::accounts::strings::error_text(locale.get(), &err)}
                                </p>
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

fn lines(items: &[String]) -> String {
    items.join("\n")
}

#[component]
fn ProfileForm(profile: HealthProfile) -> impl IntoView {
    let t = use_strings(&PROFILE);
    let dob = RwSignal::new(profile.date_of_birth.clone().unwrap_or_default());
    let sex = RwSignal::new(profile.sex.map_or("", Sex::as_str).to_owned());
    let pregnant = RwSignal::new(
        match profile.pregnant {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        }
        .to_owned(),
    );
    let allergies = RwSignal::new(lines(&profile.allergies));
    let medications = RwSignal::new(lines(&profile.medications));
    let conditions = RwSignal::new(lines(&profile.conditions));
    let phone = RwSignal::new(profile.phone.clone().unwrap_or_default());
    let errors = FormErrors::new();
    let saved = RwSignal::new(false);
    let action = ServerAction::<SaveProfile>::new();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(_)) => saved.set(true),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let asks_pregnancy = move || {
        HealthProfile {
            date_of_birth: Some(dob.get()),
            sex: Sex::parse(&sex.get()),
            ..HealthProfile::default()
        }
        .may_be_pregnant(today())
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        saved.set(false);
        let form = super::validate::ProfileForm {
            date_of_birth: &dob.get(),
            sex: &sex.get(),
            pregnant: &pregnant.get(),
            allergies: &allergies.get(),
            medications: &medications.get(),
            conditions: &conditions.get(),
            phone: &phone.get(),
        };
        if let Err(fields) = super::validate::profile(&form, today()) {
            errors.fields.set(fields);
            return;
        }
        action.dispatch(SaveProfile {
            date_of_birth: dob.get(),
            sex: sex.get(),
            pregnant: pregnant.get(),
            allergies: allergies.get(),
            medications: medications.get(),
            conditions: conditions.get(),
            phone: phone.get(),
        });
    };
    let choice =
        move |value: &'static str,
              label: fn(&'static super::strings::ProfileText) -> &'static str| {
            view! { <option value=value>{move || label(t())}</option> }
        };
    view! {
        <form method="post" action="/api/profile/save" on:submit=submit novalidate data-testid="profile-form">
            <FormError errors />
            <Field label=Signal::derive(move || t().date_of_birth) name="date_of_birth" kind="date" value=dob error=errors.field("date_of_birth") autocomplete="bday" required=true />
            <div class="field" class:has-error=move || errors.field("sex").get().is_some()>
                <label for="field-sex">{move || t().sex}</label>
                <select id="field-sex" name="sex" data-testid="input-sex" prop:value=move || sex.get() on:change=move |ev| sex.set(event_target_value(&ev))>
                    {choice("", |t| t.sex_unset)}
                    {choice("female", |t| t.female)}
                    {choice("male", |t| t.male)}
                    {choice("other", |t| t.other)}
                </select>
                <FieldMessage error=errors.field("sex") />
            </div>
            <div class="field" hidden=move || !asks_pregnancy()>
                <label for="field-pregnant">{move || t().pregnant}</label>
                <select id="field-pregnant" name="pregnant" data-testid="input-pregnant" prop:value=move || pregnant.get() on:change=move |ev| pregnant.set(event_target_value(&ev))>
                    {choice("unknown", |t| t.not_sure)}
                    {choice("yes", |t| t.yes)}
                    {choice("no", |t| t.no)}
                </select>
                <FieldMessage error=errors.field("pregnant") />
            </div>
            <ListField label=Signal::derive(move || t().allergies) name="allergies" value=allergies error=errors.field("allergies") />
            <ListField label=Signal::derive(move || t().medications) name="medications" value=medications error=errors.field("medications") />
            <ListField label=Signal::derive(move || t().conditions) name="conditions" value=conditions error=errors.field("conditions") />
            <Field label=Signal::derive(move || t().phone) name="phone" kind="tel" value=phone error=errors.field("phone") autocomplete="tel" hint=Signal::derive(move || t().phone_hint) />
            <button type="submit" class="button" disabled=move || action.pending().get() data-testid="submit">
                {move || t().save}
            </button>
            <p class="notice" role="status" data-testid="profile-saved">
                {move || saved.get().then(|| t().saved)}
            </p>
        </form>
    }
}

#[component]
fn FieldMessage(error: Signal<Option<String>>) -> impl IntoView {
    let locale = use_locale();
    view! {
        <p class="field-error" role="alert">
            {move || error.get().map(|key| crate::accounts::strings::message(locale.get(), &key))}
        </p>
    }
}

/// A labelled textarea for a list, one entry per line.
#[component]
fn ListField(
    label: Signal<&'static str>,
    name: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let t = use_strings(&PROFILE);
    let id = format!("field-{name}");
    let hint_id = format!("{id}-hint");
    view! {
        <div class="field" class:has-error=move || error.get().is_some()>
            <label for=id.clone()>{move || label.get()}</label>
            <p class="hint" id=hint_id.clone()>{move || t().list_hint}</p>
            <textarea
                id=id
                name=name
                rows="3"
                aria-describedby=hint_id
                aria-invalid=move || error.get().is_some().to_string()
                data-testid=format!("input-{name}")
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            >
                {value.get_untracked()}
            </textarea>
            <FieldMessage error />
        </div>
    }
}
