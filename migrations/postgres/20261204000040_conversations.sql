-- The symptom assistant's conversations. A conversation belongs to one patient; its messages
-- are kept in order (`seq`) so it can be resumed on any device. The latest triage result and
-- pre-consultation summary are kept on the conversation as JSON (`tabibu_ai::TriageResult`,
-- `tabibu_ai::PreConsultSummary`): a consultation requested from it copies them.
CREATE TABLE conversations (
    id            TEXT PRIMARY KEY NOT NULL,
    patient_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The latest level (emergency | urgent | routine | self_care); NULL before the first reply.
    triage_level  TEXT CHECK (triage_level IN ('emergency', 'urgent', 'routine', 'self_care')),
    triage_json   TEXT,
    summary_json  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX conversations_patient ON conversations (patient_id, updated_at);

CREATE TABLE conversation_messages (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    author          TEXT NOT NULL CHECK (author IN ('patient', 'assistant')),
    body            TEXT NOT NULL,
    -- For assistant messages: the level the reply was given at.
    triage_level    TEXT CHECK (triage_level IN ('emergency', 'urgent', 'routine', 'self_care')),
    -- 0 when a streamed reply was cut off: the partial text is kept and the patient may retry.
    complete        INTEGER NOT NULL DEFAULT 1 CHECK (complete IN (0, 1)),
    created_at      BIGINT NOT NULL,
    UNIQUE (conversation_id, seq)
);
