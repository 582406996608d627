-- Admission of inbound messages (DESIGN §4.4, §5).
--
-- spool.claimed_until: an attempt is processing the message until then;
-- another delivery of the same message waits for its decision instead of
-- deciding again. spool.attempts now counts attempts that began and did
-- not finish (crashes), including the current one. spool.raw holds the
-- message sealed under the master key (DESIGN §4.6); rows spooled before
-- are dropped (their senders were never answered and will retry).
DELETE FROM spool;
ALTER TABLE spool ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;

-- How each received message was answered, for its retries: the same
-- bytes to the same address again get the same answer and change
-- nothing. refused is the policy reason of a refusal, '' when taken.
-- Kept for longer than MTAs retry, then purged (the daily purge scans the
-- table: an index on decided_at would cost every message a page).
CREATE TABLE decisions (
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    digest     TEXT    NOT NULL,
    refused    TEXT    NOT NULL,
    decided_at BIGINT  NOT NULL,
    PRIMARY KEY (list_id, digest)
) WITHOUT ROWID;

-- Held messages are sealed under the master key (DESIGN §4.6). Rows held
-- before stay as they were (sealed = 0) until released or dropped.
ALTER TABLE holds ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
UPDATE holds SET size = length(raw);
