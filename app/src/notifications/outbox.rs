//! The email outbox: emails are written to the database in the same transaction as the event
//! that causes them, and delivered later by a worker, so an email exists exactly when its
//! event does and survives a crash or a provider outage.
//!
//! # Life of an email
//!
//! `pending` → [`claim_batch`] → `sending` (leased to one worker until `locked_until`) →
//! [`mark_sent`] → `sent`, or [`mark_failed`] → `pending` again with an exponential,
//! jittered back-off, and `dead` after [`MAX_ATTEMPTS`]. A worker that dies mid-send loses its
//! lease and the email is claimed again once the lease runs out: an email may then go out
//! twice, but it is never lost. Claiming is atomic: on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED` (many instances can poll at once), on SQLite in a single
//! `UPDATE … RETURNING` (SQLite runs one writer at a time).
//!
//! Sending is [`super::delivery`]'s job: it claims a batch here, hands each email to the
//! configured provider, and reports back with [`mark_sent`], [`mark_failed_after`] (a
//! transient failure: SendGrid 429/5xx, an SMTP 4xx, a vanished server) or [`mark_dead`] (a
//! permanent one: an SMTP 5xx, a request SendGrid refuses as malformed). Emails it claimed but
//! had no time to send (shutdown, a lease about to run out) go back with [`release`], without
//! counting as an attempt.
//!
//! # The `log` provider
//!
//! The default provider "delivers" by marking the email `sent` with provider `log` and
//! keeping its parameters, so the admin reads the message in the outbox (via
//! [`OutboxEntry::rendered`], which renders it again from the stored template, locale and
//! parameters; rendering is deterministic). A real provider's [`mark_sent`] erases the
//! parameters, which may hold a reset link or a name, as soon as the message is out.
//!
//! This module must never log an address or a parameter: only ids, template codes, counts.
//! `last_error` is a short code chosen by the caller, never a provider's message.

pub use super::{EmailTemplate, RenderError, RenderedEmail, render};
use crate::i18n::Locale;
use crate::platform::db::now_ms;
use crate::platform::{Db, DbKind};
use rand::Rng;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Attempts before an email is given up as `dead`.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a claim lasts before another worker may take the email over.
pub const LEASE_MS: i64 = 5 * 60 * 1000;
/// The back-off after the first failure; it doubles with each further one.
const BACKOFF_BASE_MS: i64 = 60 * 1000;
/// The longest back-off.
const BACKOFF_CAP_MS: i64 = 6 * 60 * 60 * 1000;
/// Longest address accepted (RFC 5321's path limit).
const MAX_ADDRESS: usize = 254;
/// The provider that keeps messages for the admin instead of sending them.
pub const LOG_PROVIDER: &str = "log";

/// A failure of the outbox. `Display` names what failed, never an address or a parameter.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("email outbox query failed: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the recipient address is not usable")]
    InvalidAddress,
    #[error("the email does not render: {0}")]
    Render(#[from] RenderError),
    #[error("an outbox row holds an unknown template or status")]
    UnknownCode,
    #[error("an outbox row holds parameters that are not valid JSON")]
    CorruptParams,
}

/// An email to queue.
#[derive(Clone, PartialEq)]
pub struct Email {
    pub template: EmailTemplate,
    /// `en` or `sw`; anything else is sent in English.
    pub locale: String,
    pub to: String,
    /// A JSON object; see [`EmailTemplate`] for what each template needs.
    pub params: Value,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("template", &self.template)
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

/// Where an email is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    Pending,
    Sending,
    Sent,
    Dead,
}

impl OutboxStatus {
    pub fn code(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
        }
    }

    pub fn from_code(code: &str) -> Option<OutboxStatus> {
        [
            OutboxStatus::Pending,
            OutboxStatus::Sending,
            OutboxStatus::Sent,
            OutboxStatus::Dead,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// Queues `email` inside the caller's transaction; it is delivered only if that commits.
/// Renders it once first, so a template given the wrong parameters fails here, in the
/// request that made the mistake, rather than in the worker hours later. Returns its id.
pub async fn enqueue(conn: &mut AnyConnection, email: Email) -> Result<String, OutboxError> {
    let to = email.to.trim();
    if to.is_empty()
        || to.len() > MAX_ADDRESS
        || !to.contains('@')
        || to.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(OutboxError::InvalidAddress);
    }
    let locale = Locale::from_code(&email.locale).unwrap_or_default();
    render(email.template, locale, &email.params)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO email_outbox (id, created_at, template, locale, to_address, params_json, \
         status, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $2)",
    )
    .bind(&id)
    .bind(now)
    .bind(email.template.code())
    .bind(locale.code())
    .bind(to)
    .bind(email.params.to_string())
    .execute(&mut *conn)
    .await?;
    tracing::debug!(email_id = %id, template = email.template.code(), "email queued");
    Ok(id)
}

