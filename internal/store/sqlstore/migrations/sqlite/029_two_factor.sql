-- Two-factor sign-in (TOTP, RFC 6238): an account's secret, sealed with
-- the master key ('' when it has none), and the last time step a code was
-- accepted for (a code counts once); its recovery codes, only their
-- SHA-256 kept; and a session's stage: '' signed in, 'code' (the
-- password was right, a code is due) or 'enrol' (two-factor sign-in is
-- required and not set up yet).
ALTER TABLE accounts ADD COLUMN totp_secret BLOB NOT NULL DEFAULT x'';
ALTER TABLE accounts ADD COLUMN totp_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT '';
CREATE TABLE recovery_codes (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL,
    used_at    BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, hash)
);
