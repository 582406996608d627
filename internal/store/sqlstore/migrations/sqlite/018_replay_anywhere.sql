-- Replay marks of signed content bound to no list (DESIGN §4.4): such a
-- post or request, once taken by one list, is a replay on every list.
-- Marks of content bound to a list stay per list (replay): another list
-- refuses that content because it does not name it. The marks taken so
-- far are copied in: whether their content was bound is not known, and a
-- signature seen anywhere is safest refused everywhere.
CREATE TABLE replay_anywhere (
    digest     BLOB   NOT NULL PRIMARY KEY,
    list_id    INTEGER NOT NULL,
    created_at BIGINT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO replay_anywhere (digest, list_id, created_at)
    SELECT digest, list_id, created_at FROM replay;
