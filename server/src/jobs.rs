//! Background work of one server process.
//!
//! The email outbox is delivered by the `log` provider for now: messages are marked sent and
//! kept in the table for the admin to read (real providers come with the notifications
//! work). Several instances may run this at once; the outbox's leases keep each email to one.

use std::time::Duration;
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
