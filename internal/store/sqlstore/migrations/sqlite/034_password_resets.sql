-- Password resets by mail (issue 20): one row per link sent. token_hash
-- is the hex SHA-256 of the link's secret (the secret itself is only in
-- the mail); stamp is the hex SHA-256 of the account's password hash when
-- the link was made, so that a link is void once the password changes by
-- any route. A link is used once (its row is deleted, with the account's
-- other links), and expires at expires_at; expired rows are removed as
-- new ones come.
CREATE TABLE password_resets (
    token_hash TEXT   PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    stamp      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX password_resets_account ON password_resets (account_id);
CREATE INDEX password_resets_expiry ON password_resets (expires_at);
