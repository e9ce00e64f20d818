//! The accounts service: sign-up, sign-in (with the two-factor step), sign-out, passwords and
//! their reset, two-factor enrolment, and the admin's user management. Testable without
//! Leptos: every function takes the state and plain inputs.
//!
//! Account enumeration is resisted where it matters: a sign-in with an unknown email costs a
//! password verification like a known one and answers the same; a reset request answers at
//! once whatever the email, and does its work in the background. Nothing here logs an email,
//! a name, a password, a code or a token.

use super::password::{self, PasswordError};
use super::session::{self, AuthUser};
use super::totp;
use super::types::{MfaEnrollment, Role, SignInOutcome, UserSummary};
use super::validate::{self, Email};
use crate::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::error::{AppError, FieldErrors};
use crate::notifications::outbox::{self, Email as OutgoingEmail, EmailTemplate};
use crate::platform::db::{DbError, now_ms};
use crate::platform::{AppState, internal_error};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{Acquire, Row};
use std::net::IpAddr;
use std::time::Duration;

/// A password-reset link lives this long.
pub const RESET_LINK_TTL: Duration = Duration::from_secs(30 * 60);
/// A set-password link for a new staff account lives this long.
pub const SET_PASSWORD_LINK_TTL: Duration = Duration::from_secs(72 * 3600);
/// Failures on one account before it is locked for a while (growing with each further one).
const FAILURES_BEFORE_LOCK: i64 = 5;
const MAX_LOCK: Duration = Duration::from_secs(3600);

/// What can go wrong in an account operation. `Display` holds no personal data.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("wrong email or password")]
    BadCredentials,
    #[error("wrong or expired code")]
    BadCode,
    #[error("account disabled")]
    Disabled,
    #[error("too many attempts")]
    RateLimited(Duration),
    #[error("the link is not valid")]
    LinkInvalid,
    #[error("the link has expired")]
    LinkExpired,
    #[error("the link was already used")]
    LinkUsed,
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    #[error("no such user")]
    NoSuchUser,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("sealing a secret failed")]
    Crypto,
    #[error("audit log: {0}")]
    Audit(#[from] audit::AuditError),
    #[error("email outbox: {0}")]
    Outbox(#[from] outbox::OutboxError),
}

impl AccountError {
    /// The client's view of this error; unforeseen ones are logged with the request id.
    pub fn into_app_error(self, operation: &'static str) -> AppError {
        let err = match self {
            AccountError::Invalid(fields) => AppError::Validation { fields },
            AccountError::BadCredentials => AppError::invalid("form", "sign_in.bad_credentials"),
            AccountError::BadCode => AppError::invalid("code", "mfa.bad_code"),
            AccountError::Disabled => AppError::invalid("form", "sign_in.disabled"),
            AccountError::RateLimited(wait) => AppError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            },
            AccountError::LinkInvalid => AppError::invalid("token", "link.invalid"),
            AccountError::LinkExpired => AppError::invalid("token", "link.expired"),
            AccountError::LinkUsed => AppError::invalid("token", "link.used"),
            AccountError::NotAllowed(code) => AppError::Conflict { code: code.into() },
            AccountError::NoSuchUser => AppError::NotFound,
            other => return internal_error(operation, &other),
        };
        crate::platform::reject(err)
    }
}

fn field(name: &str, key: &str) -> AccountError {
    AccountError::Invalid(match AppError::invalid(name, key) {
        AppError::Validation { fields } => fields,
        _ => FieldErrors::new(),
    })
}

/// Who did something and from where, for the audit log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
}

fn event(action: AuditAction, outcome: Outcome, origin: Origin<'_>) -> AuditEvent {
    let mut e = AuditEvent::new(action, outcome);
    e.ip = origin.ip.map(|ip| ip.to_string());
    e
}

fn as_user(mut e: AuditEvent, user_id: &str, role: Role) -> AuditEvent {
    e.actor_id = Some(user_id.to_owned());
    e.actor_role = Some(role.as_str().to_owned());
    e
}

fn on_user(mut e: AuditEvent, user_id: &str) -> AuditEvent {
    e.subject_type = Some(audit::SUBJECT_USER);
    e.subject_id = Some(user_id.to_owned());
    e
}

