-- When a member (or, with email '', the list itself) was last warned
-- that a key expires soon, so the daily check does not repeat itself.
CREATE TABLE key_warnings (
    list_id     INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    email       TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    warned_at   BIGINT  NOT NULL,
    PRIMARY KEY (list_id, email, fingerprint)
);
