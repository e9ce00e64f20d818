-- The documents a patient shares with the doctor of one consultation. Only these, and the
-- lab values found in them, are shown in the doctor's case view.
CREATE TABLE consultation_documents (
    consultation_id  TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    document_id      TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    PRIMARY KEY (consultation_id, document_id)
);
CREATE INDEX consultation_documents_document ON consultation_documents (document_id);
