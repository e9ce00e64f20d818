//! Small named values the installation keeps about itself (when it was first started, which
//! instance id it has). Never personal data.

use super::db::{Db, DbError, now_ms};
use sqlx::Row;

/// Reads a setting.
pub async fn get(db: &Db, key: &str) -> Result<Option<String>, DbError> {
    let row = sqlx::query("SELECT value FROM app_settings WHERE key = $1")
        .bind(key)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get::<String, _>("value")).transpose()?)
}

/// Writes a setting, replacing an earlier value.
pub async fn put(db: &Db, key: &str, value: &str) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO app_settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Writes a setting only if it has none yet; returns the value that is now stored.
pub async fn get_or_init(db: &Db, key: &str, value: &str) -> Result<String, DbError> {
    sqlx::query(
        "INSERT INTO app_settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(value)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(get(db, key).await?.unwrap_or_else(|| value.to_owned()))
}
