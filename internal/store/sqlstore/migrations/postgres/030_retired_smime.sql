-- A list's S/MIME identity that a new one replaced is kept, like a
-- replaced OpenPGP key, to decrypt posts still encrypted to its
-- certificate until its grace period ends: engine says which it is
-- (public_key holds an S/MIME certificate's DER).
ALTER TABLE retired_list_keys ADD COLUMN engine TEXT NOT NULL DEFAULT 'openpgp';
