-- lists.roster_version changes whenever what the list's roster is made
-- of changes: its members, their keys on file, a key's data in the
-- keyring. A process may keep a list's members between posts while the
-- version it read with the list is the same (pipeline's roster cache);
-- every writer, any process, any code path, moves it here, in the
-- database. The versions come from one counter for all lists, so that a
-- list id used again after a deletion never meets an old version.
CREATE TABLE roster_counter (n INTEGER NOT NULL);
INSERT INTO roster_counter (n) VALUES (0);
ALTER TABLE lists ADD COLUMN roster_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER roster_list_insert AFTER INSERT ON lists BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter) WHERE id = NEW.id;
END;

CREATE TRIGGER roster_member_insert AFTER INSERT ON members BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter) WHERE id = NEW.list_id;
END;
CREATE TRIGGER roster_member_update AFTER UPDATE ON members BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter) WHERE id IN (OLD.list_id, NEW.list_id);
END;
CREATE TRIGGER roster_member_delete AFTER DELETE ON members BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter) WHERE id = OLD.list_id;
END;

CREATE TRIGGER roster_member_key_insert AFTER INSERT ON member_keys BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter) WHERE id = NEW.list_id;
END;
CREATE TRIGGER roster_member_key_update AFTER UPDATE ON member_keys BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter) WHERE id IN (OLD.list_id, NEW.list_id);
END;
CREATE TRIGGER roster_member_key_delete AFTER DELETE ON member_keys BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter) WHERE id = OLD.list_id;
END;

CREATE TRIGGER roster_key_update AFTER UPDATE ON keys BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter)
        WHERE id IN (SELECT list_id FROM member_keys WHERE fingerprint IN (OLD.fingerprint, NEW.fingerprint));
END;
CREATE TRIGGER roster_key_delete AFTER DELETE ON keys BEGIN
    UPDATE roster_counter SET n = n + 1;
    UPDATE lists SET roster_version = (SELECT n FROM roster_counter)
        WHERE id IN (SELECT list_id FROM member_keys WHERE fingerprint = OLD.fingerprint);
END;
