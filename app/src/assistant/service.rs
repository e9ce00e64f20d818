//! Storing and reading the symptom assistant's conversations. Server only.
//!
//! A conversation belongs to one patient; every function that takes a conversation id also
//! takes the patient's id and finds nothing when they do not match, so another patient's
//! conversation is indistinguishable from one that does not exist. Every read and write is
//! audited (in the same transaction as a write), except [`load_for_consultation`], whose
//! caller audits its own access. Nothing here logs what a patient wrote or was told.

use super::types::{Author, ChatMessage, Conversation, ConversationSummary, MAX_MESSAGE_CHARS};
use crate::accounts::session::AuthUser;
use crate::audit::{self, AuditAction, AuditEvent, Outcome, SUBJECT_USER};
use crate::platform::db::now_ms;
use crate::platform::{AppState, Db, DbError};
use crate::triage::{service as triage_service, store};
use sqlx::{AnyConnection, Row};
use tabibu_ai::{PreConsultSummary, TriageLevel, TriageResult};

/// The entity type of a conversation in the audit log.
pub const SUBJECT_CONVERSATION: &str = "conversation";
/// Most conversations listed at once.
pub const LIST_LIMIT: i64 = 100;
/// How much of the first message the list shows.
const PREVIEW_CHARS: usize = 80;
/// Attempts at taking the next sequence number when another write takes it first.
const INSERT_ATTEMPTS: usize = 3;

