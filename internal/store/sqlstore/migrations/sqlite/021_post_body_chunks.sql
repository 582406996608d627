-- A post body is stored in chunks of at most 256 KiB, in order of seq,
-- not as one value: SQLite copies a value it writes or reads into memory
-- of its own, outside Go's heap, and a 30 MB body cost 67 MB of the
-- process's peak memory that way. post_bodies.sealed is then empty (a
-- body stored before this migration keeps its bytes there); size is the
-- length of the whole sealed body. Deleting a body deletes its chunks.
CREATE TABLE post_body_chunks (
    body_id INTEGER NOT NULL REFERENCES post_bodies (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (body_id, seq)
);
