-- A key a member asked for by mail (to LIST-request, signed with their
-- current key). It becomes the member's key only when they answer the
-- challenge Sealpost sent encrypted to it, signed by it (proof of
-- possession). The key itself is in the keyring; token_hash is the
-- SHA-256 of the challenge's code.
CREATE TABLE pending_keys (
    list_id     INTEGER NOT NULL,
    email       TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL REFERENCES keys(fingerprint),
    token_hash  BLOB    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    PRIMARY KEY (list_id, email),
    FOREIGN KEY (list_id, email) REFERENCES members (list_id, email) ON DELETE CASCADE
);