/// Like [`enqueue`], but only when no email with the same `coalesce_key` is still waiting to
/// go out (`pending` or `sending`): a burst of events then makes one email, not one each.
/// Returns the new email's id, or `None` when an unsent one already covers it.
///
/// The check and the insert are two statements: two transactions doing this at once could
/// both insert. Callers that need exactly one hold a lock that orders them first (the
/// consultation service's transactions all start with the audit log's head lock).
pub async fn enqueue_coalesced(
    conn: &mut AnyConnection,
    email: Email,
    coalesce_key: &str,
) -> Result<Option<String>, OutboxError> {
    let waiting: Option<String> = sqlx::query_scalar(
        "SELECT id FROM email_outbox WHERE coalesce_key = $1 \
         AND status IN ('pending', 'sending') LIMIT 1",
    )
    .bind(coalesce_key)
    .fetch_optional(&mut *conn)
    .await?;
    if waiting.is_some() {
        return Ok(None);
    }
    let id = enqueue(conn, email).await?;
    sqlx::query("UPDATE email_outbox SET coalesce_key = $1 WHERE id = $2")
        .bind(coalesce_key)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(id))
}

/// An email leased to one worker for sending.
#[derive(Clone, PartialEq)]
pub struct ClaimedEmail {
    pub id: String,
    pub template: EmailTemplate,
    pub locale: Locale,
    pub to: String,
    pub params: Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

impl std::fmt::Debug for ClaimedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedEmail")
            .field("id", &self.id)
            .field("template", &self.template)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl ClaimedEmail {
    pub fn render(&self) -> Result<RenderedEmail, RenderError> {
        render(self.template, self.locale, &self.params)
    }
}

/// Leases up to `limit` due emails to `worker_id` until `now + LEASE_MS`: pending ones whose
/// time has come, and ones whose previous worker's lease ran out. Each claim counts as an
/// attempt. No two concurrent calls ever return the same email.
pub async fn claim_batch(
    db: &Db,
    worker_id: &str,
    now: i64,
    limit: u32,
) -> Result<Vec<ClaimedEmail>, OutboxError> {
    // An email whose worker vanished on its last allowed attempt is not tried a ninth time.
    sqlx::query(&format!(
        "UPDATE email_outbox SET status = 'dead', last_error = 'lease_expired', \
         locked_by = NULL, locked_until = NULL \
         WHERE status = 'sending' AND locked_until <= $1 AND attempts >= {MAX_ATTEMPTS}"
    ))
    .bind(now)
    .execute(db.pool())
    .await?;

    let lock = match db.kind() {
        // Rows another worker is claiming right now are skipped, not waited for.
        DbKind::Postgres => "FOR UPDATE SKIP LOCKED",
        // SQLite runs this whole statement under its single write lock.
        DbKind::Sqlite => "",
    };
    let sql = format!(
        "UPDATE email_outbox \
         SET status = 'sending', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id IN (\
           SELECT id FROM email_outbox \
           WHERE (status = 'pending' AND next_attempt_at <= $3) \
              OR (status = 'sending' AND locked_until <= $3) \
           ORDER BY next_attempt_at, created_at \
           LIMIT $4 {lock}) \
         RETURNING id, template, locale, to_address, params_json, attempts, next_attempt_at"
    );
    let rows = sqlx::query(&sql)
        .bind(worker_id)
        .bind(now + LEASE_MS)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(db.pool())
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    let mut order = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get(0)?;
        match claimed_from_row(row) {
            Ok(email) => {
                order.push(row.try_get::<i64, _>(6)?);
                claimed.push(email);
            }
            Err(err) => {
                // A row this version cannot read would come back forever; set it aside.
                tracing::warn!(email_id = %id, cause = %err, "unreadable outbox row marked dead");
                mark_dead(db, &id, worker_id, "unreadable").await?;
            }
        }
    }
    // RETURNING gives no order; hand the oldest due first.
    let mut paired: Vec<_> = order.into_iter().zip(claimed).collect();
    paired.sort_by_key(|(due, _)| *due);
    Ok(paired.into_iter().map(|(_, email)| email).collect())
}

