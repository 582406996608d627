-- What the nodes sharing a database need to know of each other: the jobs
-- that run once per period across all of them (who ran each last, and
-- when), and the nodes themselves (each serve writes its row every few
-- seconds; 'sealpost status' lists those seen lately).
CREATE TABLE jobs (
    name     TEXT   PRIMARY KEY,
    last_run BIGINT NOT NULL,
    node     TEXT   NOT NULL
);
CREATE TABLE nodes (
    id         TEXT   PRIMARY KEY,
    hostname   TEXT   NOT NULL,
    pid        BIGINT NOT NULL,
    version    TEXT   NOT NULL,
    smtp       TEXT   NOT NULL DEFAULT '',
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
CREATE INDEX nodes_seen ON nodes (seen_at);
