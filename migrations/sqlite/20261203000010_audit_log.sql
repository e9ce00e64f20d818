-- The audit log: append-only and hash-chained (see app/src/audit/mod.rs).
-- Entries name people only through audit_refs, so deleting an account can pseudonymise the
-- log without touching a hashed entry. Times are milliseconds since the epoch.

-- One opaque reference per (entity_type, entity_id): ref = SHA-256 over type, id and salt.
-- Pseudonymisation sets entity_id and salt to NULL and fills pseudonym.
CREATE TABLE audit_refs (
    ref              TEXT PRIMARY KEY NOT NULL,
    entity_type      TEXT NOT NULL,
    entity_id        TEXT,
    salt             TEXT,
    pseudonym        TEXT,
    created_at       BIGINT NOT NULL,
    pseudonymised_at BIGINT,
    UNIQUE (entity_type, entity_id)
);

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY NOT NULL,
    id           TEXT NOT NULL UNIQUE,
    at_ms        BIGINT NOT NULL,
    actor_ref    TEXT,
    actor_role   TEXT,
    action       TEXT NOT NULL,
    subject_type TEXT,
    subject_ref  TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    ip           TEXT,
    detail       TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor_ref, seq);
CREATE INDEX audit_log_subject ON audit_log (subject_ref, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

-- The last entry's seq and hash; its row lock serialises appenders.
CREATE TABLE audit_chain_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- History is not edited by the application, not even by mistake.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
