//! Server-side sessions: a random token in an HttpOnly cookie, only its SHA-256 in the
//! database. A session ends after `TABIBU_SESSION_IDLE_MINUTES` without a request, or
//! `TABIBU_SESSION_ABSOLUTE_HOURS` after sign-in, or at sign-out. Tokens are rotated at
//! sign-in and on every change of privilege (a new session replaces the old one).
//!
//! Never log a token or its hash: either lets someone ride the session.

use super::types::Role;
use crate::platform::db::{Db, DbError, now_ms};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::time::Duration;

/// The session cookie's name. `__Host-` pins it to this host, path `/` and HTTPS wherever
/// cookies are Secure; plain-HTTP development uses the bare name (browsers refuse the
/// prefix without Secure).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tabibu_session"
    } else {
        "tabibu_session"
    }
}

/// Last-seen times are written at most this often, to spare the database a write per request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Who is asking, as the server knows them from a valid session.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub role: Role,
    pub name: String,
    pub email: String,
    pub mfa_enabled: bool,
    /// Password given, two-factor code still owed: may only finish signing in.
    pub mfa_pending: bool,
    /// Staff whose two-factor sign-in is required but not turned on yet.
    pub needs_mfa_setup: bool,
    /// The hash of this session's token, to tell "this session" apart in lists.
    pub session_hash: String,
}

/// The session found (or not) for a request; put in the request's extensions by the
/// server's auth middleware so that every server function reads the same answer.
#[derive(Debug, Clone, Default)]
pub struct RequestAuth(pub Option<AuthUser>);

/// A fresh random token (32 bytes, URL-safe base64).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session; returns the token for the cookie.
pub async fn create(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    mfa_pending: bool,
    user_agent: Option<&str>,
    absolute: Duration,
) -> Result<String, DbError> {
    let token = new_token();
    let now = now_ms();
    let expires = now + i64::try_from(absolute.as_millis()).unwrap_or(i64::MAX / 2);
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, \
         mfa_pending, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(hash_token(&token))
    .bind(user_id)
    .bind(now)
    .bind(now)
    .bind(expires)
    .bind(i64::from(mfa_pending))
    .bind(user_agent.map(device_summary))
    .execute(conn)
    .await?;
    Ok(token)
}

/// The user behind a token, if the session is alive; touches its last-seen time. Expired
/// sessions are deleted on sight.
pub async fn resolve(
    db: &Db,
    token: &str,
    idle: Duration,
    require_mfa_staff: bool,
) -> Result<Option<AuthUser>, DbError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let hash = hash_token(token);
    let row = sqlx::query(
        "SELECT s.user_id, s.last_seen_at, s.expires_at, s.mfa_pending, u.role, u.name, u.email, \
         u.status, u.mfa_enabled FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let now = now_ms();
    let last_seen: i64 = row.try_get("last_seen_at")?;
    let expires: i64 = row.try_get("expires_at")?;
    let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX / 2);
    let status: String = row.try_get("status")?;
    if now >= expires || now - last_seen >= idle_ms || status != "active" {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&hash)
            .execute(db.pool())
            .await?;
        return Ok(None);
    }
    if now - last_seen >= TOUCH_EVERY_MS {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(&hash)
            .execute(db.pool())
            .await?;
    }
    let role_text: String = row.try_get("role")?;
    let Some(role) = Role::parse(&role_text) else {
        return Ok(None);
    };
    let mfa_enabled = row.try_get::<i64, _>("mfa_enabled")? != 0;
    Ok(Some(AuthUser {
        user_id: row.try_get("user_id")?,
        role,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        mfa_enabled,
        mfa_pending: row.try_get::<i64, _>("mfa_pending")? != 0,
        needs_mfa_setup: require_mfa_staff && role.is_staff() && !mfa_enabled,
        session_hash: hash,
    }))
}

/// Ends one session.
pub async fn revoke(conn: &mut sqlx::AnyConnection, session_hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(session_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of a user; returns how many there were.
pub async fn revoke_all(conn: &mut sqlx::AnyConnection, user_id: &str) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// The user's live sessions, newest first.
pub async fn list(
    db: &Db,
    user_id: &str,
    current_hash: &str,
) -> Result<Vec<super::types::SessionInfo>, DbError> {
    let rows = sqlx::query(
        "SELECT token_hash, created_at, last_seen_at, user_agent FROM sessions \
         WHERE user_id = $1 AND mfa_pending = 0 AND expires_at > $2 ORDER BY created_at DESC",
    )
    .bind(user_id)
    .bind(now_ms())
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|row| {
            let hash: String = row.try_get("token_hash")?;
            Ok(super::types::SessionInfo {
                handle: hash.chars().take(8).collect(),
                current: hash == current_hash,
                created_at_ms: row.try_get("created_at")?,
                last_seen_at_ms: row.try_get("last_seen_at")?,
                device: row
                    .try_get::<Option<String>, _>("user_agent")?
                    .unwrap_or_default(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// The `Set-Cookie` value that hands the browser its session token.
pub fn set_cookie(token: &str, secure: bool, absolute: Duration) -> String {
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        cookie_name(secure),
        absolute.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that makes the browser forget its session.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    )
}

/// The session token in a `Cookie` header, if any.
pub fn token_from_cookie_header(header: &str, secure: bool) -> Option<&str> {
    let name = cookie_name(secure);
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// "Firefox on Android" from a user-agent string; enough to recognise a device in the list
/// without keeping the whole fingerprint.
pub fn device_summary(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map_or("Browser", |(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map_or("unknown system", |(_, name)| *name);
    format!("{browser} on {system}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let a = new_token();
        assert_ne!(a, new_token());
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }

    #[test]
    fn cookies_are_http_only_and_secure_outside_development() {
        let secure = set_cookie("t", true, Duration::from_secs(60));
        assert!(secure.starts_with("__Host-tabibu_session=t;"));
        assert!(
            secure.contains("HttpOnly")
                && secure.contains("Secure")
                && secure.contains("SameSite=Lax")
        );
        let dev = set_cookie("t", false, Duration::from_secs(60));
        assert!(dev.starts_with("tabibu_session=t;") && !dev.contains("Secure"));
        assert_eq!(
            token_from_cookie_header("a=1; tabibu_session=xyz", false),
            Some("xyz")
        );
        assert_eq!(token_from_cookie_header("tabibu_session=xyz", true), None);
    }

    #[test]
    fn devices_are_summarised_not_fingerprinted() {
        let ua =
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
        assert_eq!(device_summary(ua), "Chrome on Android");
    }
}
