//! AI consent and usage storage on both databases: consent is given, replaced, withdrawn and
//! kept as history; usage is stored without content and summed for metrics; deleting an
//! account removes its consents and unlinks its usage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sqlx::Row;
use tabibu_ai::assistant::{CallOutcome, CallUsage};
use tabibu_app::platform::Db;
use tabibu_app::platform::db::now_ms;
use tabibu_app::triage::store;

async fn user_id(db: &Db, email: &str) -> String {
    sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

fn usage(provider: &str, outcome: CallOutcome, tokens: Option<(u32, u32)>, ms: u64) -> CallUsage {
    CallUsage {
        provider: provider.into(),
        model: format!("{provider}-model"),
        prompt_tokens: tokens.map(|t| t.0),
        completion_tokens: tokens.map(|t| t.1),
        latency_ms: ms,
        outcome,
    }
}

on_both_databases! {
    async fn a_patient_has_no_consent_until_they_give_it_and_none_after_withdrawing(app) {
        app.sign_up("consent@example.org", "correct horse battery").await;
        let db = &app.state.db;
        let id = user_id(db, "consent@example.org").await;

        assert!(!store::has_consent(db, &id, "gemini").await.unwrap());
        store::record_consent(db, &id, "gemini", "v1").await.unwrap();
        assert!(store::has_consent(db, &id, "gemini").await.unwrap());
        // Consent is per provider.
        assert!(!store::has_consent(db, &id, "openai").await.unwrap());

        let consent = store::current_consent(db, &id, "gemini").await.unwrap().unwrap();
        assert_eq!(consent.consent_version, "v1");
        assert!(consent.given_at <= now_ms());

        assert!(store::withdraw_consent(db, &id, "gemini").await.unwrap());
        assert!(!store::has_consent(db, &id, "gemini").await.unwrap());
        assert!(!store::withdraw_consent(db, &id, "gemini").await.unwrap());
    }

    async fn giving_the_same_consent_twice_keeps_one_and_a_new_version_replaces_it(app) {
        app.sign_up("versions@example.org", "correct horse battery").await;
        let db = &app.state.db;
        let id = user_id(db, "versions@example.org").await;

        store::record_consent(db, &id, "openai", "v1").await.unwrap();
        store::record_consent(db, &id, "openai", "v1").await.unwrap();
        store::record_consent(db, &id, "openai", "v2").await.unwrap();
        let consent = store::current_consent(db, &id, "openai").await.unwrap().unwrap();
        assert_eq!(consent.consent_version, "v2");

        let rows = sqlx::query(
            "SELECT consent_version, withdrawn_at FROM ai_consents WHERE user_id = $1 \
             ORDER BY given_at, consent_version",
        )
        .bind(&id)
        .fetch_all(db.pool())
        .await
        .unwrap();
        let history: Vec<(String, bool)> = rows
            .iter()
            .map(|r| {
                let withdrawn: Option<i64> = r.try_get(1).unwrap();
                (r.try_get(0).unwrap(), withdrawn.is_some())
            })
            .collect();
        assert_eq!(history, vec![("v1".to_owned(), true), ("v2".to_owned(), false)]);
    }

    async fn usage_is_summed_by_provider_model_and_outcome(app) {
        app.sign_up("usage@example.org", "correct horse battery").await;
        let db = &app.state.db;
        let id = user_id(db, "usage@example.org").await;
        let since = now_ms() - 1;

        store::record_usage(db, &usage("gemini", CallOutcome::Ok, Some((300, 40)), 800), Some(&id))
            .await
            .unwrap();
        store::record_usage(db, &usage("gemini", CallOutcome::Ok, Some((200, 20)), 1200), Some(&id))
            .await
            .unwrap();
        store::record_usage(db, &usage("gemini", CallOutcome::Timeout, None, 20000), None)
            .await
            .unwrap();

        let summary = store::usage_summary(db, since).await.unwrap();
        assert_eq!(summary.len(), 2);
        let ok = &summary[0];
        assert_eq!(ok.provider, "gemini");
        assert_eq!(ok.model, "gemini-model");
        assert_eq!(ok.outcome, Some(CallOutcome::Ok));
        assert_eq!(ok.calls, 2);
        assert_eq!(ok.prompt_tokens, 500);
        assert_eq!(ok.completion_tokens, 60);
        assert_eq!(ok.avg_latency_ms, 1000);
        assert_eq!(ok.max_latency_ms, 1200);
        let timeout = &summary[1];
        assert_eq!(timeout.outcome, Some(CallOutcome::Timeout));
        assert_eq!(timeout.calls, 1);
        assert_eq!(timeout.prompt_tokens, 0);

        assert!(store::usage_summary(db, now_ms() + 60_000).await.unwrap().is_empty());
    }

    async fn deleting_an_account_removes_its_consents_and_unlinks_its_usage(app) {
        app.sign_up("erase@example.org", "correct horse battery").await;
        let db = &app.state.db;
        let id = user_id(db, "erase@example.org").await;
        store::record_consent(db, &id, "gemini", "v1").await.unwrap();
        store::record_usage(db, &usage("gemini", CallOutcome::Ok, Some((1, 1)), 5), Some(&id))
            .await
            .unwrap();

        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(&id)
            .execute(db.pool())
            .await
            .unwrap();

        let consents: i64 = sqlx::query("SELECT COUNT(*) FROM ai_consents WHERE user_id = $1")
            .bind(&id)
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(consents, 0);
        let linked: i64 = sqlx::query("SELECT COUNT(*) FROM ai_usage WHERE user_id IS NOT NULL")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(linked, 0);
        let kept: i64 = sqlx::query("SELECT COUNT(*) FROM ai_usage")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(kept, 1);
    }
}
