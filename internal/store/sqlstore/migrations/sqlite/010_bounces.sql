-- Bounces of the copies sent to members (a DSN, or any bounce to a
-- member's VERP address), and members whose delivery is disabled after
-- too many of them.
CREATE TABLE bounces (
    id         INTEGER PRIMARY KEY,
    list_id    INTEGER NOT NULL,
    email      TEXT    NOT NULL,
    status     TEXT    NOT NULL DEFAULT '',
    at         BIGINT  NOT NULL,
    FOREIGN KEY (list_id, email) REFERENCES members (list_id, email) ON DELETE CASCADE
);
CREATE INDEX bounces_member ON bounces (list_id, email, at);

ALTER TABLE members ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';
