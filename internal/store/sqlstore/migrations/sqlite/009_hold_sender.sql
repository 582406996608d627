-- The envelope sender of a held message, so that the owner's rejection
-- can be told to whoever sent it; '' when unknown or null.
ALTER TABLE holds ADD COLUMN env_from TEXT NOT NULL DEFAULT '';
