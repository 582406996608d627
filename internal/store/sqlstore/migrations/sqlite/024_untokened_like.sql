-- The index of copies sent from an untokened bounce address, with LIKE
-- instead of GLOB: the same pattern for SQLite and PostgreSQL, which has
-- no GLOB (the query's WHERE must be the index's for SQLite to use it).
-- VERP addresses are made lowercase, so LIKE's case folding changes
-- nothing.
DROP INDEX deliveries_untokened;
CREATE INDEX deliveries_untokened ON deliveries (env_from, created_at)
    WHERE env_from LIKE '%-bounce+%=%' AND env_from NOT LIKE '%-bounce+%=%=%';
