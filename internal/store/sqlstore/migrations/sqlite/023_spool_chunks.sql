-- A spooled message is stored in chunks of at most 256 KiB, as post
-- bodies are (migration 021, which says why); spool.raw is then empty.
-- Deleting the spooled message (its outcome committed, or purged)
-- deletes its chunks.
CREATE TABLE spool_chunks (
    spool_id TEXT    NOT NULL REFERENCES spool (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    data     BLOB    NOT NULL,
    PRIMARY KEY (spool_id, seq)
);
