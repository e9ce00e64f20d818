//! The audit log on both databases: the chain verifies however entries arrive, and any edit,
//! deletion or re-pointed reference is found at the right sequence number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sqlx::Row;
use tabibu_app::audit::{
    self, AuditAction, AuditEvent, AuditFilter, Break, Outcome, Party, SUBJECT_USER,
};
use tabibu_app::platform::{Db, DbKind};

/// A varied event, so every column gets exercised.
fn sample_event(i: usize) -> AuditEvent {
    let action = AuditAction::ALL[i % AuditAction::ALL.len()];
    let outcome = [Outcome::Success, Outcome::Failure, Outcome::Denied][i % 3];
    let mut event = AuditEvent::new(action, outcome);
    if i.is_multiple_of(2) {
        event = event.actor(format!("user-{}", i % 5), "patient");
    }
    if i.is_multiple_of(3) {
        event = event.subject(SUBJECT_USER, format!("user-{}", i % 7));
    }
    if !i.is_multiple_of(4) {
        event = event.ip(format!("192.0.2.{}", i % 250).parse().unwrap());
    }
    if i.is_multiple_of(5) {
        event = event.detail("bad_password");
    }
    event
}

/// Stands in for someone with full rights on the database: the append-only triggers go.
async fn drop_append_only_triggers(db: &Db) {
    let statements: &[&str] = match db.kind() {
        DbKind::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
        DbKind::Postgres => &["DROP TRIGGER audit_log_no_change ON audit_log"],
    };
    for sql in statements {
        sqlx::query(sql).execute(db.pool()).await.unwrap();
    }
}

async fn record_many(db: &Db, n: usize) {
    for i in 0..n {
        audit::record(db, sample_event(i)).await.unwrap();
    }
}