fn claimed_from_row(row: &AnyRow) -> Result<ClaimedEmail, OutboxError> {
    let template: String = row.try_get(1)?;
    let locale: String = row.try_get(2)?;
    let params: String = row.try_get(4)?;
    Ok(ClaimedEmail {
        id: row.try_get(0)?,
        template: EmailTemplate::from_code(&template).ok_or(OutboxError::UnknownCode)?,
        locale: Locale::from_code(&locale).unwrap_or_default(),
        to: row.try_get(3)?,
        params: serde_json::from_str(&params).map_err(|_| OutboxError::CorruptParams)?,
        attempts: row.try_get(5)?,
    })
}

/// Records that `worker_id` delivered email `id` through `provider`. Returns false when the
/// email is no longer leased to this worker (its lease ran out and another took it over).
///
/// Parameters are erased, except for the `log` provider, whose whole point is to keep the
/// message readable.
pub async fn mark_sent(
    db: &Db,
    id: &str,
    worker_id: &str,
    provider: &str,
    now: i64,
) -> Result<bool, OutboxError> {
    let params = if provider == LOG_PROVIDER {
        "params_json"
    } else {
        "'{}'"
    };
    let done = sqlx::query(&format!(
        "UPDATE email_outbox SET status = 'sent', sent_at = $1, provider = $2, \
         params_json = {params}, last_error = NULL, locked_by = NULL, locked_until = NULL \
         WHERE id = $3 AND status = 'sending' AND locked_by = $4"
    ))
    .bind(now)
    .bind(provider)
    .bind(id)
    .bind(worker_id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// What happens next to an email whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Tried again at this time (ms since the epoch).
    RetryAt(i64),
    /// Given up; it waits in the dead letters for an admin.
    Dead,
    /// The email was not leased to this worker any more; nothing changed.
    NotLeased,
}

/// Records a failed attempt with a short `error_code` (e.g. `provider_5xx`, `timeout`).
/// Schedules the next attempt after [`backoff_ms`], or gives up after [`MAX_ATTEMPTS`].
pub async fn mark_failed(
    db: &Db,
    id: &str,
    worker_id: &str,
    error_code: &'static str,
    now: i64,
) -> Result<NextAttempt, OutboxError> {
    mark_failed_after(db, id, worker_id, error_code, now, None).await
}

/// [`mark_failed`], with the earliest time the provider said it would accept the email again
/// (SendGrid's `Retry-After`): the next attempt is at the later of that and the back-off, and
/// never further away than the longest back-off.
pub async fn mark_failed_after(
    db: &Db,
    id: &str,
    worker_id: &str,
    error_code: &'static str,
    now: i64,
    not_before: Option<i64>,
) -> Result<NextAttempt, OutboxError> {
    let row = sqlx::query(
        "SELECT attempts FROM email_outbox WHERE id = $1 AND status = 'sending' AND locked_by = $2",
    )
    .bind(id)
    .bind(worker_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(NextAttempt::NotLeased);
    };
    let attempts: i32 = row.try_get(0)?;
    if attempts >= MAX_ATTEMPTS {
        return Ok(if mark_dead(db, id, worker_id, error_code).await? {
            NextAttempt::Dead
        } else {
            NextAttempt::NotLeased
        });
    }
    let backoff = now + backoff_ms(attempts, rand::thread_rng().r#gen::<f64>());
    let at = not_before.map_or(backoff, |earliest| {
        backoff.max(earliest.min(now + BACKOFF_CAP_MS))
    });
    let done = sqlx::query(
        "UPDATE email_outbox SET status = 'pending', next_attempt_at = $1, last_error = $2, \
         locked_by = NULL, locked_until = NULL \
         WHERE id = $3 AND status = 'sending' AND locked_by = $4",
    )
    .bind(at)
    .bind(error_code)
    .bind(id)
    .bind(worker_id)
    .execute(db.pool())
    .await?;
    Ok(if done.rows_affected() > 0 {
        NextAttempt::RetryAt(at)
    } else {
        NextAttempt::NotLeased
    })
}

/// Gives up on an email at once (for failures no retry can fix, such as a refused address).
pub async fn mark_dead(
    db: &Db,
    id: &str,
    worker_id: &str,
    error_code: &'static str,
) -> Result<bool, OutboxError> {
    let done = sqlx::query(
        "UPDATE email_outbox SET status = 'dead', last_error = $1, locked_by = NULL, \
         locked_until = NULL WHERE id = $2 AND status = 'sending' AND locked_by = $3",
    )
    .bind(error_code)
    .bind(id)
    .bind(worker_id)
    .execute(db.pool())
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(email_id = %id, error = error_code, "email given up");
    }
    Ok(done.rows_affected() > 0)
}

/// Hands an email this worker claimed but did not try back to the queue, due at once and
/// without counting the claim as an attempt (shutdown, or too little lease left to send it).
/// Returns false when it was no longer leased to this worker.
pub async fn release(db: &Db, id: &str, worker_id: &str) -> Result<bool, OutboxError> {
    let done = sqlx::query(
        "UPDATE email_outbox SET status = 'pending', attempts = attempts - 1, \
         locked_by = NULL, locked_until = NULL \
         WHERE id = $1 AND status = 'sending' AND locked_by = $2 AND attempts > 0",
    )
    .bind(id)
    .bind(worker_id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The wait before the next attempt after `attempts` attempts: one minute doubling each time,
/// capped at six hours, and then a random point between half of that and all of it
/// (`jitter` in `0.0..=1.0`), so emails that failed together do not retry together.
pub fn backoff_ms(attempts: i32, jitter: f64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let full = BACKOFF_BASE_MS
        .saturating_mul(1i64 << doublings)
        .min(BACKOFF_CAP_MS);
    let half = full / 2;
    // Rounding a fraction of a bounded number of milliseconds: the cast cannot overflow.
    half + (half as f64 * jitter.clamp(0.0, 1.0)).round() as i64
}

/// Sends an admin's "resend": a dead (or sent) email goes back to `pending` with a fresh
/// attempt budget. Returns whether it existed in a state that allows it: an email a real
/// provider sent has had its parameters erased and cannot be rendered again.
pub async fn requeue(db: &Db, id: &str, now: i64) -> Result<bool, OutboxError> {
    let mut conn = db.pool().acquire().await?;
    requeue_in(&mut conn, id, now).await
}

/// [`requeue`] inside the caller's transaction (to audit the resend in the same one). A
/// resent email no longer stands in for later events of its kind (its coalescing key goes).
pub async fn requeue_in(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool, OutboxError> {
    let done = sqlx::query(
        "UPDATE email_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, \
         last_error = NULL, locked_by = NULL, locked_until = NULL, coalesce_key = NULL \
         WHERE id = $2 AND status IN ('dead', 'sent') AND params_json <> '{}'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// An address as the admin page shows it: the first character of the mailbox, then `•••`,
/// then the domain (`a•••@example.com`). Enough to tell emails apart, not to write to anyone.
pub fn mask_address(address: &str) -> String {
    match address.trim().rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

/// What the `log` provider did in one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub kept: usize,
    pub dead: usize,
}

/// One pass of the default `log` provider (the same pass the worker runs, see
/// [`super::delivery::Mailer::deliver_due`]): claims due emails and marks them `sent` with
/// provider `log`, keeping them readable for the admin. An email that no longer renders is
/// marked `dead` (`render_failed`). Logs ids and template codes only.
pub async fn deliver_with_log_provider(
    db: &Db,
    worker_id: &str,
    limit: u32,
) -> Result<DeliveryReport, OutboxError> {
    let report = super::delivery::Mailer::log()
        .deliver_due(db, worker_id, now_ms(), limit)
        .await?;
    Ok(DeliveryReport {
        kept: report.sent,
        dead: report.dead,
    })
}

/// An outbox row as the admin page (and tests) see it.
#[derive(Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: String,
    pub created_at: i64,
    pub template: EmailTemplate,
    pub locale: Locale,
    pub to: String,
    pub params: Value,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub provider: Option<String>,
}

impl std::fmt::Debug for OutboxEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEntry")
            .field("id", &self.id)
            .field("template", &self.template)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl OutboxEntry {
    /// The message as it was (or will be) sent. Fails once a real provider has sent it and
    /// its parameters were erased.
    pub fn rendered(&self) -> Result<RenderedEmail, RenderError> {
        render(self.template, self.locale, &self.params)
    }
}

const ENTRY_COLUMNS: &str = "id, created_at, template, locale, to_address, params_json, status, \
                             attempts, next_attempt_at, last_error, sent_at, provider";

fn entry_from_row(row: &AnyRow) -> Result<OutboxEntry, OutboxError> {
    let template: String = row.try_get(2)?;
    let locale: String = row.try_get(3)?;
    let params: String = row.try_get(5)?;
    let status: String = row.try_get(6)?;
    Ok(OutboxEntry {
        id: row.try_get(0)?,
        created_at: row.try_get(1)?,
        template: EmailTemplate::from_code(&template).ok_or(OutboxError::UnknownCode)?,
        locale: Locale::from_code(&locale).unwrap_or_default(),
        to: row.try_get(4)?,
        params: serde_json::from_str(&params).map_err(|_| OutboxError::CorruptParams)?,
        status: OutboxStatus::from_code(&status).ok_or(OutboxError::UnknownCode)?,
        attempts: row.try_get(7)?,
        next_attempt_at: row.try_get(8)?,
        last_error: row.try_get(9)?,
        sent_at: row.try_get(10)?,
        provider: row.try_get(11)?,
    })
}

/// The newest email of `template` queued for `to_address`, whatever its status.
pub async fn latest_for(
    db: &Db,
    to_address: &str,
    template: EmailTemplate,
) -> Result<Option<OutboxEntry>, OutboxError> {
    let row = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM email_outbox WHERE to_address = $1 AND template = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(to_address.trim())
    .bind(template.code())
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(entry_from_row).transpose()
}

/// One email by id.
pub async fn get(db: &Db, id: &str) -> Result<Option<OutboxEntry>, OutboxError> {
    let row = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM email_outbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(entry_from_row).transpose()
}

/// The newest emails, optionally only those in `status`, for the admin page.
pub async fn list_recent(
    db: &Db,
    status: Option<OutboxStatus>,
    limit: u32,
) -> Result<Vec<OutboxEntry>, OutboxError> {
    let limit = i64::from(limit.clamp(1, 500));
    let rows = match status {
        Some(status) => {
            sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM email_outbox WHERE status = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(status.code())
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
        None => sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM email_outbox ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(db.pool())
        .await?,
    };
    rows.iter().map(entry_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_and_stops_at_six_hours() {
        assert_eq!(backoff_ms(1, 1.0), 60_000);
        assert_eq!(backoff_ms(2, 1.0), 120_000);
        assert_eq!(backoff_ms(3, 1.0), 240_000);
        assert_eq!(backoff_ms(30, 1.0), BACKOFF_CAP_MS);
        let mut previous = 0;
        for attempts in 1..=MAX_ATTEMPTS {
            let wait = backoff_ms(attempts, 1.0);
            assert!(wait >= previous);
            previous = wait;
        }
    }

    #[test]
    fn jitter_keeps_the_wait_between_half_and_all_of_the_backoff() {
        for attempts in 1..=MAX_ATTEMPTS {
            let full = backoff_ms(attempts, 1.0);
            assert_eq!(backoff_ms(attempts, 0.0), full / 2);
            let some = backoff_ms(attempts, 0.37);
            assert!(some >= full / 2 && some <= full);
        }
    }

    #[test]
    fn debug_output_hides_address_and_parameters() {
        let email = Email {
            template: EmailTemplate::Welcome,
            locale: "sw".into(),
            to: "amina@example.org".into(),
            params: serde_json::json!({ "name": "Amina", "link": "https://x.example/t=secret" }),
        };
        let shown = format!("{email:?}");
        assert!(!shown.contains("amina") && !shown.contains("Amina") && !shown.contains("secret"));
    }

    #[test]
    fn a_masked_address_keeps_one_letter_and_the_domain() {
        assert_eq!(mask_address("amina@example.com"), "a•••@example.com");
        assert_eq!(mask_address(" Ünal@mfano.co.ke "), "Ü•••@mfano.co.ke");
        assert_eq!(mask_address("no-at-sign"), "•••");
        assert!(!mask_address("amina@example.com").contains("amina"));
    }

    #[test]
    fn status_codes_round_trip() {
        for s in [
            OutboxStatus::Pending,
            OutboxStatus::Sending,
            OutboxStatus::Sent,
            OutboxStatus::Dead,
        ] {
            assert_eq!(OutboxStatus::from_code(s.code()), Some(s));
        }
    }
}
