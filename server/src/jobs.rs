//! Background work of one server process.
//!
//! The email outbox is delivered by the `log` provider for now: messages are marked sent and
//! kept in the table for the admin to read (real providers come with the notifications
//! work). Several instances may run this at once; the outbox's leases keep each email to one.

use std::sync::Arc;
use std::time::Duration;
use tabibu_app::events::hub::EventHub;
use tabibu_app::platform::Db;

/// How often the outbox is looked at.
const OUTBOX_EVERY: Duration = Duration::from_secs(5);

/// Starts the outbox worker; it runs until the process ends.
pub fn spawn_outbox_worker(db: Db) -> tokio::task::JoinHandle<()> {
    let worker_id = format!("tabibu-{}", uuid::Uuid::new_v4().simple());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(OUTBOX_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match tabibu_app::notifications::outbox::deliver_with_log_provider(&db, &worker_id, 50)
                .await
            {
                Ok(report) if report.kept + report.dead > 0 => {
                    tracing::info!(
                        kept = report.kept,
                        dead = report.dead,
                        "outbox delivered by the log provider"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(cause = %err, "outbox delivery failed; will retry"),
            }
        }
    })
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