on_both_databases! {
    async fn an_empty_log_verifies(app) {
        let report = audit::verify(&app.state.db).await.unwrap();
        assert!(report.is_intact());
        assert_eq!(report.entries, 0);
        assert_eq!(report.head_seq, 0);
    }

    async fn the_chain_verifies_after_many_entries(app) {
        let db = &app.state.db;
        // More than one verification batch, written through one caller's transaction.
        let mut tx = db.pool().begin().await.unwrap();
        for i in 0..1_050 {
            audit::record_in(&mut tx, sample_event(i)).await.unwrap();
        }
        tx.commit().await.unwrap();
        record_many(db, 10).await;
        let report = audit::verify(db).await.unwrap();
        assert_eq!(report.first_broken_seq, None, "{report:?}");
        assert_eq!(report.entries, 1_060);
        assert_eq!(report.head_seq, 1_060);
    }

    async fn twenty_concurrent_appends_keep_one_unbroken_chain(app) {
        let db = app.state.db.clone();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move { audit::record(&db, sample_event(i)).await.unwrap() })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
        let report = audit::verify(&db).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries, 20);
    }

    async fn the_application_cannot_update_or_delete_an_entry(app) {
        let db = &app.state.db;
        record_many(db, 3).await;
        let update = sqlx::query("UPDATE audit_log SET detail = 'x' WHERE seq = 2")
            .execute(db.pool())
            .await;
        assert!(update.is_err(), "an update must be refused");
        let delete = sqlx::query("DELETE FROM audit_log WHERE seq = 2").execute(db.pool()).await;
        assert!(delete.is_err(), "a delete must be refused");
        assert!(audit::verify(db).await.unwrap().is_intact());
    }

    async fn editing_any_column_of_an_entry_is_found_at_that_entry(app) {
        let db = &app.state.db;
        // Entry 7 (i = 6) has an actor, a subject, an ip, but no detail.
        record_many(db, 12).await;
        drop_append_only_triggers(db).await;
        let text_columns = [
            "id", "actor_ref", "actor_role", "action", "subject_type", "subject_ref", "outcome",
            "ip", "detail", "prev_hash", "hash",
        ];
        for column in text_columns {
            let original: Option<String> =
                sqlx::query(&format!("SELECT {column} FROM audit_log WHERE seq = 7"))
                    .fetch_one(db.pool())
                    .await
                    .unwrap()
                    .try_get(0)
                    .unwrap();
            // 'failure' keeps the outcome CHECK satisfied while still being a change.
            let forged = if original.as_deref() == Some("failure") { "denied" } else { "failure" };
            sqlx::query(&format!("UPDATE audit_log SET {column} = $1 WHERE seq = 7"))
                .bind(forged)
                .execute(db.pool())
                .await
                .unwrap();
            let report = audit::verify(db).await.unwrap();
            assert_eq!(report.first_broken_seq, Some(7), "editing {column}: {report:?}");
            sqlx::query(&format!("UPDATE audit_log SET {column} = $1 WHERE seq = 7"))
                .bind(original)
                .execute(db.pool())
                .await
                .unwrap();
            assert!(audit::verify(db).await.unwrap().is_intact(), "{column} restored");
        }

        sqlx::query("UPDATE audit_log SET at_ms = at_ms + 1 WHERE seq = 7")
            .execute(db.pool())
            .await
            .unwrap();
        let report = audit::verify(db).await.unwrap();
        assert_eq!(report.first_broken_seq, Some(7));
        assert_eq!(report.problem, Some(Break::HashMismatch));
        sqlx::query("UPDATE audit_log SET at_ms = at_ms - 1 WHERE seq = 7")
            .execute(db.pool())
            .await
            .unwrap();

        // Renumbering an entry looks like a gap where it was.
        sqlx::query("UPDATE audit_log SET seq = 1000 WHERE seq = 7")
            .execute(db.pool())
            .await
            .unwrap();
        let report = audit::verify(db).await.unwrap();
        assert_eq!(report.first_broken_seq, Some(7));
        assert_eq!(report.problem, Some(Break::MissingEntry));
    }

    async fn a_consistent_rewrite_of_one_entry_is_found_at_the_next(app) {
        let db = &app.state.db;
        record_many(db, 6).await;
        drop_append_only_triggers(db).await;
        // Someone edits entry 3 and recomputes its own hash: entry 4 no longer follows it.
        let row = sqlx::query(
            "SELECT id, at_ms, actor_ref, actor_role, action, subject_type, subject_ref, \
             outcome, ip, prev_hash FROM audit_log WHERE seq = 3",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        let id: String = row.try_get(0).unwrap();
        let actor_ref: Option<String> = row.try_get(2).unwrap();
        let actor_role: Option<String> = row.try_get(3).unwrap();
        let action: String = row.try_get(4).unwrap();
        let subject_type: Option<String> = row.try_get(5).unwrap();
        let subject_ref: Option<String> = row.try_get(6).unwrap();
        let outcome: String = row.try_get(7).unwrap();
        let prev_hash: String = row.try_get(9).unwrap();
        let fields = audit::chain::EntryFields {
            seq: 3,
            id: &id,
            at_ms: row.try_get(1).unwrap(),
            actor_ref: actor_ref.as_deref(),
            actor_role: actor_role.as_deref(),
            action: &action,
            subject_type: subject_type.as_deref(),
            subject_ref: subject_ref.as_deref(),
            outcome: &outcome,
            ip: Some("203.0.113.9"),
            detail: None,
            prev_hash: &prev_hash,
        };
        sqlx::query("UPDATE audit_log SET ip = $1, detail = NULL, hash = $2 WHERE seq = 3")
            .bind("203.0.113.9")
            .bind(audit::chain::entry_hash(&fields))
            .execute(db.pool())
            .await
            .unwrap();
        let report = audit::verify(db).await.unwrap();
        assert_eq!(report.first_broken_seq, Some(4));
        assert_eq!(report.problem, Some(Break::PrevHashMismatch));
    }

    async fn deleting_an_entry_is_found_where_it_was(app) {
        let db = &app.state.db;
        record_many(db, 10).await;
        drop_append_only_triggers(db).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = 4")
            .execute(db.pool())
            .await
            .unwrap();
        let report = audit::verify(db).await.unwrap();
        assert_eq!(report.first_broken_seq, Some(4));
        assert_eq!(report.problem, Some(Break::MissingEntry));
        assert_eq!(report.entries, 9);
    }

    async fn deleting_the_newest_entries_is_found_through_the_head(app) {
        let db = &app.state.db;
        record_many(db, 10).await;
        drop_append_only_triggers(db).await;
        sqlx::query("DELETE FROM audit_log WHERE seq >= 9")
            .execute(db.pool())
            .await
            .unwrap();
        let report = audit::verify(db).await.unwrap();
        assert_eq!(report.first_broken_seq, Some(9));
        assert_eq!(report.problem, Some(Break::MissingEntry));
    }

    async fn an_entry_in_a_rolled_back_transaction_leaves_no_trace(app) {
        let db = &app.state.db;
        record_many(db, 2).await;
        let mut tx = db.pool().begin().await.unwrap();
        audit::record_in(&mut tx, sample_event(5)).await.unwrap();
        tx.rollback().await.unwrap();
        record_many(db, 1).await;
        let report = audit::verify(db).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries, 3);
    }

    async fn pseudonymising_a_user_keeps_the_chain_and_hides_the_id(app) {
        let db = &app.state.db;
        let alice =
            AuditEvent::new(AuditAction::SignIn, Outcome::Success).actor("alice-id", "patient");
        audit::record(db, alice.clone()).await.unwrap();
        audit::record(
            db,
            AuditEvent::new(AuditAction::RoleChanged, Outcome::Success)
                .actor("admin-id", "admin")
                .subject(SUBJECT_USER, "alice-id"),
        )
        .await
        .unwrap();
        audit::record(db, alice).await.unwrap();

        assert!(audit::pseudonymise_actor(db, "alice-id", "deleted-user-1").await.unwrap());
        let report = audit::verify(db).await.unwrap();
        assert!(report.is_intact(), "{report:?}");

        let entries = audit::list(db, &AuditFilter::default()).await.unwrap();
        assert_eq!(entries.len(), 3);
        let gone = Party::Pseudonymised("deleted-user-1".into());
        assert_eq!(entries[0].actor, Some(gone.clone()));
        assert_eq!(entries[1].actor, Some(Party::Known("admin-id".into())));
        assert_eq!(entries[1].subject, Some(gone));
        let stored: Vec<String> = sqlx::query("SELECT COALESCE(entity_id, '') FROM audit_refs")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get(0).unwrap())
            .collect();
        assert!(!stored.iter().any(|id| id == "alice-id"), "the id is gone");
        let by_old_id = AuditFilter { actor_id: Some("alice-id".into()), ..Default::default() };
        let none = audit::list(db, &by_old_id).await.unwrap();
        assert!(none.is_empty());
    }

    async fn pointing_a_reference_at_someone_else_is_found(app) {
        let db = &app.state.db;
        record_many(db, 3).await;
        audit::record(
            db,
            AuditEvent::new(AuditAction::SignIn, Outcome::Success).actor("victim-id", "doctor"),
        )
        .await
        .unwrap();
        record_many(db, 2).await;
        sqlx::query("UPDATE audit_refs SET entity_id = 'innocent-id' WHERE entity_id = 'victim-id'")
            .execute(db.pool())
            .await
            .unwrap();
        let report = audit::verify(db).await.unwrap();
        assert_eq!(report.first_broken_seq, Some(4));
        assert_eq!(report.problem, Some(Break::BadReference));
    }

    async fn the_admin_list_filters_and_pages_newest_first(app) {
        let db = &app.state.db;
        for i in 0..30u32 {
            let (action, outcome) = if i.is_multiple_of(3) {
                (AuditAction::SignInFailed, Outcome::Failure)
            } else {
                (AuditAction::SignIn, Outcome::Success)
            };
            audit::record(
                db,
                AuditEvent::new(action, outcome)
                    .actor(format!("user-{}", i % 2), "patient")
                    .ip("198.51.100.4".parse().unwrap())
                    .detail("password"),
            )
            .await
            .unwrap();
        }
        let first = audit::list(db, &AuditFilter { limit: 10, ..Default::default() })
            .await
            .unwrap();
        let seqs: Vec<i64> = first.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (21..=30).rev().collect::<Vec<i64>>());
        let next = audit::list(
            db,
            &AuditFilter { limit: 10, before_seq: Some(21), ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(next.first().map(|e| e.seq), Some(20));

        let failed = audit::list(
            db,
            &AuditFilter {
                action: Some(AuditAction::SignInFailed),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(failed.len(), 10);
        assert!(failed.iter().all(|e| e.action == "sign_in_failed" && e.outcome == "failure"));

        let user_one = audit::list(
            db,
            &AuditFilter { actor_id: Some("user-1".into()), limit: 100, ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(user_one.len(), 15);
        assert!(user_one.iter().all(|e| e.actor == Some(Party::Known("user-1".into()))));
        assert_eq!(user_one[0].ip.as_deref(), Some("198.51.100.4"));
        assert_eq!(user_one[0].detail.as_deref(), Some("password"));
    }

    async fn an_ip_that_does_not_parse_is_not_stored(app) {
        let db = &app.state.db;
        let mut event = AuditEvent::new(AuditAction::SignIn, Outcome::Success);
        event.ip = Some("not an address <script>".into());
        audit::record(db, event).await.unwrap();
        let entries = audit::list(db, &AuditFilter::default()).await.unwrap();
        assert_eq!(entries[0].ip, None);
    }
}
