-- One keyring for every OpenPGP key and X.509 certificate Sealpost knows,
-- shared by all lists: members reference keys by fingerprint. key_index
-- finds a key by key ID, subkey, address, issuer and serial or subject
-- key identifier in logarithmic time. The index is computed by the
-- program (index_version says by which indexer): keys moved here from
-- member_keys are indexed when the program first opens the database.

CREATE TABLE keys (
    fingerprint   TEXT    PRIMARY KEY,
    engine        TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    index_version INTEGER NOT NULL DEFAULT 0,
    key_created   BIGINT  NOT NULL DEFAULT 0,
    expires_at    BIGINT  NOT NULL DEFAULT 0,
    revoked       INTEGER NOT NULL DEFAULT 0,
    added_at      BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX keys_expires ON keys (expires_at) WHERE expires_at <> 0;
CREATE INDEX keys_index_version ON keys (index_version);

CREATE TABLE key_index (
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    fingerprint TEXT NOT NULL REFERENCES keys(fingerprint) ON DELETE CASCADE,
    PRIMARY KEY (kind, value, fingerprint)
) WITHOUT ROWID;
CREATE INDEX key_index_fingerprint ON key_index (fingerprint);

INSERT INTO keys (fingerprint, engine, data, added_at, updated_at)
    SELECT fingerprint, engine, data, MIN(created_at), MIN(created_at) FROM member_keys GROUP BY fingerprint;

CREATE TABLE member_keys_new (
    list_id      INTEGER NOT NULL,
    email        TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL REFERENCES keys(fingerprint),
    source       TEXT    NOT NULL DEFAULT 'pinned',
    capabilities TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (list_id, email, fingerprint),
    FOREIGN KEY (list_id, email) REFERENCES members (list_id, email) ON DELETE CASCADE
);
INSERT INTO member_keys_new (list_id, email, fingerprint, source, capabilities, created_at)
    SELECT list_id, email, fingerprint, source, capabilities, created_at FROM member_keys;
DROP TABLE member_keys;
ALTER TABLE member_keys_new RENAME TO member_keys;
CREATE INDEX member_keys_fingerprint ON member_keys (fingerprint);

-- A list's OpenPGP keys that a new key replaced (rotation, or an imported
-- key): they still decrypt posts until decrypt_until, so that members who
-- encrypt to the old key during the grace period are not refused.
CREATE TABLE retired_list_keys (
    list_id       INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    fingerprint   TEXT    NOT NULL,
    public_key    BLOB    NOT NULL,
    sealed_key    BLOB    NOT NULL,
    retired_at    BIGINT  NOT NULL,
    decrypt_until BIGINT  NOT NULL,
    PRIMARY KEY (list_id, fingerprint)
);
