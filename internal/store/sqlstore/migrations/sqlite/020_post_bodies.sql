-- A list post's copies are rendered when they are delivered, from one
-- stored body (DESIGN §5: the queue holds state and references, not a
-- body per member). sealed is the post signed once in each format it is
-- sent in, with the header of its copies, sealed under the master key
-- (it is plaintext: DESIGN §4.6); size is the length of sealed. The body
-- is deleted when no delivery of it is pending any more. AUTOINCREMENT:
-- the id of a deleted body is never given to another (a process may
-- still hold the old one open by its id).
CREATE TABLE post_bodies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ref        TEXT    NOT NULL,
    list_id    INTEGER NOT NULL,
    sealed     BLOB    NOT NULL,
    size       INTEGER NOT NULL,
    created_at BIGINT  NOT NULL
);

-- A delivery rendered at delivery time names its body and how its member
-- receives it (the key's fingerprint and the format: pipeline's
-- recipient choice); data is then empty. body_id is 0 for a delivery
-- whose message is data.
ALTER TABLE deliveries ADD COLUMN body_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN recipient TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_body ON deliveries (body_id, state) WHERE body_id <> 0;