/// Why a conversation could not be read or written. `Display` names the step, never content.
#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("store: {0}")]
    Store(#[from] DbError),
    #[error("audit: {0}")]
    Audit(#[from] audit::AuditError),
    #[error("profile: {0}")]
    Profile(#[from] crate::profile::service::ProfileError),
    #[error("a stored triage result or summary is not valid JSON")]
    Corrupt(#[from] serde_json::Error),
    /// No such conversation for this patient (or none at all).
    #[error("no such conversation for this patient")]
    NotFound,
    /// The message id names a message of another conversation.
    #[error("the client message id is already used elsewhere")]
    IdTaken,
    /// No external provider is configured, so there is nothing to consent to.
    #[error("no external AI provider is configured")]
    NoProvider,
    /// Other writes kept taking the next sequence number.
    #[error("the message could not be stored after {INSERT_ATTEMPTS} attempts")]
    Contended,
}

fn event(action: AuditAction, user: &AuthUser) -> AuditEvent {
    AuditEvent::new(action, Outcome::Success).actor(&user.user_id, user.role.as_str())
}

fn level(stored: Option<String>) -> Option<TriageLevel> {
    stored.as_deref().and_then(TriageLevel::parse)
}

/// The caller's conversations, newest first; the read is audited.
pub async fn list_own(
    db: &Db,
    user: &AuthUser,
) -> Result<Vec<ConversationSummary>, AssistantError> {
    let rows = sqlx::query(
        "SELECT c.id, c.triage_level, c.created_at, c.updated_at, \
         (SELECT m.body FROM conversation_messages m \
          WHERE m.conversation_id = c.id AND m.author = 'patient' ORDER BY m.seq LIMIT 1) \
         FROM conversations c WHERE c.patient_id = $1 \
         ORDER BY c.updated_at DESC, c.created_at DESC, c.id LIMIT $2",
    )
    .bind(&user.user_id)
    .bind(LIST_LIMIT)
    .fetch_all(db.pool())
    .await?;
    let list = rows
        .iter()
        .map(|row| -> Result<ConversationSummary, sqlx::Error> {
            let first: Option<String> = row.try_get(4)?;
            Ok(ConversationSummary {
                id: row.try_get(0)?,
                triage_level: level(row.try_get(1)?),
                created_at: row.try_get(2)?,
                updated_at: row.try_get(3)?,
                preview: first
                    .unwrap_or_default()
                    .chars()
                    .take(PREVIEW_CHARS)
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    audit::record(
        db,
        event(AuditAction::ConversationRead, user)
            .subject(SUBJECT_USER, &user.user_id)
            .detail("list"),
    )
    .await?;
    Ok(list)
}

/// Conversation `id` of `patient_id` with its messages, without auditing; `None` when it is
/// not theirs.
pub async fn load(
    db: &Db,
    patient_id: &str,
    id: &str,
) -> Result<Option<Conversation>, AssistantError> {
    let Some(row) = sqlx::query(
        "SELECT triage_json, summary_json, created_at, updated_at FROM conversations \
         WHERE id = $1 AND patient_id = $2",
    )
    .bind(id)
    .bind(patient_id)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    let triage: Option<String> = row.try_get(0)?;
    let summary: Option<String> = row.try_get(1)?;
    let messages = sqlx::query(
        "SELECT id, author, body, triage_level, complete, client_message_id, created_at \
         FROM conversation_messages WHERE conversation_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|m| -> Result<ChatMessage, sqlx::Error> {
        let author: String = m.try_get(1)?;
        let complete: i32 = m.try_get(4)?;
        Ok(ChatMessage {
            id: m.try_get(0)?,
            author: Author::parse(&author).unwrap_or(Author::Assistant),
            body: m.try_get(2)?,
            triage_level: level(m.try_get(3)?),
            complete: complete != 0,
            client_message_id: m.try_get(5)?,
            created_at: m.try_get(6)?,
        })
    })
    .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Conversation {
        id: id.to_owned(),
        messages,
        triage: triage.as_deref().map(serde_json::from_str).transpose()?,
        summary: summary.as_deref().map(serde_json::from_str).transpose()?,
        created_at: row.try_get(2)?,
        updated_at: row.try_get(3)?,
    }))
}

/// The caller's conversation `id`; [`AssistantError::NotFound`] when it is not theirs. The
/// read is audited.
pub async fn read_own(db: &Db, user: &AuthUser, id: &str) -> Result<Conversation, AssistantError> {
    let conversation = load(db, &user.user_id, id)
        .await?
        .ok_or(AssistantError::NotFound)?;
    audit::record(
        db,
        event(AuditAction::ConversationRead, user).subject(SUBJECT_CONVERSATION, id),
    )
    .await?;
    Ok(conversation)
}

/// The latest triage result and pre-consultation summary of `conversation_id`, when it
/// belongs to `patient_id` and has been assessed. Not audited: for the consultations
/// feature, which audits the consultation it creates from them.
pub async fn load_for_consultation(
    db: &Db,
    patient_id: &str,
    conversation_id: &str,
) -> Result<Option<(TriageResult, PreConsultSummary)>, AssistantError> {
    let row = sqlx::query(
        "SELECT triage_json, summary_json FROM conversations WHERE id = $1 AND patient_id = $2",
    )
    .bind(conversation_id)
    .bind(patient_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let triage: Option<String> = row.try_get(0)?;
    let summary: Option<String> = row.try_get(1)?;
    match (triage, summary) {
        (Some(t), Some(s)) => Ok(Some((serde_json::from_str(&t)?, serde_json::from_str(&s)?))),
        _ => Ok(None),
    }
}

/// A stored reply, replayed when a message that already has one is sent again.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub reply: String,
    pub level: TriageLevel,
    pub result: TriageResult,
}

/// A patient message, stored (or found already stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub conversation_id: String,
    /// Everything the patient has written in this conversation up to and including this
    /// message, oldest first: the triage reads it as one account.
    pub patient_texts: Vec<String>,
    /// The message had been stored before and a complete reply follows it: give that again
    /// instead of a new one. `None` when the reply is missing or was cut off (a retry).
    pub replay: Option<Replay>,
}

/// The conversation and sequence number of the caller's message with `client_id`.
async fn find_client_message(
    db: &Db,
    patient_id: &str,
    client_id: &str,
) -> Result<Option<(String, i32)>, AssistantError> {
    let row = sqlx::query(
        "SELECT m.conversation_id, m.seq FROM conversation_messages m \
         JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.client_message_id = $1 AND c.patient_id = $2",
    )
    .bind(client_id)
    .bind(patient_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
        None => None,
    })
}

/// Appends a message at the next sequence number; `false` when another write took that
/// number (or, for a patient message, its client id) first.
async fn insert_message(
    conn: &mut AnyConnection,
    conversation_id: &str,
    author: Author,
    body: &str,
    level: Option<TriageLevel>,
    complete: bool,
    client_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO conversation_messages \
         (id, conversation_id, seq, author, body, triage_level, complete, client_message_id, \
         created_at) VALUES ($1, $2, \
         (SELECT COALESCE(MAX(seq), 0) + 1 FROM conversation_messages WHERE conversation_id = $2), \
         $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(conversation_id)
    .bind(author.as_str())
    .bind(body)
    .bind(level.map(TriageLevel::as_str))
    .bind(i32::from(complete))
    .bind(client_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores the caller's message (in a new conversation when `conversation_id` is `None`),
/// unless a message with `client_id` is already stored: then that one stands. The write is
/// audited; `text` must have passed `types::validate`.
///
/// Two copies of one message sent at the very same moment are still one message, but each
/// may get a reply of its own; the page never sends that way (its button waits for the
/// answer), so only a hand-made client can see two replies.
pub async fn post_message(
    db: &Db,
    user: &AuthUser,
    conversation_id: Option<&str>,
    text: &str,
    client_id: &str,
) -> Result<Posted, AssistantError> {
    for _ in 0..INSERT_ATTEMPTS {
        if let Some((found, seq)) = find_client_message(db, &user.user_id, client_id).await? {
            if conversation_id.is_some_and(|wanted| wanted != found) {
                return Err(AssistantError::IdTaken);
            }
            return posted(db, user, found, seq, true).await;
        }
        let now = now_ms();
        let mut tx = db.pool().begin().await?;
        // Written first: on SQLite a transaction that starts by reading can be refused the
        // write lock later.
        let id = match conversation_id {
            Some(id) => {
                let touched = sqlx::query(
                    "UPDATE conversations SET updated_at = $1 WHERE id = $2 AND patient_id = $3",
                )
                .bind(now)
                .bind(id)
                .bind(&user.user_id)
                .execute(&mut *tx)
                .await?;
                if touched.rows_affected() == 0 {
                    return Err(AssistantError::NotFound);
                }
                id.to_owned()
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO conversations (id, patient_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&id)
                .bind(&user.user_id)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        let stored = insert_message(
            &mut tx,
            &id,
            Author::Patient,
            text,
            None,
            true,
            Some(client_id),
        )
        .await?;
        if !stored {
            tx.rollback().await?;
            if find_client_message(db, &user.user_id, client_id)
                .await?
                .is_none()
                && client_id_exists(db, client_id).await?
            {
                return Err(AssistantError::IdTaken);
            }
            continue;
        }
        audit::record_in(
            &mut tx,
            event(AuditAction::ConversationMessage, user)
                .subject(SUBJECT_CONVERSATION, &id)
                .detail("patient"),
        )
        .await?;
        tx.commit().await?;
        let (_, seq) = find_client_message(db, &user.user_id, client_id)
            .await?
            .ok_or(AssistantError::Contended)?;
        return posted(db, user, id, seq, false).await;
    }
    Err(AssistantError::Contended)
}

async fn client_id_exists(db: &Db, client_id: &str) -> Result<bool, AssistantError> {
    Ok(
        sqlx::query("SELECT 1 FROM conversation_messages WHERE client_message_id = $1")
            .bind(client_id)
            .fetch_optional(db.pool())
            .await?
            .is_some(),
    )
}

async fn posted(
    db: &Db,
    user: &AuthUser,
    conversation_id: String,
    seq: i32,
    again: bool,
) -> Result<Posted, AssistantError> {
    let patient_texts = sqlx::query(
        "SELECT body FROM conversation_messages \
         WHERE conversation_id = $1 AND author = 'patient' AND seq <= $2 ORDER BY seq",
    )
    .bind(&conversation_id)
    .bind(seq)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|row| row.try_get::<String, _>(0))
    .collect::<Result<Vec<_>, _>>()?;
    let mut replay = None;
    if again {
        let reply = sqlx::query(
            "SELECT m.body, m.triage_level, m.complete, c.triage_json \
             FROM conversation_messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.conversation_id = $1 AND m.author = 'assistant' AND m.seq > $2 \
             ORDER BY m.seq DESC LIMIT 1",
        )
        .bind(&conversation_id)
        .bind(seq)
        .fetch_optional(db.pool())
        .await?;
        if let Some(row) = reply {
            let complete: i32 = row.try_get(2)?;
            let result: Option<String> = row.try_get(3)?;
            if let (true, Some(level), Some(result)) =
                (complete != 0, level(row.try_get(1)?), result)
            {
                replay = Some(Replay {
                    reply: row.try_get(0)?,
                    level,
                    result: serde_json::from_str(&result)?,
                });
                audit::record(
                    db,
                    event(AuditAction::ConversationRead, user)
                        .subject(SUBJECT_CONVERSATION, &conversation_id)
                        .detail("replay"),
                )
                .await?;
            }
        }
    }
    Ok(Posted {
        conversation_id,
        patient_texts,
        replay,
    })
}

/// The patient's messages as one account for the triage, newest kept whole when they are
/// more than the engine reads together: the oldest are left out first.
pub fn conversation_text(patient_texts: &[String]) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut chars = 0;
    for text in patient_texts.iter().rev() {
        let n = text.chars().count() + 1;
        if chars + n > MAX_MESSAGE_CHARS && !kept.is_empty() {
            break;
        }
        chars += n;
        kept.push(text);
    }
    kept.reverse();
    kept.join("\n")
}

/// The assistant's reply to store, with the assessment it came with.
#[derive(Debug, Clone)]
pub struct Reply<'a> {
    pub body: &'a str,
    /// False when the model's stream was cut and `body` is the part that arrived.
    pub complete: bool,
    pub result: &'a TriageResult,
    pub summary: &'a PreConsultSummary,
}

/// Appends the assistant's reply and makes its result and summary the conversation's
/// latest; audited in the same transaction.
pub async fn record_reply(
    db: &Db,
    user: &AuthUser,
    conversation_id: &str,
    reply: &Reply<'_>,
) -> Result<(), AssistantError> {
    let triage_json = serde_json::to_string(reply.result)?;
    let summary_json = serde_json::to_string(reply.summary)?;
    for _ in 0..INSERT_ATTEMPTS {
        let mut tx = db.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE conversations SET triage_level = $1, triage_json = $2, summary_json = $3, \
             updated_at = $4 WHERE id = $5 AND patient_id = $6",
        )
        .bind(reply.result.level.as_str())
        .bind(&triage_json)
        .bind(&summary_json)
        .bind(now_ms())
        .bind(conversation_id)
        .bind(&user.user_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(AssistantError::NotFound);
        }
        let stored = insert_message(
            &mut tx,
            conversation_id,
            Author::Assistant,
            reply.body,
            Some(reply.result.level),
            reply.complete,
            None,
        )
        .await?;
        if !stored {
            tx.rollback().await?;
            continue;
        }
        audit::record_in(
            &mut tx,
            event(AuditAction::ConversationMessage, user)
                .subject(SUBJECT_CONVERSATION, conversation_id)
                .detail(if reply.complete {
                    "assistant"
                } else {
                    "assistant_cut"
                }),
        )
        .await?;
        tx.commit().await?;
        return Ok(());
    }
    Err(AssistantError::Contended)
}

/// Whether the page must ask `user_id` for consent: an external provider is configured and
/// they have not consented to it.
pub async fn consent_needed(state: &AppState, user_id: &str) -> Result<bool, AssistantError> {
    match &state.ai_provider {
        Some(provider) => Ok(!store::has_consent(&state.db, user_id, provider.0.name()).await?),
        None => Ok(false),
    }
}

/// Records the caller's consent to the configured external provider; audited.
pub async fn give_consent(state: &AppState, user: &AuthUser) -> Result<(), AssistantError> {
    let provider = state
        .ai_provider
        .as_ref()
        .ok_or(AssistantError::NoProvider)?;
    store::record_consent(
        &state.db,
        &user.user_id,
        provider.0.name(),
        triage_service::CONSENT_VERSION,
    )
    .await?;
    audit::record(
        &state.db,
        event(AuditAction::AiConsentGiven, user)
            .subject(SUBJECT_USER, &user.user_id)
            .detail(provider.0.name()),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_conversation_is_read_and_the_oldest_words_go_first_when_too_long() {
        let texts = vec!["fever".to_owned(), "and a cough".to_owned()];
        assert_eq!(conversation_text(&texts), "fever\nand a cough");
        let long = vec!["a".repeat(MAX_MESSAGE_CHARS - 5), "headache".to_owned()];
        assert_eq!(conversation_text(&long), "headache");
        let one = vec!["b".repeat(MAX_MESSAGE_CHARS)];
        assert_eq!(conversation_text(&one).len(), MAX_MESSAGE_CHARS);
    }
}
