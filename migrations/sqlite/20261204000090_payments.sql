-- Consultation fees paid with M-Pesa (Lipa na M-Pesa Online, "STK push").
--
-- A payment is asked for once per attempt: `pending` until M-Pesa's callback or the
-- reconciliation job settles it as `paid`, `failed`, `cancelled` (the payer declined) or
-- `expired` (no answer in time). Rows are financial records: they outlive the consultation
-- and the account (the links become NULL), and are never deleted by the app.

-- The fee a consultation was asked at (whole KES; 0 = free), fixed when it was requested so
-- that changing the configured fee never changes what an open request costs.
ALTER TABLE consultations ADD COLUMN fee_kes BIGINT NOT NULL DEFAULT 0;

CREATE TABLE payments (
    id                   TEXT PRIMARY KEY NOT NULL,
    consultation_id      TEXT REFERENCES consultations (id) ON DELETE SET NULL,
    patient_id           TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- The page's key for this attempt: the same key twice is one payment.
    request_key          TEXT NOT NULL,
    provider             TEXT NOT NULL,
    state                TEXT NOT NULL,
    amount_kes           BIGINT NOT NULL,
    -- The payer's number in M-Pesa form (2547XXXXXXXX); erased when the account is deleted.
    phone                TEXT,
    merchant_request_id  TEXT,
    checkout_request_id  TEXT UNIQUE,
    receipt              TEXT,
    -- M-Pesa's ResultCode, or Tabibu's own short code (e.g. `provider_unavailable`).
    result_code          TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    -- When it left `pending`.
    settled_at           BIGINT,
    -- The reconciliation job's lease: it looks at a pending payment again only after this.
    next_check_at        BIGINT NOT NULL,
    checks               INTEGER NOT NULL DEFAULT 0,
    UNIQUE (patient_id, request_key)
);
CREATE INDEX payments_consultation ON payments (consultation_id, created_at);
CREATE INDEX payments_pending ON payments (state, next_check_at);
CREATE INDEX payments_created ON payments (created_at);

-- Every STK callback M-Pesa sent, raw, kept for reconciliation (never logged). The first one
-- for a CheckoutRequestID decides; repeats only count. A callback that arrives before the
-- STK push's own answer was stored waits here (payment_id NULL) until it is.
CREATE TABLE mpesa_callbacks (
    checkout_request_id  TEXT PRIMARY KEY NOT NULL,
    received_at          BIGINT NOT NULL,
    body                 TEXT NOT NULL,
    result_code          BIGINT NOT NULL,
    payment_id           TEXT REFERENCES payments (id) ON DELETE SET NULL,
    -- `applied`, `unmatched`, `amount_mismatch` or `late` (the payment was already settled).
    outcome              TEXT NOT NULL,
    times_received       INTEGER NOT NULL DEFAULT 1
);
