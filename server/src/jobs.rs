//! Background work of one server process: the email outbox worker and the pruning of old
//! live events.
//!
//! The outbox worker delivers through the configured provider (`TABIBU_EMAIL_PROVIDER`; see
//! `tabibu_app::notifications::delivery`). It runs a pass as soon as a request that queued an
//! email commits (`state.mailer.wake()`), and every few seconds in any case, which is how
//! retries whose time has come, and emails queued by other instances, are picked up. Several
//! instances may run it at once: the outbox's claim (`FOR UPDATE SKIP LOCKED` on PostgreSQL)
//! and its leases keep each email to one worker. At shutdown it finishes the email it is
//! sending and hands back the rest of its batch.

use std::sync::Arc;
use std::time::Duration;
use tabibu_app::events::hub::EventHub;
use tabibu_app::notifications::delivery::Mailer;
use tabibu_app::platform::Db;
use tabibu_app::platform::db::now_ms;

/// How an outbox worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct OutboxWorker {
    /// The longest it waits between passes when nobody wakes it.
    pub poll: Duration,
    /// Emails claimed per pass; a full batch is followed at once by another pass.
    pub batch: u32,
}

impl Default for OutboxWorker {
    fn default() -> Self {
        OutboxWorker {
            poll: Duration::from_secs(5),
            batch: 10,
        }
    }
}

/// What a worker did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerTotals {
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Starts an outbox worker; it runs until [`Mailer::stop`], then returns its totals.
pub fn spawn_outbox_worker(
    db: Db,
    mailer: Arc<Mailer>,
    settings: OutboxWorker,
) -> tokio::task::JoinHandle<WorkerTotals> {
    let worker_id = format!("tabibu-{}", uuid::Uuid::new_v4().simple());
    tokio::spawn(async move {
        let mut totals = WorkerTotals::default();
        while !mailer.is_stopping() {
            match mailer
                .deliver_due(&db, &worker_id, now_ms(), settings.batch)
                .await
            {
                Ok(report) => {
                    totals.sent += report.sent;
                    totals.retried += report.retrying;
                    totals.dead += report.dead;
                    let full = u32::try_from(report.claimed).unwrap_or(u32::MAX) >= settings.batch;
                    if full && report.released == 0 {
                        // More may be due right now.
                        continue;
                    }
                }
                Err(err) => tracing::warn!(cause = %err, "email delivery pass failed; will retry"),
            }
            mailer.wait(settings.poll).await;
        }
        totals
    })
}

/// Stops the worker: it finishes the email in hand and hands back the rest of its batch.
/// Waits at most one attempt's timeout (and a little) before giving up on it.
pub async fn stop_outbox_worker(
    mailer: &Mailer,
    mut worker: tokio::task::JoinHandle<WorkerTotals>,
) {
    mailer.stop();
    let grace = mailer.attempt_timeout() + Duration::from_secs(2);
    if tokio::time::timeout(grace, &mut worker).await.is_err() {
        // Its claimed emails come back when their lease runs out.
        tracing::warn!("the email worker did not stop in time; its batch returns after the lease");
        worker.abort();
    }
}

/// How long live events are kept for browsers that reconnect.
const EVENTS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often old live events are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the job that deletes old live events; it runs until the process ends. Several
/// instances may run it at once: deleting twice is harmless.
pub fn spawn_event_pruner(hub: Arc<EventHub>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match hub.prune(EVENTS_KEPT).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "old live events deleted"),
                Err(err) => tracing::warn!(cause = %err, "pruning live events failed; will retry"),
            }
        }
    })
}

/// How often pending M-Pesa payments without a callback are looked at.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

/// Starts the job that asks M-Pesa about payments whose callback never came (see
/// `payments::service::reconcile`); it runs until the process ends. Several instances may run
/// it at once: each payment is leased to one of them per round.
pub fn spawn_payment_reconciler(
    state: tabibu_app::platform::AppState,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = tabibu_app::platform::db::now_ms();
            match tabibu_app::payments::service::reconcile(&state, now).await {
                Ok(report) if report.checked > 0 => tracing::info!(
                    checked = report.checked,
                    paid = report.paid,
                    failed = report.failed,
                    expired = report.expired,
                    still_pending = report.still_pending,
                    "payments reconciled"
                ),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(cause = %err, "payment reconciliation failed; will retry")
                }
            }
        }
    })
}
