//! The accounts server functions. Each is thin: read the caller (the access table has already
//! admitted them), call the service, set or clear the session cookie, map the error.

use super::types::{Me, MfaEnrollment, Role, SessionInfo, SignInOutcome, UserSummary};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod server {
    pub use crate::access::{self, Access};
    pub use crate::accounts::service::{self, AccountError, Origin};
    pub use crate::accounts::session;
    pub use crate::error::AppError;
    pub use crate::platform::{AppState, app_state, client};
    pub use secrecy::SecretString;

    /// Runs `f` with the state and the request's origin (client IP, user agent).
    pub fn origin_parts() -> (Option<std::net::IpAddr>, Option<String>) {
        (client::client_ip(), client::user_agent())
    }

    /// Adds a `Set-Cookie` header to the response of the running server function.
    pub fn set_cookie(value: String) {
        if let (Some(response), Ok(value)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            http::HeaderValue::from_str(&value),
        ) {
            response.append_header(http::header::SET_COOKIE, value);
        }
    }

    pub fn start_session(state: &AppState, token: &str) {
        set_cookie(session::set_cookie(
            token,
            state.config.secure_cookies(),
            state.config.session_absolute,
        ));
    }

    pub fn end_session(state: &AppState) {
        set_cookie(session::clear_cookie(state.config.secure_cookies()));
    }

    /// The session token the browser sent, if any.
    pub fn presented_token(state: &AppState) -> Option<String> {
        let parts = leptos::prelude::use_context::<http::request::Parts>()?;
        let header = parts.headers.get(http::header::COOKIE)?.to_str().ok()?;
        session::token_from_cookie_header(header, state.config.secure_cookies()).map(str::to_owned)
    }
}

/// The signed-in user, or `None`.
#[server(prefix = "/api", endpoint = "accounts/me")]
pub async fn get_me() -> Result<Option<Me>, AppError> {
    use server::*;
    Ok(access::caller().filter(|u| !u.mfa_pending).map(|u| Me {
        id: u.user_id,
        name: u.name,
        email: u.email,
        role: u.role,
        mfa_enabled: u.mfa_enabled,
        needs_mfa_setup: u.needs_mfa_setup,
    }))
}

#[server(prefix = "/api", endpoint = "accounts/sign_up")]
pub async fn sign_up(
    email: String,
    password: String,
    name: String,
    date_of_birth: String,
) -> Result<(), AppError> {
    use server::*;
    let state = app_state()?;
    let (ip, ua) = origin_parts();
    let password = SecretString::from(password);
    let token = service::sign_up(
        &state,
        &email,
        &password,
        &name,
        &date_of_birth,
        crate::i18n::request_locale(),
        Origin {
            ip,
            user_agent: ua.as_deref(),
        },
    )
    .await
    .map_err(|e| e.into_app_error("sign_up"))?;
    start_session(&state, &token);
    Ok(())
}

#[server(prefix = "/api", endpoint = "accounts/sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<SignInOutcome, AppError> {
    use server::*;
    let state = app_state()?;
    let (ip, ua) = origin_parts();
    let previous = presented_token(&state);
    let password = SecretString::from(password);
    let (token, outcome) = service::sign_in(
        &state,
        &email,
        &password,
        previous.as_deref(),
        Origin {
            ip,
            user_agent: ua.as_deref(),
        },
    )
    .await
    .map_err(|e| e.into_app_error("sign_in"))?;
    start_session(&state, &token);
    Ok(outcome)
}

/// The second sign-in step: a code from the authenticator app or a recovery code.
#[server(prefix = "/api", endpoint = "accounts/verify_code")]
pub async fn verify_code(code: String) -> Result<SignInOutcome, AppError> {
    use server::*;
    let state = app_state()?;
    let pending = access::require(Access::MfaPending)?;
    let (ip, ua) = origin_parts();
    let token = service::complete_mfa(
        &state,
        &pending,
        &code,
        Origin {
            ip,
            user_agent: ua.as_deref(),
        },
    )
    .await
    .map_err(|e| e.into_app_error("verify_code"))?;
    start_session(&state, &token);
    Ok(SignInOutcome::SignedIn { role: pending.role })
}

#[server(prefix = "/api", endpoint = "accounts/sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use server::*;
    let state = app_state()?;
    let user = access::require(Access::SignedIn)?;
    let (ip, _) = origin_parts();
    service::sign_out(
        &state,
        &user,
        Origin {
            ip,
            user_agent: None,
        },
    )
    .await
    .map_err(|e| e.into_app_error("sign_out"))?;
    end_session(&state);
    Ok(())
}

#[server(prefix = "/api", endpoint = "accounts/sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use server::*;
    let state = app_state()?;
    let user = access::require(Access::SignedIn)?;
    let (ip, _) = origin_parts();
    service::sign_out_everywhere(
        &state,
        &user,
        Origin {
            ip,
            user_agent: None,
        },
    )
    .await
    .map_err(|e| e.into_app_error("sign_out_everywhere"))?;
    end_session(&state);
    Ok(())
}

