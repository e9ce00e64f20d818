-- The AI assistant: a patient's consent to send their (redacted) words to an external model,
-- and one row per model call for metrics and cost. Neither table holds any content: no
-- message, reply, prompt or summary is ever stored here. Times are milliseconds since the
-- epoch.

-- One row per consent given; withdrawing sets withdrawn_at, so the history stays.
CREATE TABLE ai_consents (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    given_at        BIGINT NOT NULL,
    withdrawn_at    BIGINT
);
CREATE INDEX ai_consents_user ON ai_consents (user_id, provider, withdrawn_at);

-- user_id is cleared when the account is deleted; the counts stay for the totals.
CREATE TABLE ai_usage (
    id                TEXT PRIMARY KEY NOT NULL,
    at_ms             BIGINT NOT NULL,
    user_id           TEXT REFERENCES users(id) ON DELETE SET NULL,
    provider          TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    latency_ms        BIGINT NOT NULL,
    outcome           TEXT NOT NULL
);
CREATE INDEX ai_usage_at ON ai_usage (at_ms);
