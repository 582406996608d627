-- See migrations/sqlite/025_master_key_check.sql.
CREATE TABLE master_key_check (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BYTEA   NOT NULL
);
