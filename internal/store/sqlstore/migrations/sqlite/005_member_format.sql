-- A member's preferred format for their copies: 'pgpmime', 'smime', or
-- '' to follow the list's preference.
ALTER TABLE members ADD COLUMN format TEXT NOT NULL DEFAULT '';
