-- Patients' documents (PDF, JPEG, PNG) and the lab values read from them.
--
-- The file itself is not here: it is encrypted (AES-256-GCM, in 64 KiB chunks) under the data
-- key named by `key_id` and kept by the document store under `storage_key`. `sha256` is the
-- hex SHA-256 of the plaintext, so a download can be checked end to end. `content_type` comes
-- from the file's first bytes, never from its name. `filename` is as the patient named it,
-- cleaned for display; it is shown to them and never logged.
CREATE TABLE documents (
    id           TEXT PRIMARY KEY NOT NULL,
    patient_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL
        CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size_bytes   BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    storage_key  TEXT NOT NULL UNIQUE,
    text_status  TEXT NOT NULL
        CHECK (text_status IN ('extracted', 'no_text', 'failed', 'not_applicable')),
    created_at   BIGINT NOT NULL
);
CREATE INDEX documents_patient ON documents (patient_id, created_at);

-- One value found in a document's text. `patient_id` repeats the document's owner so a
-- patient's values are read with one indexed query. `flag` compares the value with the range
-- printed in the same document (NULL when it printed none).
CREATE TABLE lab_results (
    id          TEXT PRIMARY KEY NOT NULL,
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    patient_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    test_name   TEXT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    unit        TEXT NOT NULL,
    ref_low     DOUBLE PRECISION,
    ref_high    DOUBLE PRECISION,
    flag        TEXT CHECK (flag IN ('high', 'low', 'normal')),
    position    INTEGER NOT NULL
);
CREATE INDEX lab_results_patient ON lab_results (patient_id);
CREATE INDEX lab_results_document ON lab_results (document_id, position);
