//! The server side of live events: writing them, and fanning them out to open streams.
//!
//! Writing: [`publish_in`] inserts the event inside the caller's transaction, so an event
//! exists exactly when its change does. Call it after `audit::record_in` in that transaction:
//! the audit chain's head row is then held, so ids are handed out and committed in the same
//! order on PostgreSQL too, and the pump never passes over an id that commits later.
//!
//! Fan-out: one pump task per process reads the table after the last id it has seen and
//! broadcasts each event to every subscribed stream. It is woken at once by [`EventHub::wake`]
//! after a local commit. Events written by another instance sharing the database arrive two
//! ways: on PostgreSQL, [`publish_in`] also sends `NOTIFY tabibu_live_events` (delivered when
//! the transaction commits) and each instance's listener wakes its pump; and every pump looks
//! by itself every `poll` (`TABIBU_EVENTS_POLL_MS`), which covers SQLite and a listener that
//! is reconnecting. A stream filters what it receives by [`Audience`]. Events hold no content, so nothing here needs to be kept from the log
//! beyond ids, and nothing is logged but counts and causes.

use super::types::{LiveEvent, LiveEventKind};
use crate::accounts::types::Role;
use crate::platform::Db;
use crate::platform::db::now_ms;
use sqlx::{AnyConnection, Row};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// The PostgreSQL channel that says "a live event was committed".
pub const NOTIFY_CHANNEL: &str = "tabibu_live_events";
/// Most events replayed to a reconnecting stream; an older gap means "reload everything".
pub const REPLAY_LIMIT: i64 = 1_000;
/// Events buffered per stream before a slow one is told it lagged (and replays instead).
const CHANNEL_CAPACITY: usize = 4_096;
/// Most events read per look.
const BATCH: i64 = 500;

/// An event to write: what happened, to which consultation, and who is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub kind: LiveEventKind,
    pub consultation_id: Option<String>,
    /// The patient it concerns; they are told.
    pub patient_id: Option<String>,
    /// The doctor it concerns; they are told.
    pub doctor_id: Option<String>,
    /// Every doctor is told (queue changes).
    pub to_doctors: bool,
}

/// An event with the audience it was written for, as the pump broadcasts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub event: LiveEvent,
    pub patient_id: Option<String>,
    pub doctor_id: Option<String>,
    pub to_doctors: bool,
}

/// Who is listening on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    pub user_id: String,
    pub role: Role,
}

impl Audience {
    /// Whether this listener is told about `event`.
    pub fn receives(&self, event: &Routed) -> bool {
        match self.role {
            Role::Patient => event.patient_id.as_deref() == Some(self.user_id.as_str()),
            Role::Doctor => {
                event.to_doctors || event.doctor_id.as_deref() == Some(self.user_id.as_str())
            }
            Role::Admin => false,
        }
    }
}