/// Sends a reset link if the email has an account; answers the same either way.
#[server(prefix = "/api", endpoint = "accounts/request_reset")]
pub async fn request_reset(email: String) -> Result<(), AppError> {
    use server::*;
    let state = app_state()?;
    let (ip, _) = origin_parts();
    service::request_password_reset(
        &state,
        &email,
        Origin {
            ip,
            user_agent: None,
        },
    )
    .await
    .map_err(|e| e.into_app_error("request_reset"))
}

#[server(prefix = "/api", endpoint = "accounts/complete_reset")]
pub async fn complete_reset(token: String, password: String) -> Result<(), AppError> {
    use server::*;
    let state = app_state()?;
    let (ip, _) = origin_parts();
    let password = SecretString::from(password);
    service::complete_password_reset(
        &state,
        &token,
        &password,
        Origin {
            ip,
            user_agent: None,
        },
    )
    .await
    .map_err(|e| e.into_app_error("complete_reset"))?;
    end_session(&state);
    Ok(())
}

#[server(prefix = "/api", endpoint = "accounts/change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    use server::*;
    let state = app_state()?;
    let user = access::require(Access::SignedIn)?;
    let (ip, ua) = origin_parts();
    let token = service::change_password(
        &state,
        &user,
        &SecretString::from(current_password),
        &SecretString::from(new_password),
        Origin {
            ip,
            user_agent: ua.as_deref(),
        },
    )
    .await
    .map_err(|e| e.into_app_error("change_password"))?;
    start_session(&state, &token);
    Ok(())
}

#[server(prefix = "/api", endpoint = "accounts/sessions")]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, AppError> {
    use server::*;
    let state = app_state()?;
    let user = access::require(Access::SignedIn)?;
    session::list(&state.db, &user.user_id, &user.session_hash)
        .await
        .map_err(|e| AccountError::from(e).into_app_error("list_sessions"))
}

#[server(prefix = "/api", endpoint = "accounts/mfa_begin")]
pub async fn mfa_begin() -> Result<MfaEnrollment, AppError> {
    use server::*;
    let state = app_state()?;
    let user = access::require(Access::SignedIn)?;
    service::begin_mfa(&state, &user)
        .await
        .map_err(|e| e.into_app_error("mfa_begin"))
}

/// Turns two-factor sign-in on; returns the recovery codes, shown once.
#[server(prefix = "/api", endpoint = "accounts/mfa_confirm")]
pub async fn mfa_confirm(code: String) -> Result<Vec<String>, AppError> {
    use server::*;
    let state = app_state()?;
    let user = access::require(Access::SignedIn)?;
    let (ip, ua) = origin_parts();
    let (codes, token) = service::confirm_mfa(
        &state,
        &user,
        &code,
        Origin {
            ip,
            user_agent: ua.as_deref(),
        },
    )
    .await
    .map_err(|e| e.into_app_error("mfa_confirm"))?;
    start_session(&state, &token);
    Ok(codes)
}

#[server(prefix = "/api", endpoint = "accounts/mfa_disable")]
pub async fn mfa_disable(password: String) -> Result<(), AppError> {
    use server::*;
    let state = app_state()?;
    let user = access::require(Access::SignedIn)?;
    let (ip, _) = origin_parts();
    service::disable_mfa(
        &state,
        &user,
        &SecretString::from(password),
        Origin {
            ip,
            user_agent: None,
        },
    )
    .await
    .map_err(|e| e.into_app_error("mfa_disable"))
}

#[server(prefix = "/api", endpoint = "admin/users")]
pub async fn admin_list_users() -> Result<Vec<UserSummary>, AppError> {
    use server::*;
    let state = app_state()?;
    access::require(access::ADMIN)?;
    service::list_users(&state)
        .await
        .map_err(|e| e.into_app_error("admin_list_users"))
}

/// Creates a doctor (or admin) account; returns the one-time link that lets them choose a
/// password (it is also emailed).
#[server(prefix = "/api", endpoint = "admin/create_user")]
pub async fn admin_create_user(
    email: String,
    name: String,
    role: Role,
) -> Result<String, AppError> {
    use server::*;
    let state = app_state()?;
    let admin = access::require(access::ADMIN)?;
    if role == Role::Patient {
        return Err(crate::platform::reject(AppError::invalid(
            "role",
            "admin.staff_only",
        )));
    }
    let (ip, _) = origin_parts();
    let (_, link) = service::create_user(
        &state,
        Some(&admin),
        &email,
        &name,
        role,
        None,
        Origin {
            ip,
            user_agent: None,
        },
    )
    .await
    .map_err(|e| e.into_app_error("admin_create_user"))?;
    Ok(link.unwrap_or_default())
}

#[server(prefix = "/api", endpoint = "admin/set_user_active")]
pub async fn admin_set_user_active(user_id: String, active: bool) -> Result<(), AppError> {
    use server::*;
    let state = app_state()?;
    let admin = access::require(access::ADMIN)?;
    let (ip, _) = origin_parts();
    service::set_active(
        &state,
        &admin,
        &user_id,
        active,
        Origin {
            ip,
            user_agent: None,
        },
    )
    .await
    .map_err(|e| e.into_app_error("admin_set_user_active"))
}
