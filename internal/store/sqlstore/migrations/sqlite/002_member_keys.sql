-- Members may hold several keys of either engine (an OpenPGP key, S/MIME
-- certificates pinned or harvested from signed posts), and lists may have
-- an S/MIME identity beside their OpenPGP key.

CREATE TABLE member_keys (
    list_id     INTEGER NOT NULL,
    email       TEXT    NOT NULL,
    engine      TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    data        BLOB    NOT NULL,
    source      TEXT    NOT NULL DEFAULT 'pinned',
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (list_id, email, fingerprint),
    FOREIGN KEY (list_id, email) REFERENCES members (list_id, email) ON DELETE CASCADE
);

INSERT INTO member_keys (list_id, email, engine, fingerprint, data, source, created_at)
    SELECT list_id, email, engine, key_fingerprint, public_key, 'pinned', created_at FROM members;

ALTER TABLE members DROP COLUMN engine;
ALTER TABLE members DROP COLUMN key_fingerprint;
ALTER TABLE members DROP COLUMN public_key;

-- The list's S/MIME certificate (DER, public) and its identity (key and
-- chain) sealed under the master key; empty when the list has none.
ALTER TABLE lists ADD COLUMN smime_cert BLOB NOT NULL DEFAULT x'';
ALTER TABLE lists ADD COLUMN smime_sealed BLOB NOT NULL DEFAULT x'';
