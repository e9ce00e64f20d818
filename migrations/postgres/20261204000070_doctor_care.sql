-- What doctors add to a consultation: private clinical notes the patient never sees, a triage
-- level overridden with a reason, and "break-glass" access to a case that is not theirs, with
-- a mandatory reason that admins review.
CREATE TABLE consultation_notes (
    id               TEXT PRIMARY KEY NOT NULL,
    consultation_id  TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    doctor_id        TEXT REFERENCES users (id) ON DELETE SET NULL,
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX consultation_notes_case ON consultation_notes (consultation_id, created_at);

-- The level the engine gave stays in triage_json; an override replaces triage_level (the
-- queue's order) and says why.
ALTER TABLE consultations ADD COLUMN override_reason TEXT;
ALTER TABLE consultations ADD COLUMN overridden_by TEXT REFERENCES users (id) ON DELETE SET NULL;

-- A doctor opened a case that is not theirs, for a reason, until expires_at.
CREATE TABLE break_glass_grants (
    id               TEXT PRIMARY KEY NOT NULL,
    consultation_id  TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    doctor_id        TEXT REFERENCES users (id) ON DELETE SET NULL,
    reason           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX break_glass_doctor ON break_glass_grants (doctor_id, consultation_id, expires_at);
