-- Certification authorities a list trusts for its members' S/MIME
-- certificates, beside the global ones of the configuration.
CREATE TABLE trust_anchors (
    list_id     INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    fingerprint TEXT    NOT NULL,
    cert        BLOB    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (list_id, fingerprint)
);
