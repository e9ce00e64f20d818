//! The account pages: sign-up, sign-in and its code step, forgotten and reset passwords, and
//! the account settings (password, two-factor sign-in, sessions).

use super::api::*;
use super::strings::ACCOUNTS;
use super::types::{Me, Role};
use super::validate;
use crate::error::AppError;
use crate::forms::{Field, FormError, FormErrors, go_to, today};
use crate::i18n::use_strings;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The signed-in user, fetched once per page load and shared through context.
#[derive(Debug, Clone, Copy)]
pub struct MeResource(pub Resource<Result<Option<Me>, AppError>>);

pub fn provide_me() {
    provide_context(MeResource(Resource::new(|| (), |_| get_me())));
}

pub fn use_me() -> Resource<Result<Option<Me>, AppError>> {
    match use_context::<MeResource>() {
        Some(MeResource(r)) => r,
        None => Resource::new(|| (), |_| get_me()),
    }
}

/// Header links: sign in / create account, or account / admin / sign out.
#[component]
pub fn AccountNav() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let consult = use_strings(&crate::consultations::strings::CONSULT);
    let queue_text = use_strings(&crate::dashboard::strings::DASHBOARD);
    let me = use_me();
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            go_to("/");
        }
    });
    view! {
        <nav class="account-nav" aria-label=move || t().account>
            <Suspense fallback=|| ()>
                {move || {
                    me.get()
                        .map(|me| match me {
                            Ok(Some(me)) => {
                                view! {
                                    {(me.role == Role::Admin)
                                        .then(|| view! { <a href="/admin/users" data-testid="nav-admin">"Admin"</a> })}
                                    {(me.role == Role::Patient)
                                        .then(|| {
                                            let a = use_strings(&crate::assistant::strings::ASSISTANT);
                                            let d = use_strings(&crate::documents::strings::DOCUMENTS);
                                            view! {
                                                <a href="/assistant" data-testid="nav-assistant">{move || a().nav}</a>
                                                <a href="/documents" data-testid="nav-documents">{move || d().nav}</a>
                                                <a href="/consultations" data-testid="nav-consultations">{move || consult().list_title}</a>
                                            }
                                        })}
                                    {(me.role == Role::Doctor)
                                        .then(|| view! { <a href="/doctor" data-testid="nav-queue">{move || queue_text().queue_title}</a> })}
                                    <a href="/account" data-testid="nav-account">{move || t().account}</a>
                                    <button
                                        type="button"
                                        class="link-button"
                                        data-testid="nav-sign-out"
                                        on:click=move |_| {
                                            sign_out.dispatch(SignOut {});
                                        }
                                    >
                                        {move || t().sign_out}
                                    </button>
                                }
                                    .into_any()
                            }
                            _ => {
                                view! {
                                    <a href="/sign-in" data-testid="nav-sign-in">{move || t().sign_in}</a>
                                    <a href="/sign-up" class="button-small" data-testid="nav-sign-up">{move || t().sign_up}</a>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </nav>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let (name, email, dob, password) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let errors = FormErrors::new();
    let action = ServerAction::<SignUp>::new();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => go_to("/account"),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        match validate::sign_up(
            &email.get(),
            &password.get(),
            &name.get(),
            &dob.get(),
            today(),
        ) {
            Err(fields) => errors.fields.set(fields),
            Ok(_) => {
                action.dispatch(SignUp {
                    email: email.get(),
                    password: password.get(),
                    name: name.get(),
                    date_of_birth: dob.get(),
                });
            }
        }
    };
    view! {
        <Title text=move || t().sign_up_title />
        <section class="form-page">
            <h1>{move || t().sign_up_title}</h1>
            <p class="lead">{move || t().sign_up_lead}</p>
            <form method="post" action="/api/accounts/sign_up" on:submit=submit novalidate data-testid="sign-up-form">
                <FormError errors />
                <Field label=Signal::derive(move || t().name) name="name" value=name error=errors.field("name") autocomplete="name" required=true />
                <Field label=Signal::derive(move || t().email) name="email" kind="email" value=email error=errors.field("email") autocomplete="email" required=true />
                <Field label=Signal::derive(move || t().date_of_birth) name="date_of_birth" kind="date" value=dob error=errors.field("date_of_birth") autocomplete="bday" required=true />
                <Field
                    label=Signal::derive(move || t().password)
                    name="password"
                    kind="password"
                    value=password
                    error=errors.field("password")
                    autocomplete="new-password"
                    hint=Signal::derive(move || t().password_hint)
                    required=true
                />
                <button type="submit" class="button" disabled=move || action.pending().get() data-testid="submit">
                    {move || if action.pending().get() { t().working } else { t().submit_sign_up }}
                </button>
            </form>
            <p>{move || t().have_account} " " <a href="/sign-in">{move || t().sign_in}</a></p>
        </section>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let (email, password) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let errors = FormErrors::new();
    let action = ServerAction::<SignIn>::new();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(outcome)) => go_to(outcome.next_path()),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        if let Err(key) = validate::Email::parse(&email.get()) {
            errors.set_field("email", key);
            return;
        }
        action.dispatch(SignIn {
            email: email.get(),
            password: password.get(),
        });
    };
    view! {
        <Title text=move || t().sign_in_title />
        <section class="form-page">
            <h1>{move || t().sign_in_title}</h1>
            <form method="post" action="/api/accounts/sign_in" on:submit=submit novalidate data-testid="sign-in-form">
                <FormError errors />
                <Field label=Signal::derive(move || t().email) name="email" kind="email" value=email error=errors.field("email") autocomplete="username" required=true />
                <Field label=Signal::derive(move || t().password) name="password" kind="password" value=password error=errors.field("password") autocomplete="current-password" required=true />
                <button type="submit" class="button" disabled=move || action.pending().get() data-testid="submit">
                    {move || if action.pending().get() { t().working } else { t().submit_sign_in }}
                </button>
            </form>
            <p><a href="/forgot-password" data-testid="forgot-link">{move || t().forgot_link}</a></p>
            <p>{move || t().no_account} " " <a href="/sign-up">{move || t().sign_up}</a></p>
        </section>
    }
}

#[component]
pub fn CodePage() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let code = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let action = ServerAction::<VerifyCode>::new();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(outcome)) => go_to(outcome.next_path()),
        Some(Err(AppError::Unauthenticated)) => go_to("/sign-in"),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        action.dispatch(VerifyCode { code: code.get() });
    };
    view! {
        <Title text=move || t().code_title />
        <section class="form-page">
            <h1>{move || t().code_title}</h1>
            <p class="lead">{move || t().code_lead}</p>
            <form method="post" action="/api/accounts/verify_code" on:submit=submit novalidate data-testid="code-form">
                <FormError errors />
                <Field label=Signal::derive(move || t().code) name="code" value=code error=errors.field("code") autocomplete="one-time-code" required=true />
                <button type="submit" class="button" disabled=move || action.pending().get() data-testid="submit">
                    {move || t().submit_code}
                </button>
            </form>
        </section>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let email = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let action = ServerAction::<RequestReset>::new();
    let sent = RwSignal::new(false);
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => sent.set(true),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        if let Err(key) = validate::Email::parse(&email.get()) {
            errors.set_field("email", key);
            return;
        }
        action.dispatch(RequestReset { email: email.get() });
    };
    view! {
        <Title text=move || t().forgot_title />
        <section class="form-page">
            <h1>{move || t().forgot_title}</h1>
            <Show
                when=move || sent.get()
                fallback=move || {
                    view! {
                        <p class="lead">{move || t().forgot_lead}</p>
                        <form method="post" action="/api/accounts/request_reset" on:submit=submit novalidate data-testid="forgot-form">
                            <FormError errors />
                            <Field label=Signal::derive(move || t().email) name="email" kind="email" value=email error=errors.field("email") autocomplete="email" required=true />
                            <button type="submit" class="button" disabled=move || action.pending().get() data-testid="submit">
                                {move || t().submit_forgot}
                            </button>
                        </form>
                    }
                }
            >
                <p class="notice" role="status" data-testid="forgot-sent">{move || t().forgot_sent}</p>
            </Show>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let query = use_query_map();
    let password = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let action = ServerAction::<CompleteReset>::new();
    let done = RwSignal::new(false);
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => done.set(true),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        if let Err(key) = validate::password_shape(&password.get()) {
            errors.set_field("password", key);
            return;
        }
        let token = query.with(|q| q.get("token").unwrap_or_default());
        action.dispatch(CompleteReset {
            token,
            password: password.get(),
        });
    };
    view! {
        <Title text=move || t().reset_title />
        <section class="form-page">
            <h1>{move || t().reset_title}</h1>
            <Show
                when=move || done.get()
                fallback=move || {
                    view! {
                        <form on:submit=submit novalidate data-testid="reset-form">
                            <FormError errors />
                            <Field
                                label=Signal::derive(move || t().new_password)
                                name="password"
                                kind="password"
                                value=password
                                error=errors.field("password")
                                autocomplete="new-password"
                                hint=Signal::derive(move || t().password_hint)
                                required=true
                            />
                            <button type="submit" class="button" disabled=move || action.pending().get() data-testid="submit">
                                {move || t().submit_reset}
                            </button>
                        </form>
                    }
                }
            >
                <p class="notice" role="status" data-testid="reset-done">{move || t().reset_done}</p>
                <a class="button" href="/sign-in">{move || t().sign_in}</a>
            </Show>
        </section>
    }
}

/// A short date-time for the sessions list.
fn when(ms: i64) -> String {
    format!("{} UTC", crate::forms::when(ms))
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let me = use_me();
    view! {
        <Title text=move || t().account_title />
        <section class="account-page">
            <h1>{move || t().account_title}</h1>
            <Suspense fallback=|| ()>
                {move || {
                    me.get()
                        .map(|me| match me {
                            Ok(Some(me)) => view! { <AccountDetails me /> }.into_any(),
                            _ => {
                                #[cfg(feature = "ssr")]
                                leptos_axum::redirect("/sign-in");
                                go_to("/sign-in");
                                view! { <p><a href="/sign-in">{move || t().sign_in}</a></p> }.into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn AccountDetails(me: Me) -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let role = me.role;
    let role_name = move || match role {
        Role::Patient => t().role_patient,
        Role::Doctor => t().role_doctor,
        Role::Admin => t().role_admin,
    };
    view! {
        <dl class="profile" data-testid="profile">
            <dt>{move || t().name}</dt>
            <dd data-testid="profile-name">{me.name.clone()}</dd>
            <dt>{move || t().email}</dt>
            <dd data-testid="profile-email">{me.email.clone()}</dd>
            <dd class="role" data-testid="profile-role">{role_name}</dd>
        </dl>
        {me.needs_mfa_setup.then(|| view! { <p class="notice warning" role="status">{move || t().mfa_required_notice}</p> })}
        <MfaSection enabled=me.mfa_enabled />
        <ChangePassword />
        <Sessions />
    }
}

#[component]
fn ChangePassword() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let (current, new) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let errors = FormErrors::new();
    let action = ServerAction::<ChangePassword>::new();
    let done = RwSignal::new(false);
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => {
            done.set(true);
            current.set(String::new());
            new.set(String::new());
        }
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.clear();
        done.set(false);
        if let Err(key) = validate::password_shape(&new.get()) {
            errors.set_field("new_password", key);
            return;
        }
        action.dispatch(ChangePassword {
            current_password: current.get(),
            new_password: new.get(),
        });
    };
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">{move || t().submit_change_password}</h2>
            <form on:submit=submit novalidate data-testid="password-form">
                <FormError errors />
                <Field label=Signal::derive(move || t().current_password) name="current_password" kind="password" value=current error=errors.field("current_password") autocomplete="current-password" required=true />
                <Field label=Signal::derive(move || t().new_password) name="new_password" kind="password" value=new error=errors.field("new_password") autocomplete="new-password" hint=Signal::derive(move || t().password_hint) required=true />
                <button type="submit" class="button" disabled=move || action.pending().get()>{move || t().submit_change_password}</button>
                <Show when=move || done.get()>
                    <p class="notice" role="status">{move || t().password_changed}</p>
                </Show>
            </form>
        </section>
    }
}

#[component]
fn MfaSection(enabled: bool) -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let enabled = RwSignal::new(enabled);
    let begin = ServerAction::<MfaBegin>::new();
    let confirm = ServerAction::<MfaConfirm>::new();
    let disable = ServerAction::<MfaDisable>::new();
    let code = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let recovery_codes = RwSignal::new(Vec::<String>::new());
    Effect::new(move |_| {
        if let Some(Err(err)) = begin.value().get() {
            errors.show(err);
        }
    });
    Effect::new(move |_| match confirm.value().get() {
        Some(Ok(codes)) => {
            recovery_codes.set(codes);
            enabled.set(true);
        }
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    Effect::new(move |_| match disable.value().get() {
        Some(Ok(())) => enabled.set(false),
        Some(Err(err)) => errors.show(err),
        None => {}
    });
    let enrollment = move || begin.value().get().and_then(Result::ok);
    view! {
        <section class="card" aria-labelledby="mfa-heading" data-testid="mfa-section">
            <h2 id="mfa-heading">{move || t().mfa_heading}</h2>
            <FormError errors />
            <p data-testid="mfa-state">{move || if enabled.get() { t().mfa_on } else { t().mfa_off }}</p>
            <Show when=move || !recovery_codes.get().is_empty()>
                <h3>{move || t().mfa_codes_heading}</h3>
                <p>{move || t().mfa_codes_lead}</p>
                <ul class="recovery-codes" data-testid="recovery-codes">
                    {move || recovery_codes.get().into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
                </ul>
            </Show>
            <Show when=move || !enabled.get() && enrollment().is_none()>
                <button type="button" class="button" data-testid="mfa-start" on:click=move |_| { begin.dispatch(MfaBegin {}); }>
                    {move || t().mfa_start}
                </button>
            </Show>
            {move || {
                (!enabled.get())
                    .then(enrollment)
                    .flatten()
                    .map(|e| {
                        view! {
                            <p>{move || t().mfa_secret_label}</p>
                            <p><code class="secret" data-testid="mfa-secret">{e.secret.clone()}</code></p>
                            <p class="hint"><a href=e.otpauth_uri.clone()>{e.otpauth_uri.clone()}</a></p>
                            <form
                                novalidate
                                on:submit=move |ev| {
                                    ev.prevent_default();
                                    errors.clear();
                                    confirm.dispatch(MfaConfirm { code: code.get() });
                                }
                            >
                                <Field label=Signal::derive(move || t().code) name="code" value=code error=errors.field("code") autocomplete="one-time-code" required=true />
                                <button type="submit" class="button" data-testid="mfa-confirm">{move || t().mfa_confirm}</button>
                            </form>
                        }
                    })
            }}
            <Show when=move || enabled.get() && recovery_codes.get().is_empty()>
                <form
                    novalidate
                    on:submit=move |ev| {
                        ev.prevent_default();
                        errors.clear();
                        disable.dispatch(MfaDisable { password: password.get() });
                    }
                >
                    <Field label=Signal::derive(move || t().password) name="mfa_password" kind="password" value=password error=errors.field("current_password") autocomplete="current-password" />
                    <button type="submit" class="button secondary" data-testid="mfa-disable">{move || t().mfa_disable}</button>
                </form>
            </Show>
        </section>
    }
}

#[component]
fn Sessions() -> impl IntoView {
    let t = use_strings(&ACCOUNTS);
    let sessions = Resource::new(|| (), |_| list_sessions());
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = everywhere.value().get() {
            go_to("/sign-in");
        }
    });
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">{move || t().sessions_heading}</h2>
            <Suspense fallback=|| ()>
                <ul class="sessions" data-testid="sessions">
                    {move || {
                        sessions
                            .get()
                            .and_then(Result::ok)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|s| {
                                view! {
                                    <li>
                                        <strong>{s.device.clone()}</strong>
                                        {s.current.then(|| view! { " (" {move || t().this_device} ")" })}
                                        <br />
                                        <span class="hint">
                                            {move || t().signed_in_at} " " {when(s.created_at_ms)} " · "
                                            {move || t().last_active} " " {when(s.last_seen_at_ms)}
                                        </span>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Suspense>
            <button
                type="button"
                class="button secondary"
                data-testid="sign-out-everywhere"
                on:click=move |_| {
                    everywhere.dispatch(SignOutEverywhere {});
                }
            >
                {move || t().sign_out_everywhere}
            </button>
        </section>
    }
}
