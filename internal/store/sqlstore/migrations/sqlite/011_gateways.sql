-- Gateways (DESIGN §1): an address in front of a helpdesk. A gateway is a
-- row of lists with mode 'gateway' and its options in gateway (JSON); the
-- keys of the people who write to it are kept as its members' keys.
ALTER TABLE lists ADD COLUMN mode TEXT NOT NULL DEFAULT 'list';
ALTER TABLE lists ADD COLUMN gateway TEXT NOT NULL DEFAULT '{}';

-- route: where a delivery goes when not through the default transport (a
-- gateway's helpdesk). sealed: data is sealed under the master key because
-- it is plaintext (DESIGN §4.6: decrypted mail for the helpdesk, a reply
-- in clear), and the queue opens it only to hand it over.
ALTER TABLE deliveries ADD COLUMN route TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;

-- A gateway's conversations: every message-id seen in or sent out, by
-- the conversation (thread) it belongs to. A reply that refers to a
-- message of an encrypted conversation must be encrypted.
CREATE TABLE threads (
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    thread     TEXT    NOT NULL,
    encrypted  INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (list_id, thread)
) WITHOUT ROWID;

CREATE TABLE thread_messages (
    list_id    INTEGER NOT NULL,
    message_id TEXT    NOT NULL,
    thread     TEXT    NOT NULL,
    PRIMARY KEY (list_id, message_id),
    FOREIGN KEY (list_id, thread) REFERENCES threads (list_id, thread) ON DELETE CASCADE
) WITHOUT ROWID;

-- The encrypted archive of a gateway's conversations: each message as it
-- was handed to the helpdesk or sent out, sealed under the master key.
CREATE TABLE archive (
    id         INTEGER PRIMARY KEY,
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    thread     TEXT    NOT NULL,
    direction  TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    ref        TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX archive_thread ON archive (list_id, thread, id);