/// Writes `event` inside the caller's transaction (see the module's note on ordering).
pub async fn publish_in(conn: &mut AnyConnection, event: &NewEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO live_events (kind, consultation_id, patient_id, doctor_id, to_doctors, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.kind.as_str())
    .bind(event.consultation_id.as_deref())
    .bind(event.patient_id.as_deref())
    .bind(event.doctor_id.as_deref())
    .bind(i32::from(event.to_doctors))
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    if conn.backend_name() == "PostgreSQL" {
        // Sent at commit, and only if the transaction commits; several in one transaction
        // with the same payload are folded into one.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The fan-out of one process. Cheap to share.
#[derive(Debug)]
pub struct EventHub {
    sender: broadcast::Sender<Arc<Routed>>,
    wake: Arc<Notify>,
    /// Becomes `true` when the server shuts down: every stream then ends, so that open
    /// streams do not hold the graceful shutdown for its whole timeout.
    closing: watch::Sender<bool>,
    db: Db,
}

impl EventHub {
    /// Creates the hub and starts its pump on the current runtime, beginning after the newest
    /// event already stored (streams that need older ones replay them from the table), and on
    /// PostgreSQL a listener for other instances' events. The pump also looks every `poll`.
    pub async fn start(db: Db, poll: Duration) -> Result<Arc<EventHub>, sqlx::Error> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM live_events")
            .fetch_one(db.pool())
            .await?;
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let hub = Arc::new(EventHub {
            sender,
            wake: Arc::new(Notify::new()),
            closing: watch::Sender::new(false),
            db,
        });
        tokio::spawn(pump(
            Arc::downgrade(&hub),
            Arc::clone(&hub.wake),
            last.unwrap_or(0),
            poll,
        ));
        if let Some(url) = hub.db.listen_url() {
            tokio::spawn(listen(
                url.clone(),
                Arc::downgrade(&hub),
                Arc::clone(&hub.wake),
            ));
        }
        Ok(hub)
    }

    /// Tells the pump that a transaction with events has committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Routed>> {
        self.sender.subscribe()
    }

    /// Ends every open stream (browsers reconnect to another instance, or to this one when it
    /// is back, and replay what they missed).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Completes when [`EventHub::close_streams`] has been called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            // An error means the hub is gone, which ends the streams just the same.
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }

    /// Deletes events older than `age`; replaying further back than that is not possible
    /// anyway (a page fetches everything again on reconnect). Returns how many went.
    pub async fn prune(&self, age: Duration) -> Result<u64, sqlx::Error> {
        let cutoff = now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let done = sqlx::query("DELETE FROM live_events WHERE created_at < $1")
            .bind(cutoff)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Sends `event` to this process's streams without storing it, for signals that mean
    /// nothing a moment later ("the doctor is typing"). It has id 0, is not replayed after a
    /// reconnect, and does not reach streams held by other instances.
    pub fn announce(&self, event: &NewEvent) {
        let routed = Routed {
            event: LiveEvent {
                id: 0,
                kind: event.kind,
                consultation_id: event.consultation_id.clone(),
                at_ms: now_ms(),
            },
            patient_id: event.patient_id.clone(),
            doctor_id: event.doctor_id.clone(),
            to_doctors: event.to_doctors,
        };
        let _ = self.sender.send(Arc::new(routed));
    }

    /// How many streams are open on this process.
    pub fn listeners(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The id of the newest stored event (0 when there is none).
    pub async fn latest_id(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM live_events")
            .fetch_one(self.db.pool())
            .await
    }

    /// The events after `after_id` that `audience` receives, oldest first, at most
    /// [`REPLAY_LIMIT`].
    pub async fn replay(
        &self,
        audience: &Audience,
        after_id: i64,
    ) -> Result<Vec<Arc<Routed>>, sqlx::Error> {
        let rows = match audience.role {
            Role::Patient => {
                sqlx::query(
                    "SELECT id, kind, consultation_id, patient_id, doctor_id, to_doctors, \
                     created_at FROM live_events WHERE id > $1 AND patient_id = $2 \
                     ORDER BY id LIMIT $3",
                )
                .bind(after_id)
                .bind(&audience.user_id)
                .bind(REPLAY_LIMIT)
                .fetch_all(self.db.pool())
                .await?
            }
            Role::Doctor => {
                sqlx::query(
                    "SELECT id, kind, consultation_id, patient_id, doctor_id, to_doctors, \
                     created_at FROM live_events \
                     WHERE id > $1 AND (to_doctors = 1 OR doctor_id = $2) \
                     ORDER BY id LIMIT $3",
                )
                .bind(after_id)
                .bind(&audience.user_id)
                .bind(REPLAY_LIMIT)
                .fetch_all(self.db.pool())
                .await?
            }
            Role::Admin => Vec::new(),
        };
        rows.iter()
            .filter_map(read_row)
            .map(|r| r.map(Arc::new))
            .collect()
    }

    async fn read_after(&self, after_id: i64) -> Result<Vec<Routed>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, kind, consultation_id, patient_id, doctor_id, to_doctors, created_at \
             FROM live_events WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(BATCH)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().filter_map(read_row).collect()
    }
}

