-- Sealpost schema, version 1. Times are Unix milliseconds (BIGINT) and
-- booleans are 0/1 so the same queries run on PostgreSQL.

CREATE TABLE lists (
    id              INTEGER PRIMARY KEY,
    address         TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL DEFAULT '',
    owner           TEXT    NOT NULL DEFAULT '',
    key_fingerprint TEXT    NOT NULL,
    public_key      BLOB    NOT NULL,
    sealed_key      BLOB    NOT NULL,
    settings        TEXT    NOT NULL DEFAULT '{}',
    created_at      BIGINT  NOT NULL
);

CREATE TABLE members (
    list_id         INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    email           TEXT    NOT NULL,
    admin           INTEGER NOT NULL DEFAULT 0,
    engine          TEXT    NOT NULL,
    key_fingerprint TEXT    NOT NULL,
    public_key      BLOB    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (list_id, email)
);

-- The inbound spool: messages as received (ciphertext), until processed.
CREATE TABLE spool (
    id            TEXT    PRIMARY KEY,
    list_id       INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL,
    envelope_from TEXT    NOT NULL,
    raw           BLOB    NOT NULL,
    attempts      INTEGER NOT NULL,
    received_at   BIGINT  NOT NULL,
    UNIQUE (list_id, digest)
);

-- The outbound queue: one row per message per envelope recipient.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    ref          TEXT    NOT NULL,
    list_id      INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    env_from     TEXT    NOT NULL,
    rcpt         TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    state        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt BIGINT  NOT NULL,
    -- claimed_until: a process is attempting the delivery until then.
    claimed_until BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt);
CREATE INDEX deliveries_ref ON deliveries (ref);

-- Signatures accepted per list (DESIGN §4.4).
CREATE TABLE replay (
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    digest     BLOB    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (list_id, digest)
);

CREATE TABLE holds (
    id         INTEGER PRIMARY KEY,
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    ref        TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    raw        BLOB    NOT NULL,
    created_at BIGINT  NOT NULL
);
