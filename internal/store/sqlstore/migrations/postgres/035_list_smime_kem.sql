-- A list's ML-KEM certificate (RFC 9935) beside its RSA/EC S/MIME
-- identity (issue 21): members' clients that know KEMRecipientInfo
-- (RFC 9629, RFC 9936) encrypt posts to it. smime_kem_cert is the
-- certificate's DER, smime_kem_sealed its private key (PKCS#8, seed
-- form) sealed like smime_sealed; both empty when the list has none.
ALTER TABLE lists ADD COLUMN smime_kem_cert BYTEA NOT NULL DEFAULT '';
ALTER TABLE lists ADD COLUMN smime_kem_sealed BYTEA NOT NULL DEFAULT '';
