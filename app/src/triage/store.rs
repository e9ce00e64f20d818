//! Storage of AI consent and model-call usage.
//!
//! A patient's words go to an external model only after they consented to that provider
//! ([`has_consent`]); consent is kept as history (given, withdrawn) so it can be shown to them
//! and audited. Usage rows say which provider and model answered, how many tokens, how long
//! and how it ended — never what was asked or answered. This module must never gain a
//! content column or log a user id next to anything a patient wrote.
use sqlx::Row;
use tabibu_ai::assistant::{CallOutcome, CallUsage};

use crate::platform::db::now_ms;
use crate::platform::{Db, DbError};

/// A consent currently in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub provider: String,
    pub consent_version: String,
    pub given_at: i64,
}

/// Records that `user_id` consents to `provider` under the consent text `version`. Giving the
/// same consent again changes nothing; a new version replaces the one in force.
pub async fn record_consent(
    db: &Db,
    user_id: &str,
    provider: &str,
    version: &str,
) -> Result<(), DbError> {
    let mut tx = db.pool().begin().await?;
    let current: Option<String> = sqlx::query(
        "SELECT consent_version FROM ai_consents \
         WHERE user_id = $1 AND provider = $2 AND withdrawn_at IS NULL",
    )
    .bind(user_id)
    .bind(provider)
    .fetch_optional(&mut *tx)
    .await?
    .map(|row| row.try_get(0))
    .transpose()?;
    if current.as_deref() == Some(version) {
        return Ok(());
    }
    let now = now_ms();
    sqlx::query(
        "UPDATE ai_consents SET withdrawn_at = $1 \
         WHERE user_id = $2 AND provider = $3 AND withdrawn_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(provider)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO ai_consents (id, user_id, provider, consent_version, given_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(user_id)
    .bind(provider)
    .bind(version)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The consent in force for `user_id` and `provider`, if any.
pub async fn current_consent(
    db: &Db,
    user_id: &str,
    provider: &str,
) -> Result<Option<Consent>, DbError> {
    let row = sqlx::query(
        "SELECT provider, consent_version, given_at FROM ai_consents \
         WHERE user_id = $1 AND provider = $2 AND withdrawn_at IS NULL \
         ORDER BY given_at DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(provider)
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| {
        Ok(Consent {
            provider: row.try_get(0)?,
            consent_version: row.try_get(1)?,
            given_at: row.try_get(2)?,
        })
    })
    .transpose()
}

/// Whether `user_id` has a consent in force for `provider`.
pub async fn has_consent(db: &Db, user_id: &str, provider: &str) -> Result<bool, DbError> {
    Ok(current_consent(db, user_id, provider).await?.is_some())
}

/// Withdraws the consent in force, if any. Returns whether there was one.
pub async fn withdraw_consent(db: &Db, user_id: &str, provider: &str) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE ai_consents SET withdrawn_at = $1 \
         WHERE user_id = $2 AND provider = $3 AND withdrawn_at IS NULL",
    )
    .bind(now_ms())
    .bind(user_id)
    .bind(provider)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Stores one model call. `user_id` is `None` for calls not made for a signed-in patient.
pub async fn record_usage(
    db: &Db,
    usage: &CallUsage,
    user_id: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO ai_usage (id, at_ms, user_id, provider, model, prompt_tokens, \
         completion_tokens, latency_ms, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(now_ms())
    .bind(user_id)
    .bind(&usage.provider)
    .bind(&usage.model)
    .bind(usage.prompt_tokens.map(i64::from))
    .bind(usage.completion_tokens.map(i64::from))
    .bind(i64::try_from(usage.latency_ms).unwrap_or(i64::MAX))
    .bind(usage.outcome.as_str())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Totals for one provider, model and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTotals {
    pub provider: String,
    pub model: String,
    /// `None` for an outcome this version does not know (written by a newer one).
    pub outcome: Option<CallOutcome>,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub avg_latency_ms: i64,
    pub max_latency_ms: i64,
}

/// Usage since `since_ms`, grouped by provider, model and outcome.
pub async fn usage_summary(db: &Db, since_ms: i64) -> Result<Vec<UsageTotals>, DbError> {
    // PostgreSQL's SUM and AVG of BIGINT are NUMERIC, which the `Any` driver cannot read:
    // cast back to BIGINT on both engines.
    let rows = sqlx::query(
        "SELECT provider, model, outcome, COUNT(*), \
         CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT), \
         CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT), \
         CAST(COALESCE(AVG(latency_ms), 0) AS BIGINT), \
         CAST(COALESCE(MAX(latency_ms), 0) AS BIGINT) \
         FROM ai_usage WHERE at_ms >= $1 \
         GROUP BY provider, model, outcome ORDER BY provider, model, outcome",
    )
    .bind(since_ms)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let outcome: String = row.try_get(2)?;
            Ok(UsageTotals {
                provider: row.try_get(0)?,
                model: row.try_get(1)?,
                outcome: CallOutcome::parse(&outcome),
                calls: row.try_get(3)?,
                prompt_tokens: row.try_get(4)?,
                completion_tokens: row.try_get(5)?,
                avg_latency_ms: row.try_get(6)?,
                max_latency_ms: row.try_get(7)?,
            })
        })
        .collect()
}
