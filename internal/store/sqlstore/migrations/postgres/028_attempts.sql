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

-- Also (PostgreSQL only): leave half of each page of deliveries free, so
-- that claiming a copy (claimed_until, claimed_by: in no index) updates
-- its row in place (a HOT update) instead of writing a new version into
-- every index. It halved the database's time per post in BenchmarkEngines.
ALTER TABLE deliveries SET (fillfactor = 50);
