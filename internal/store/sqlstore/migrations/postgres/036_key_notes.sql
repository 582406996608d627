-- What Sealpost left unused of a key when it was taken into the keyring
-- and why (issue 21: a GnuPG 2.5 "Kyber" subkey in LibrePGP's format is
-- dropped, and the stored key no longer shows it), one note per line;
-- empty for most keys. key show prints them.
ALTER TABLE keys ADD COLUMN notes TEXT NOT NULL DEFAULT '';
