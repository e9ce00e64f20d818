-- Emails that stand for a burst of events (a doctor's several replies in a row) carry a key
-- such as `doctor_replied:<consultation id>`; while one with the key is still unsent, no
-- second one is queued (see outbox::enqueue_coalesced). NULL for every other email.
ALTER TABLE email_outbox ADD COLUMN coalesce_key TEXT;
CREATE INDEX email_outbox_coalesce ON email_outbox (coalesce_key, status);
