-- Consultations: a patient asks for a doctor; doctors see open ones in their queue, one claims
-- it, they message each other, the doctor closes it with an outcome. Times are milliseconds
-- since the epoch.
CREATE TABLE consultations (
    id               TEXT PRIMARY KEY NOT NULL,
    patient_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id  TEXT REFERENCES conversations (id) ON DELETE SET NULL,
    -- The browser's key for the request: a double-submitted form makes one consultation.
    request_key      TEXT NOT NULL,
    status           TEXT NOT NULL
                     CHECK (status IN ('awaiting_payment', 'waiting', 'claimed', 'replied', 'closed',
                                       'cancelled')),
    triage_level     TEXT NOT NULL
                     CHECK (triage_level IN ('emergency', 'urgent', 'routine', 'self_care')),
    red_flag         INTEGER NOT NULL DEFAULT 0 CHECK (red_flag IN (0, 1)),
    chief_complaint  TEXT NOT NULL,
    -- What the patient wrote to the doctor when asking.
    note             TEXT NOT NULL,
    -- tabibu_ai::TriageResult and tabibu_ai::PreConsultSummary as JSON.
    triage_json      TEXT NOT NULL,
    summary_json     TEXT NOT NULL,
    doctor_id        TEXT REFERENCES users (id) ON DELETE SET NULL,
    outcome          TEXT,
    final_level      TEXT CHECK (final_level IN ('emergency', 'urgent', 'routine', 'self_care')),
    advice           TEXT,
    created_at       BIGINT NOT NULL,
    claimed_at       BIGINT,
    closed_at        BIGINT,
    updated_at       BIGINT NOT NULL,
    UNIQUE (patient_id, request_key)
);
CREATE INDEX consultations_open ON consultations (status, created_at);
CREATE INDEX consultations_patient ON consultations (patient_id, created_at);

-- The thread between the patient and the doctor. `seq` orders it; `client_key` makes a
-- message sent twice (a retry after a dropped connection) one message.
CREATE TABLE consultation_messages (
    id               TEXT PRIMARY KEY NOT NULL,
    consultation_id  TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    author_id        TEXT REFERENCES users (id) ON DELETE SET NULL,
    author_role      TEXT NOT NULL CHECK (author_role IN ('patient', 'doctor')),
    body             TEXT NOT NULL,
    client_key       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    -- When the other side first saw it.
    read_at          BIGINT,
    UNIQUE (consultation_id, seq),
    UNIQUE (consultation_id, client_key)
);

-- Live events for the browsers' event streams. Each says only what changed (a kind and a
-- consultation id), never content; the browser fetches what it may see. The ids order them,
-- and a reconnecting browser resumes after the last id it saw. Who receives one: the patient
-- `patient_id`, the doctor `doctor_id`, and every doctor when `to_doctors` is 1.
CREATE TABLE live_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    consultation_id  TEXT,
    patient_id       TEXT REFERENCES users (id) ON DELETE CASCADE,
    doctor_id        TEXT REFERENCES users (id) ON DELETE SET NULL,
    to_doctors       INTEGER NOT NULL DEFAULT 0 CHECK (to_doctors IN (0, 1)),
    created_at       BIGINT NOT NULL
);
CREATE INDEX live_events_created ON live_events (created_at);
