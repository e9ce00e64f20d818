//! The email outbox on both databases: emails exist only if their transaction commits, no
//! two workers ever hold the same email, failures back off and end in the dead letters, and
//! the `log` provider keeps the message readable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use std::collections::HashSet;
use tabibu_app::notifications::EmailTemplate;
use tabibu_app::notifications::outbox::{
    self, Email, MAX_ATTEMPTS, NextAttempt, OutboxError, OutboxStatus,
};
use tabibu_app::platform::Db;
use tabibu_app::platform::db::now_ms;

fn welcome(to: &str) -> Email {
    Email {
        template: EmailTemplate::Welcome,
        locale: "en".into(),
        to: to.into(),
        params: json!({ "name": "Amina", "link": "https://tabibu.example/account" }),
    }
}

async fn enqueue_committed(db: &Db, email: Email) -> String {
    let mut tx = db.pool().begin().await.unwrap();
    let id = outbox::enqueue(&mut tx, email).await.unwrap();
    tx.commit().await.unwrap();
    id
}

on_both_databases! {
    async fn an_email_queued_in_a_rolled_back_transaction_is_never_sent(app) {
        let db = &app.state.db;
        let mut tx = db.pool().begin().await.unwrap();
        outbox::enqueue(&mut tx, welcome("rollback@example.org")).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(
            outbox::latest_for(db, "rollback@example.org", EmailTemplate::Welcome)
                .await
                .unwrap()
                .is_none()
        );
        assert!(outbox::claim_batch(db, "w1", now_ms(), 10).await.unwrap().is_empty());

        enqueue_committed(db, welcome("commit@example.org")).await;
        let entry = outbox::latest_for(db, "commit@example.org", EmailTemplate::Welcome)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.status, OutboxStatus::Pending);
        assert_eq!(entry.attempts, 0);
    }

    async fn two_workers_claiming_at_once_never_get_the_same_email(app) {
        let db = app.state.db.clone();
        for i in 0..60 {
            enqueue_committed(&db, welcome(&format!("p{i}@example.org"))).await;
        }
        let now = now_ms();
        let mut seen = HashSet::new();
        // Several rounds of two simultaneous claims, until the queue is empty.
        for round in 0..10 {
            let a = {
                let db = db.clone();
                tokio::spawn(async move {
                    outbox::claim_batch(&db, "worker-a", now, 7).await.unwrap()
                })
            };
            let b = {
                let db = db.clone();
                tokio::spawn(async move {
                    outbox::claim_batch(&db, "worker-b", now, 7).await.unwrap()
                })
            };
            let (a, b) = (a.await.unwrap(), b.await.unwrap());
            if a.is_empty() && b.is_empty() {
                assert!(round > 0);
                break;
            }
            for email in a.iter().chain(b.iter()) {
                assert!(seen.insert(email.id.clone()), "email claimed twice");
                assert_eq!(email.attempts, 1);
            }
        }
        assert_eq!(seen.len(), 60);
    }

    async fn failures_back_off_longer_each_time_and_end_in_the_dead_letters(app) {
        let db = &app.state.db;
        let id = enqueue_committed(db, welcome("flaky@example.org")).await;
        let mut now = now_ms();
        let mut previous_wait = 0;
        for attempt in 1..=MAX_ATTEMPTS {
            // Not due yet: nothing to claim a moment before the scheduled time.
            if attempt > 1 {
                assert!(outbox::claim_batch(db, "w", now - 1, 10).await.unwrap().is_empty());
            }
            let claimed = outbox::claim_batch(db, "w", now, 10).await.unwrap();
            assert_eq!(claimed.len(), 1, "attempt {attempt}");
            assert_eq!(claimed[0].attempts, attempt);
            match outbox::mark_failed(db, &id, "w", "provider_5xx", now).await.unwrap() {
                NextAttempt::RetryAt(at) => {
                    assert!(attempt < MAX_ATTEMPTS);
                    let wait = at - now;
                    let full = outbox::backoff_ms(attempt, 1.0);
                    assert!(wait >= full / 2 && wait <= full, "attempt {attempt}: {wait}");
                    // Each wait is at least half of a doubled ceiling: never shorter than the last.
                    assert!(wait >= previous_wait, "attempt {attempt}: {wait} < {previous_wait}");
                    previous_wait = wait;
                    now = at;
                }
                NextAttempt::Dead => assert_eq!(attempt, MAX_ATTEMPTS),
                NextAttempt::NotLeased => panic!("the lease was held"),
            }
        }
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!(entry.status, OutboxStatus::Dead);
        assert_eq!(entry.attempts, MAX_ATTEMPTS);
        assert_eq!(entry.last_error.as_deref(), Some("provider_5xx"));
        assert!(outbox::claim_batch(db, "w", now + 86_400_000, 10).await.unwrap().is_empty());

        // An admin's resend gives it a fresh start.
        assert!(outbox::requeue(db, &id, now).await.unwrap());
        let again = outbox::claim_batch(db, "w", now, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
    }

    async fn an_expired_lease_passes_the_email_to_another_worker(app) {
        let db = &app.state.db;
        let id = enqueue_committed(db, welcome("lease@example.org")).await;
        let now = now_ms();
        assert_eq!(outbox::claim_batch(db, "slow", now, 10).await.unwrap().len(), 1);
        // Within the lease nobody else gets it.
        assert!(outbox::claim_batch(db, "fast", now + 1_000, 10).await.unwrap().is_empty());
        let later = now + outbox::LEASE_MS;
        let taken = outbox::claim_batch(db, "fast", later, 10).await.unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].attempts, 2);
        // The slow worker's late report changes nothing.
        assert!(!outbox::mark_sent(db, &id, "slow", "smtp", later).await.unwrap());
        assert_eq!(
            outbox::mark_failed(db, &id, "slow", "timeout", later).await.unwrap(),
            NextAttempt::NotLeased
        );
        assert!(outbox::mark_sent(db, &id, "fast", "smtp", later).await.unwrap());
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!(entry.status, OutboxStatus::Sent);
        assert_eq!(entry.provider.as_deref(), Some("smtp"));
        // A real provider's sent email no longer keeps its parameters.
        assert_eq!(entry.params, json!({}));
    }

    async fn the_log_provider_keeps_the_reset_link_readable_for_the_admin(app) {
        let db = &app.state.db;
        let link = "https://tabibu.example/reset-password?token=abc123";
        enqueue_committed(
            db,
            Email {
                template: EmailTemplate::PasswordReset,
                locale: "sw".into(),
                to: "reset@example.org".into(),
                params: json!({ "name": "Juma", "link": link, "expires_minutes": 30 }),
            },
        )
        .await;
        let report = outbox::deliver_with_log_provider(db, "log-worker", 10).await.unwrap();
        assert_eq!(report.kept, 1);
        let entry = outbox::latest_for(db, "reset@example.org", EmailTemplate::PasswordReset)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.status, OutboxStatus::Sent);
        assert_eq!(entry.provider.as_deref(), Some("log"));
        assert_eq!(entry.params["link"], link);
        let message = entry.rendered().unwrap();
        assert!(message.text.contains(link));
        assert!(message.text.starts_with("Habari Juma,"));
        assert!(!message.text.contains("Someone asked"));
        // Nothing is left to deliver.
        assert_eq!(outbox::deliver_with_log_provider(db, "log-worker", 10).await.unwrap().kept, 0);
    }

    async fn parameters_are_escaped_in_the_stored_messages_html(app) {
        let db = &app.state.db;
        enqueue_committed(
            db,
            Email {
                template: EmailTemplate::Welcome,
                locale: "en".into(),
                to: "x@example.org".into(),
                params: json!({
                    "name": "<img src=x onerror=alert(1)>",
                    "link": "https://t.example/?a=1&b=2"
                }),
            },
        )
        .await;
        let entry = outbox::latest_for(db, "x@example.org", EmailTemplate::Welcome)
            .await
            .unwrap()
            .unwrap();
        let html = entry.rendered().unwrap().html;
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("href=\"https://t.example/?a=1&amp;b=2\""));
    }

    async fn a_bad_address_or_missing_parameter_is_refused_without_revealing_it(app) {
        let db = &app.state.db;
        let mut conn = db.pool().acquire().await.unwrap();
        let err = outbox::enqueue(&mut conn, welcome("no-at-sign.example.org")).await.unwrap_err();
        assert!(matches!(err, OutboxError::InvalidAddress));
        assert!(!err.to_string().contains("no-at-sign"));
        let mut missing = welcome("ok@example.org");
        missing.template = EmailTemplate::PasswordReset;
        let err = outbox::enqueue(&mut conn, missing).await.unwrap_err();
        assert!(err.to_string().contains("expires_minutes"));
        assert!(!err.to_string().contains("ok@example.org"));
        assert!(outbox::list_recent(db, None, 10).await.unwrap().is_empty());
    }
}
