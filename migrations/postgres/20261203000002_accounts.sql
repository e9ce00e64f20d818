-- Accounts: users, their sessions, one-time links, MFA recovery codes.
-- Secrets are never stored as given: passwords as Argon2id PHC strings, session and link
-- tokens as SHA-256 hex of the token.
CREATE TABLE users (
    id              TEXT PRIMARY KEY NOT NULL,
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    date_of_birth   TEXT,
    role            TEXT NOT NULL CHECK (role IN ('patient', 'doctor', 'admin')),
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash   TEXT,
    mfa_secret      TEXT,
    mfa_enabled     INTEGER NOT NULL DEFAULT 0,
    mfa_last_step   BIGINT,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    locale          TEXT NOT NULL DEFAULT 'en',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    mfa_pending  INTEGER NOT NULL DEFAULT 0,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE one_time_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('password_reset', 'set_password')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX one_time_links_user ON one_time_links (user_id);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