/// Starts a session for `user_id` inside `tx` with the configured lifetime; returns its token.
async fn new_session(
    conn: &mut sqlx::AnyConnection,
    state: &AppState,
    user_id: &str,
    mfa_pending: bool,
    origin: Origin<'_>,
) -> Result<String, AccountError> {
    Ok(session::create(
        conn,
        user_id,
        mfa_pending,
        origin.user_agent,
        state.config.session_absolute,
    )
    .await?)
}

/// Audits a refused sign-in attempt (`user_id` when the account is known).
async fn audit_refused_sign_in(
    state: &AppState,
    origin: Origin<'_>,
    user_id: Option<&str>,
    outcome: Outcome,
    detail: &'static str,
) -> Result<(), AccountError> {
    let mut e = event(AuditAction::SignInFailed, outcome, origin);
    if let Some(id) = user_id {
        e = on_user(e, id);
    }
    e.detail = Some(detail);
    audit::record(&state.db, e).await?;
    Ok(())
}

fn role_detail(role: Role) -> &'static str {
    match role {
        Role::Patient => "role=patient",
        Role::Doctor => "role=doctor",
        Role::Admin => "role=admin",
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

// --- Sign-up and sign-in -----------------------------------------------------------------

/// A new patient account, signed in at once. Returns the session token.
pub async fn sign_up(
    state: &AppState,
    email: &str,
    password: &SecretString,
    name: &str,
    date_of_birth: &str,
    locale: crate::i18n::Locale,
    origin: Origin<'_>,
) -> Result<String, AccountError> {
    let today = validate::civil_date(now_ms());
    let form = validate::sign_up(email, password.expose_secret(), name, date_of_birth, today)
        .map_err(AccountError::Invalid)?;
    password::check_policy(password, &[form.email.as_str(), &form.name])
        .map_err(|v| field("password", v.key()))?;
    let hash = password::hash_password(password).await?;

    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let user_id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, name, date_of_birth, role, password_hash, created_at, \
         updated_at, locale) VALUES ($1, $2, $3, $4, 'patient', $5, $6, $7, $8) \
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(&user_id)
    .bind(form.email.as_str())
    .bind(&form.name)
    .bind(&form.date_of_birth)
    .bind(hash.as_str())
    .bind(now)
    .bind(now)
    .bind(locale.code())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(field("email", "email.taken"));
    }
    let token = new_session(&mut tx, state, &user_id, false, origin).await?;
    outbox::enqueue(
        &mut tx,
        OutgoingEmail {
            template: EmailTemplate::Welcome,
            locale: locale.code().into(),
            to: form.email.as_str().to_owned(),
            params: serde_json::json!({ "name": form.name, "link": format!("{}/account", state.config.public_url) }),
        },
    )
    .await?;
    audit::record_in(
        &mut tx,
        as_user(
            event(AuditAction::SignUp, Outcome::Success, origin),
            &user_id,
            Role::Patient,
        ),
    )
    .await?;
    tx.commit().await?;
    state.mailer.wake();
    Ok(token)
}

