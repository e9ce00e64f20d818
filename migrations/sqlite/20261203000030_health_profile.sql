-- The patient's health profile: what the symptom assistant and the doctors need to know about
-- them beyond their account. Date of birth stays on `users` (asked at sign-up). Lists are JSON
-- arrays of short free-text entries, as the patient wrote them.
CREATE TABLE health_profiles (
    user_id     TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sex         TEXT CHECK (sex IN ('female', 'male', 'other')),
    pregnant    INTEGER CHECK (pregnant IN (0, 1)),
    allergies   TEXT NOT NULL DEFAULT '[]',
    medications TEXT NOT NULL DEFAULT '[]',
    conditions  TEXT NOT NULL DEFAULT '[]',
    phone       TEXT,
    updated_at  BIGINT NOT NULL
);
