-- Accounts of the web admin UI and the REST API (DESIGN §2, interface
-- layer). An admin may do everything; an owner only manages the lists
-- whose owner address is the account's email.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    last_login    BIGINT  NOT NULL DEFAULT 0
);

-- API tokens: only the SHA-256 of the secret is kept. list_id limits a
-- token to one list (0: the account's lists).
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    list_id    INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL,
    last_used  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

-- Web sessions: the SHA-256 of the cookie's secret, and the session's
-- CSRF token.
CREATE TABLE sessions (
    hash       TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Every change anyone made, through the command line, the API or the web
-- UI: who, what, when. list is the address as it was (it outlives the
-- list).
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    via     TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    list    TEXT   NOT NULL DEFAULT '',
    target  TEXT   NOT NULL DEFAULT '',
    detail  TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_list ON audit (list, id);
