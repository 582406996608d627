-- What the rate limits count (failed sign-ins per client and per account,
-- self-service requests), kept here so that every node sharing the
-- database and a restarted one see the same counts. key is a SHA-256 of
-- the address or account, never the text itself; rows older than their
-- limit's window are removed as new ones come.
CREATE TABLE attempts (
    scope TEXT   NOT NULL,
    key   TEXT   NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX attempts_key ON attempts (scope, key, at);
CREATE INDEX attempts_at ON attempts (scope, at);