/// A stored row as an event; `None` for a kind this version does not know (written by a newer
/// instance during a rolling upgrade), which is skipped.
fn read_row(row: &sqlx::any::AnyRow) -> Option<Result<Routed, sqlx::Error>> {
    let read = || -> Result<Option<Routed>, sqlx::Error> {
        let kind: String = row.try_get(1)?;
        let Some(kind) = LiveEventKind::parse(&kind) else {
            return Ok(None);
        };
        let to_doctors: i32 = row.try_get(5)?;
        Ok(Some(Routed {
            event: LiveEvent {
                id: row.try_get(0)?,
                kind,
                consultation_id: row.try_get(2)?,
                at_ms: row.try_get(6)?,
            },
            patient_id: row.try_get(3)?,
            doctor_id: row.try_get(4)?,
            to_doctors: to_doctors != 0,
        }))
    };
    read().transpose()
}

/// Reads new events in id order and broadcasts them, until the hub is dropped.
/// Wakes the pump whenever any instance commits a live event on PostgreSQL, until the hub is
/// dropped. A lost connection is opened again (the pump's own polling covers the gap, and a
/// wake after reconnecting catches up at once).
async fn listen(url: secrecy::SecretString, hub: std::sync::Weak<EventHub>, wake: Arc<Notify>) {
    use secrecy::ExposeSecret;
    while hub.strong_count() > 0 {
        match sqlx::postgres::PgListener::connect(url.expose_secret()).await {
            Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
                Ok(()) => {
                    wake.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => wake.notify_one(),
                            // The connection was lost; `try_recv` reconnects on the next call.
                            Ok(None) => wake.notify_one(),
                            Err(err) => {
                                tracing::warn!(cause = %err, "live event listener failed; reconnecting");
                                break;
                            }
                        }
                        if hub.strong_count() == 0 {
                            return;
                        }
                    }
                }
                Err(err) => tracing::warn!(cause = %err, "LISTEN for live events failed"),
            },
            Err(err) => tracing::warn!(cause = %err, "live event listener could not connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn pump(hub: std::sync::Weak<EventHub>, wake: Arc<Notify>, mut last: i64, poll: Duration) {
    loop {
        let Some(current) = hub.upgrade() else {
            return;
        };
        match current.read_after(last).await {
            Ok(events) => {
                let full = i64::try_from(events.len()).unwrap_or(i64::MAX) >= BATCH;
                for event in events {
                    last = last.max(event.event.id);
                    // No receivers is not an error: nobody is watching right now.
                    let _ = current.sender.send(Arc::new(event));
                }
                if full {
                    continue;
                }
            }
            Err(err) => tracing::warn!(cause = %err, "reading live events failed; will retry"),
        }
        drop(current);
        let _ = tokio::time::timeout(poll, wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(patient: Option<&str>, doctor: Option<&str>, to_doctors: bool) -> Routed {
        Routed {
            event: LiveEvent {
                id: 1,
                kind: LiveEventKind::ConsultationOpened,
                consultation_id: Some("c".into()),
                at_ms: 0,
            },
            patient_id: patient.map(str::to_owned),
            doctor_id: doctor.map(str::to_owned),
            to_doctors,
        }
    }

    fn listener(id: &str, role: Role) -> Audience {
        Audience {
            user_id: id.into(),
            role,
        }
    }

    #[test]
    fn a_patient_hears_only_events_about_themselves() {
        let mine = routed(Some("p1"), None, true);
        let theirs = routed(Some("p2"), Some("d1"), true);
        assert!(listener("p1", Role::Patient).receives(&mine));
        assert!(!listener("p1", Role::Patient).receives(&theirs));
    }

    #[test]
    fn a_doctor_hears_queue_events_and_their_own_cases_only() {
        let queue = routed(Some("p1"), None, true);
        let mine = routed(Some("p1"), Some("d1"), false);
        let other = routed(Some("p1"), Some("d2"), false);
        let doctor = listener("d1", Role::Doctor);
        assert!(doctor.receives(&queue));
        assert!(doctor.receives(&mine));
        assert!(!doctor.receives(&other));
        assert!(!listener("p1", Role::Doctor).receives(&mine));
    }

    #[test]
    fn an_admin_hears_nothing_about_patients() {
        assert!(!listener("a", Role::Admin).receives(&routed(Some("p1"), Some("d1"), true)));
    }
}
