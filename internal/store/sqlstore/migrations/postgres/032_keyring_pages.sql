-- The keys page and API list the keyring by status: weak is 1 for a key
-- under keyring.WeakBits (set when a key is written or reindexed).
ALTER TABLE keys ADD COLUMN weak INTEGER NOT NULL DEFAULT 0;

-- Certification authorities the installation trusts for every list,
-- added by an admin on the keys page or through the API, beside the
-- [smime] trust_anchors of the configuration and each list's own.
CREATE TABLE installation_trust_anchors (
    fingerprint TEXT   PRIMARY KEY,
    cert        BYTEA   NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Certificate revocation lists an admin added: one per issuer (the
-- SHA-256 of its DER Name), the newest replacing the older.
CREATE TABLE crls (
    issuer_hash TEXT   PRIMARY KEY,
    issuer      TEXT   NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    data        BYTEA   NOT NULL,
    created_at  BIGINT NOT NULL
);