/// Checks email and password. Returns the new session's token and what comes next.
/// `previous_session` (the caller's current session, if any) is ended: sign-in always
/// starts a fresh session.
pub async fn sign_in(
    state: &AppState,
    email_raw: &str,
    password: &SecretString,
    previous_session: Option<&str>,
    origin: Origin<'_>,
) -> Result<(String, SignInOutcome), AccountError> {
    let now = now_ms();
    let per_minute = state.config.sign_in_attempts_per_minute;
    let email = Email::parse(email_raw)
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default();
    let ip_key = format!(
        "sign-in-ip:{}",
        origin.ip.map(|i| i.to_string()).unwrap_or_default()
    );
    let account_key = format!("sign-in-account:{}", session::hash_token(&email));
    for key in [&ip_key, &account_key] {
        if let Err(wait) = state
            .limiter
            .hit(key, per_minute, Duration::from_secs(60), now)
        {
            audit::record(
                &state.db,
                event(AuditAction::RateLimited, Outcome::Denied, origin),
            )
            .await?;
            return Err(AccountError::RateLimited(wait));
        }
    }

    let row = sqlx::query(
        "SELECT id, role, status, password_hash, mfa_enabled, failed_sign_ins, locked_until \
         FROM users WHERE email = $1",
    )
    .bind(&email)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else {
        password::dummy_verify(password).await;
        audit_refused_sign_in(state, origin, None, Outcome::Failure, "unknown_account").await?;
        return Err(AccountError::BadCredentials);
    };
    let user_id: String = row.try_get("id")?;
    let role = Role::parse(&row.try_get::<String, _>("role")?).unwrap_or(Role::Patient);
    let stored: Option<String> = row.try_get("password_hash")?;
    let failures: i64 = row.try_get("failed_sign_ins")?;
    let locked_until: Option<i64> = row.try_get("locked_until")?;

    if let Some(until) = locked_until.filter(|u| *u > now) {
        password::dummy_verify(password).await;
        audit_refused_sign_in(state, origin, Some(&user_id), Outcome::Denied, "locked").await?;
        return Err(AccountError::RateLimited(Duration::from_millis(
            u64::try_from(until - now).unwrap_or(1),
        )));
    }
    let verified = match stored.as_deref() {
        Some(hash) => password::verify_password(password, hash).await?,
        None => {
            password::dummy_verify(password).await;
            false
        }
    };
    if !verified {
        let failures = failures + 1;
        let lock = (failures >= FAILURES_BEFORE_LOCK).then(|| {
            let minutes = 1u64 << (failures - FAILURES_BEFORE_LOCK).clamp(0, 6);
            now + ms(Duration::from_secs(60 * minutes).min(MAX_LOCK))
        });
        sqlx::query("UPDATE users SET failed_sign_ins = $1, locked_until = $2 WHERE id = $3")
            .bind(failures)
            .bind(lock)
            .bind(&user_id)
            .execute(state.db.pool())
            .await?;
        audit_refused_sign_in(
            state,
            origin,
            Some(&user_id),
            Outcome::Failure,
            "bad_password",
        )
        .await?;
        return Err(AccountError::BadCredentials);
    }
    if row.try_get::<String, _>("status")? != "active" {
        audit_refused_sign_in(state, origin, Some(&user_id), Outcome::Denied, "disabled").await?;
        return Err(AccountError::Disabled);
    }
    if stored.as_deref().is_some_and(password::needs_rehash) {
        let fresh = password::hash_password(password).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(fresh.as_str())
            .bind(&user_id)
            .execute(state.db.pool())
            .await?;
    }
    state.limiter.clear(&account_key);
    let mfa = row.try_get::<i64, _>("mfa_enabled")? != 0;

    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1")
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    if let Some(previous) = previous_session {
        session::revoke(&mut tx, &session::hash_token(previous)).await?;
    }
    let token = new_session(&mut tx, state, &user_id, mfa, origin).await?;
    let e = as_user(
        event(AuditAction::SignIn, Outcome::Success, origin),
        &user_id,
        role,
    );
    let detail = if mfa {
        "password_ok_mfa_pending"
    } else {
        "password"
    };
    audit::record_in(
        &mut tx,
        AuditEvent {
            detail: Some(detail),
            ..e
        },
    )
    .await?;
    tx.commit().await?;
    let outcome = if mfa {
        SignInOutcome::MfaRequired
    } else {
        SignInOutcome::SignedIn { role }
    };
    Ok((token, outcome))
}

/// The second step: a code from the authenticator app, or a recovery code. Replaces the
/// pending session with a full one and returns its token.
pub async fn complete_mfa(
    state: &AppState,
    pending: &AuthUser,
    code: &str,
    origin: Origin<'_>,
) -> Result<String, AccountError> {
    let now = now_ms();
    let key = format!("mfa:{}", pending.user_id);
    if let Err(wait) = state.limiter.hit(
        &key,
        state.config.sign_in_attempts_per_minute,
        Duration::from_secs(60),
        now,
    ) {
        return Err(AccountError::RateLimited(wait));
    }
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let used = check_second_factor(state, &mut tx, &pending.user_id, code, now).await?;
    let Some(method) = used else {
        tx.rollback().await?;
        let e = as_user(
            event(AuditAction::MfaFailed, Outcome::Failure, origin),
            &pending.user_id,
            pending.role,
        );
        audit::record(&state.db, e).await?;
        return Err(AccountError::BadCode);
    };
    session::revoke(&mut tx, &pending.session_hash).await?;
    let token = new_session(&mut tx, state, &pending.user_id, false, origin).await?;
    let action = if method == "recovery_code" {
        AuditAction::RecoveryCodeUsed
    } else {
        AuditAction::SignIn
    };
    let e = as_user(
        event(action, Outcome::Success, origin),
        &pending.user_id,
        pending.role,
    );
    audit::record_in(
        &mut tx,
        AuditEvent {
            detail: Some(method),
            ..e
        },
    )
    .await?;
    tx.commit().await?;
    state.limiter.clear(&key);
    Ok(token)
}

