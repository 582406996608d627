-- A value sealed with the master key when the database is first opened,
-- so that a node whose master key is another gets a clear error at start
-- (every node of a cluster needs the same key) instead of failing on
-- each list's key later.
CREATE TABLE master_key_check (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB    NOT NULL
);
