-- The email outbox: every email is written in the transaction of the event that causes it,
-- then delivered by a worker (see app/src/notifications/outbox.rs). Times are milliseconds
-- since the epoch. last_error is a short code, never a provider's message or an address.
CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    created_at      BIGINT NOT NULL,
    template        TEXT NOT NULL,
    locale          TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    params_json     TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    provider        TEXT,
    locked_by       TEXT,
    locked_until    BIGINT
);
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
CREATE INDEX email_outbox_recipient ON email_outbox (to_address, created_at);