/// Checks a TOTP code (recording its time step against replay) or spends a recovery code.
/// `Some(method)` when one of them was right.
async fn check_second_factor(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Option<&'static str>, AccountError> {
    let row = sqlx::query(
        "SELECT mfa_secret, mfa_last_step FROM users WHERE id = $1 AND mfa_enabled = 1",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let sealed: Option<String> = row.try_get("mfa_secret")?;
    let last_step: Option<i64> = row.try_get("mfa_last_step")?;
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let secret = open_mfa_secret(state, &sealed)?;
        let unix = now / 1000;
        if let Some(step) = totp::verify(&secret, &digits, unix, last_step) {
            sqlx::query("UPDATE users SET mfa_last_step = $1 WHERE id = $2")
                .bind(step)
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
            return Ok(Some("totp"));
        }
        return Ok(None);
    }
    let spent = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(totp::hash_recovery_code(code))
    .execute(&mut *conn)
    .await?;
    Ok((spent.rows_affected() == 1).then_some("recovery_code"))
}

/// Ends the caller's session.
pub async fn sign_out(
    state: &AppState,
    user: &AuthUser,
    origin: Origin<'_>,
) -> Result<(), AccountError> {
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    session::revoke(&mut tx, &user.session_hash).await?;
    audit::record_in(
        &mut tx,
        as_user(
            event(AuditAction::SignOut, Outcome::Success, origin),
            &user.user_id,
            user.role,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every session of the caller, on every device.
pub async fn sign_out_everywhere(
    state: &AppState,
    user: &AuthUser,
    origin: Origin<'_>,
) -> Result<(), AccountError> {
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    session::revoke_all(&mut tx, &user.user_id).await?;
    let e = as_user(
        event(AuditAction::SignOutEverywhere, Outcome::Success, origin),
        &user.user_id,
        user.role,
    );
    audit::record_in(&mut tx, e).await?;
    tx.commit().await?;
    Ok(())
}

// --- Passwords ---------------------------------------------------------------------------

/// Starts a password reset: answers at once, whether or not the email has an account; for an
/// active account a single-use link goes out through the email outbox.
pub async fn request_password_reset(
    state: &AppState,
    email_raw: &str,
    origin: Origin<'_>,
) -> Result<(), AccountError> {
    let email = Email::parse(email_raw).map_err(|k| field("email", k))?;
    let ip_key = format!(
        "reset-ip:{}",
        origin.ip.map(|i| i.to_string()).unwrap_or_default()
    );
    state
        .limiter
        .hit(
            &ip_key,
            state.config.sign_in_attempts_per_minute,
            Duration::from_secs(60),
            now_ms(),
        )
        .map_err(AccountError::RateLimited)?;
    let state = state.clone();
    let ip = origin.ip;
    // Detached, so that how long the answer takes says nothing about the account.
    tokio::spawn(async move {
        let origin = Origin {
            ip,
            user_agent: None,
        };
        if let Err(err) = send_reset_link(&state, email.as_str(), origin).await {
            tracing::error!(cause = %err, "password reset request failed");
        }
    });
    Ok(())
}

async fn send_reset_link(
    state: &AppState,
    email: &str,
    origin: Origin<'_>,
) -> Result<(), AccountError> {
    let row =
        sqlx::query("SELECT id, name, locale FROM users WHERE email = $1 AND status = 'active'")
            .bind(email)
            .fetch_optional(state.db.pool())
            .await?;
    let Some(row) = row else {
        let mut e = event(
            AuditAction::PasswordResetRequested,
            Outcome::Failure,
            origin,
        );
        e.detail = Some("unknown_account");
        audit::record(&state.db, e).await?;
        return Ok(());
    };
    let user_id: String = row.try_get("id")?;
    let locale: String = row.try_get("locale")?;
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let token = create_link(&mut tx, &user_id, "password_reset", RESET_LINK_TTL).await?;
    outbox::enqueue(
        &mut tx,
        OutgoingEmail {
            template: EmailTemplate::PasswordReset,
            locale,
            to: email.to_owned(),
            params: serde_json::json!({
                "name": row.try_get::<String, _>("name")?,
                "link": format!("{}/reset-password?token={token}", state.config.public_url),
                "expires_minutes": RESET_LINK_TTL.as_secs() / 60,
            }),
        },
    )
    .await?;
    audit::record_in(
        &mut tx,
        on_user(
            event(
                AuditAction::PasswordResetRequested,
                Outcome::Success,
                origin,
            ),
            &user_id,
        ),
    )
    .await?;
    tx.commit().await?;
    state.mailer.wake();
    Ok(())
}

async fn create_link(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    purpose: &str,
    ttl: Duration,
) -> Result<String, AccountError> {
    let token = session::new_token();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO one_time_links (token_hash, user_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(session::hash_token(&token))
    .bind(user_id)
    .bind(purpose)
    .bind(now)
    .bind(now + ms(ttl))
    .execute(conn)
    .await?;
    Ok(token)
}

/// Sets a new password through a reset or set-password link. The link is spent, every
/// session of the user ends, and the user is told by email.
pub async fn complete_password_reset(
    state: &AppState,
    token: &str,
    new_password: &SecretString,
    origin: Origin<'_>,
) -> Result<(), AccountError> {
    let hash = session::hash_token(token.trim());
    let row = sqlx::query(
        "SELECT l.user_id, l.expires_at, l.used_at, u.email, u.name, u.locale, u.role FROM one_time_links l \
         JOIN users u ON u.id = l.user_id WHERE l.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else {
        audit::record(
            &state.db,
            AuditEvent {
                detail: Some("unknown_link"),
                ..event(
                    AuditAction::PasswordResetCompleted,
                    Outcome::Failure,
                    origin,
                )
            },
        )
        .await?;
        return Err(AccountError::LinkInvalid);
    };
    let user_id: String = row.try_get("user_id")?;
    let refuse = |detail: &'static str| AuditEvent {
        detail: Some(detail),
        ..on_user(
            event(
                AuditAction::PasswordResetCompleted,
                Outcome::Failure,
                origin,
            ),
            &user_id,
        )
    };
    if row.try_get::<Option<i64>, _>("used_at")?.is_some() {
        audit::record(&state.db, refuse("link_used")).await?;
        return Err(AccountError::LinkUsed);
    }
    if row.try_get::<i64, _>("expires_at")? <= now_ms() {
        audit::record(&state.db, refuse("link_expired")).await?;
        return Err(AccountError::LinkExpired);
    }
    let email: String = row.try_get("email")?;
    let name: String = row.try_get("name")?;
    password::check_policy(new_password, &[&email, &name])
        .map_err(|v| field("password", v.key()))?;
    let new_hash = password::hash_password(new_password).await?;

    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let spent = sqlx::query(
        "UPDATE one_time_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now_ms())
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    if spent.rows_affected() != 1 {
        return Err(AccountError::LinkUsed);
    }
    sqlx::query(
        "UPDATE users SET password_hash = $1, failed_sign_ins = 0, locked_until = NULL, updated_at = $2 \
         WHERE id = $3",
    )
    .bind(new_hash.as_str())
    .bind(now_ms())
    .bind(&user_id)
    .execute(&mut *tx)
    .await?;
    session::revoke_all(&mut tx, &user_id).await?;
    outbox::enqueue(
        &mut tx,
        OutgoingEmail {
            template: EmailTemplate::PasswordChanged,
            locale: row.try_get("locale")?,
            to: email,
            params: serde_json::json!({ "name": name, "link": format!("{}/sign-in", state.config.public_url) }),
        },
    )
    .await?;
    audit::record_in(
        &mut tx,
        on_user(
            event(
                AuditAction::PasswordResetCompleted,
                Outcome::Success,
                origin,
            ),
            &user_id,
        ),
    )
    .await?;
    tx.commit().await?;
    state.mailer.wake();
    Ok(())
}

/// Changes the caller's password (the current one is asked again). Every other session ends
/// and the caller gets a fresh one, whose token is returned.
pub async fn change_password(
    state: &AppState,
    user: &AuthUser,
    current: &SecretString,
    new_password: &SecretString,
    origin: Origin<'_>,
) -> Result<String, AccountError> {
    verify_own_password(state, user, current).await?;
    password::check_policy(new_password, &[&user.email, &user.name])
        .map_err(|v| field("new_password", v.key()))?;
    let hash = password::hash_password(new_password).await?;
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash.as_str())
        .bind(now_ms())
        .bind(&user.user_id)
        .execute(&mut *tx)
        .await?;
    session::revoke_all(&mut tx, &user.user_id).await?;
    let token = new_session(&mut tx, state, &user.user_id, false, origin).await?;
    let locale: String = sqlx::query_scalar("SELECT locale FROM users WHERE id = $1")
        .bind(&user.user_id)
        .fetch_one(&mut *tx)
        .await?;
    outbox::enqueue(
        &mut tx,
        OutgoingEmail {
            template: EmailTemplate::PasswordChanged,
            locale,
            to: user.email.clone(),
            params: serde_json::json!({ "name": user.name, "link": format!("{}/account", state.config.public_url) }),
        },
    )
    .await?;
    audit::record_in(
        &mut tx,
        as_user(
            event(AuditAction::PasswordChanged, Outcome::Success, origin),
            &user.user_id,
            user.role,
        ),
    )
    .await?;
    tx.commit().await?;
    state.mailer.wake();
    Ok(token)
}

pub(crate) async fn verify_own_password(
    state: &AppState,
    user: &AuthUser,
    given: &SecretString,
) -> Result<(), AccountError> {
    let stored: Option<String> = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(&user.user_id)
        .fetch_one(state.db.pool())
        .await?
        .try_get("password_hash")?;
    let ok = match stored {
        Some(hash) => password::verify_password(given, &hash).await?,
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(field("current_password", "password.wrong"))
    }
}

// --- Two-factor sign-in ------------------------------------------------------------------

/// Opens a sealed two-factor secret with the current data key or, during a key rotation, the
/// previous one (secrets carry no key id: the seal's tag tells which key fits).
fn open_mfa_secret(state: &AppState, sealed: &str) -> Result<totp::TotpSecret, AccountError> {
    totp::open(sealed, state.data_key.bytes())
        .or_else(|err| match &state.previous_key {
            Some(previous) => totp::open(sealed, previous.bytes()),
            None => Err(err),
        })
        .map_err(|_| AccountError::Crypto)
}

/// Seals every two-factor secret that the previous data key opens again under the current
/// one. Safe to run again: secrets already under the current key are left as they are.
/// Returns how many were sealed again.
pub async fn reseal_mfa_secrets(state: &AppState) -> Result<u64, AccountError> {
    let Some(previous) = &state.previous_key else {
        return Ok(0);
    };
    let rows = sqlx::query("SELECT id, mfa_secret FROM users WHERE mfa_secret IS NOT NULL")
        .fetch_all(state.db.pool())
        .await?;
    let mut done = 0;
    for row in rows {
        let id: String = row.try_get(0)?;
        let sealed: String = row.try_get(1)?;
        if totp::open(&sealed, state.data_key.bytes()).is_ok() {
            continue;
        }
        let secret = totp::open(&sealed, previous.bytes()).map_err(|_| AccountError::Crypto)?;
        let resealed =
            totp::seal(&secret, state.data_key.bytes()).map_err(|_| AccountError::Crypto)?;
        let changed =
            sqlx::query("UPDATE users SET mfa_secret = $1 WHERE id = $2 AND mfa_secret = $3")
                .bind(resealed)
                .bind(&id)
                .bind(&sealed)
                .execute(state.db.pool())
                .await?;
        done += changed.rows_affected();
    }
    Ok(done)
}

/// Makes a new secret for the caller's authenticator app. It takes effect only once
/// [`confirm_mfa`] sees a code made from it.
pub async fn begin_mfa(state: &AppState, user: &AuthUser) -> Result<MfaEnrollment, AccountError> {
    if user.mfa_enabled {
        return Err(AccountError::NotAllowed("mfa.already_enabled"));
    }
    let secret = totp::generate_secret();
    let sealed = totp::seal(&secret, state.data_key.bytes()).map_err(|_| AccountError::Crypto)?;
    sqlx::query(
        "UPDATE users SET mfa_secret = $1, mfa_last_step = NULL WHERE id = $2 AND mfa_enabled = 0",
    )
    .bind(sealed)
    .bind(&user.user_id)
    .execute(state.db.pool())
    .await?;
    Ok(MfaEnrollment {
        secret: secret.to_base32(),
        otpauth_uri: totp::otpauth_uri(&secret, "Tabibu", &user.email),
    })
}

/// Turns two-factor sign-in on once a code from the new secret checks out; returns the
/// recovery codes (shown once) and a fresh session token (a change of privilege).
pub async fn confirm_mfa(
    state: &AppState,
    user: &AuthUser,
    code: &str,
    origin: Origin<'_>,
) -> Result<(Vec<String>, String), AccountError> {
    let row = sqlx::query("SELECT mfa_secret FROM users WHERE id = $1 AND mfa_enabled = 0")
        .bind(&user.user_id)
        .fetch_optional(state.db.pool())
        .await?;
    let Some(sealed) = row
        .map(|r| r.try_get::<Option<String>, _>("mfa_secret"))
        .transpose()?
        .flatten()
    else {
        return Err(AccountError::NotAllowed("mfa.not_started"));
    };
    let secret = open_mfa_secret(state, &sealed)?;
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let now_s = now_ms() / 1000;
    let Some(step) = totp::verify(&secret, &digits, now_s, None) else {
        let e = as_user(
            event(AuditAction::MfaFailed, Outcome::Failure, origin),
            &user.user_id,
            user.role,
        );
        audit::record(
            &state.db,
            AuditEvent {
                detail: Some("enrolment"),
                ..e
            },
        )
        .await?;
        return Err(AccountError::BadCode);
    };
    let codes = totp::generate_recovery_codes();
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query(
        "UPDATE users SET mfa_enabled = 1, mfa_last_step = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(step)
    .bind(now_ms())
    .bind(&user.user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(&user.user_id)
        .execute(&mut *tx)
        .await?;
    for code in &codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(&user.user_id)
            .bind(totp::hash_recovery_code(code))
            .execute(&mut *tx)
            .await?;
    }
    session::revoke_all(&mut tx, &user.user_id).await?;
    let token = new_session(&mut tx, state, &user.user_id, false, origin).await?;
    audit::record_in(
        &mut tx,
        as_user(
            event(AuditAction::MfaEnabled, Outcome::Success, origin),
            &user.user_id,
            user.role,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((codes, token))
}

/// Turns two-factor sign-in off (the password is asked again). Staff cannot while it is
/// required for them.
pub async fn disable_mfa(
    state: &AppState,
    user: &AuthUser,
    password: &SecretString,
    origin: Origin<'_>,
) -> Result<(), AccountError> {
    if user.role.is_staff() && state.config.require_mfa_staff {
        return Err(AccountError::NotAllowed("mfa.required_for_staff"));
    }
    verify_own_password(state, user, password).await?;
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query(
        "UPDATE users SET mfa_enabled = 0, mfa_secret = NULL, mfa_last_step = NULL WHERE id = $1",
    )
    .bind(&user.user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(&user.user_id)
        .execute(&mut *tx)
        .await?;
    audit::record_in(
        &mut tx,
        as_user(
            event(AuditAction::MfaDisabled, Outcome::Success, origin),
            &user.user_id,
            user.role,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// --- Administration ----------------------------------------------------------------------

/// Every account, newest first (admins only; the caller checks the role).
pub async fn list_users(state: &AppState) -> Result<Vec<UserSummary>, AccountError> {
    let rows = sqlx::query(
        "SELECT id, email, name, role, status, mfa_enabled, created_at FROM users ORDER BY created_at DESC LIMIT 500",
    )
    .fetch_all(state.db.pool())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UserSummary {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                role: Role::parse(&r.try_get::<String, _>("role")?).unwrap_or(Role::Patient),
                active: r.try_get::<String, _>("status")? == "active",
                mfa_enabled: r.try_get::<i64, _>("mfa_enabled")? != 0,
                created_at_ms: r.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AccountError::from)
}

/// Creates an account for staff (or, from the command line, anyone). With a password it is
/// ready to use; without one, the returned one-time link lets its owner choose one (also
/// emailed through the outbox).
pub async fn create_user(
    state: &AppState,
    actor: Option<&AuthUser>,
    email_raw: &str,
    name_raw: &str,
    role: Role,
    password: Option<&SecretString>,
    origin: Origin<'_>,
) -> Result<(String, Option<String>), AccountError> {
    let mut errors = FieldErrors::new();
    let email = Email::parse(email_raw)
        .map_err(|k| errors.insert("email".into(), k.into()))
        .ok();
    let name = validate::name(name_raw)
        .map_err(|k| errors.insert("name".into(), k.into()))
        .ok();
    let (Some(email), Some(name)) = (email, name) else {
        return Err(AccountError::Invalid(errors));
    };
    let hash = match password {
        Some(p) => {
            password::check_policy(p, &[email.as_str(), &name])
                .map_err(|v| field("password", v.key()))?;
            Some(password::hash_password(p).await?)
        }
        None => None,
    };
    let user_id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&user_id)
    .bind(email.as_str())
    .bind(&name)
    .bind(role.as_str())
    .bind(hash.as_ref().map(|h| h.as_str().to_owned()))
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(field("email", "email.taken"));
    }
    let link = if hash.is_none() {
        let token = create_link(&mut tx, &user_id, "set_password", SET_PASSWORD_LINK_TTL).await?;
        let link = format!("{}/reset-password?token={token}", state.config.public_url);
        outbox::enqueue(
            &mut tx,
            OutgoingEmail {
                template: EmailTemplate::PasswordReset,
                locale: "en".into(),
                to: email.as_str().to_owned(),
                params: serde_json::json!({
                    "name": name,
                    "link": link,
                    "expires_minutes": SET_PASSWORD_LINK_TTL.as_secs() / 60,
                }),
            },
        )
        .await?;
        Some(link)
    } else {
        None
    };
    let mut e = on_user(
        event(AuditAction::UserCreated, Outcome::Success, origin),
        &user_id,
    );
    if let Some(actor) = actor {
        e = as_user(e, &actor.user_id, actor.role);
    }
    e.detail = Some(role_detail(role));
    audit::record_in(&mut tx, e).await?;
    tx.commit().await?;
    state.mailer.wake();
    Ok((user_id, link))
}

/// Disables or re-enables an account. Disabling ends its sessions at once. Admins cannot
/// disable themselves (someone must be left to undo it).
pub async fn set_active(
    state: &AppState,
    admin: &AuthUser,
    user_id: &str,
    active: bool,
    origin: Origin<'_>,
) -> Result<(), AccountError> {
    if user_id == admin.user_id {
        return Err(AccountError::NotAllowed("admin.cannot_disable_self"));
    }
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let done = sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(if active { "active" } else { "disabled" })
        .bind(now_ms())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AccountError::NoSuchUser);
    }
    if !active {
        session::revoke_all(&mut tx, user_id).await?;
    }
    let action = if active {
        AuditAction::UserEnabled
    } else {
        AuditAction::UserDisabled
    };
    audit::record_in(
        &mut tx,
        on_user(
            as_user(
                event(action, Outcome::Success, origin),
                &admin.user_id,
                admin.role,
            ),
            user_id,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Changes an account's role; its sessions end, so the new privileges start with a fresh one.
pub async fn set_role(
    state: &AppState,
    admin: Option<&AuthUser>,
    user_id: &str,
    role: Role,
    origin: Origin<'_>,
) -> Result<(), AccountError> {
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let done = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now_ms())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AccountError::NoSuchUser);
    }
    session::revoke_all(&mut tx, user_id).await?;
    let mut e = on_user(
        event(AuditAction::RoleChanged, Outcome::Success, origin),
        user_id,
    );
    if let Some(admin) = admin {
        e = as_user(e, &admin.user_id, admin.role);
    }
    e.detail = Some(role_detail(role));
    audit::record_in(&mut tx, e).await?;
    tx.commit().await?;
    Ok(())
}
