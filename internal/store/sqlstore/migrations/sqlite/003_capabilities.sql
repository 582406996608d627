-- The S/MIME content-encryption algorithms a member's client announced
-- in the SMIMECapabilities of a signed post (RFC 8551 §2.5.2), as a
-- comma-separated list of names ("aes256-gcm,aes128-cbc"); empty when
-- unknown.
ALTER TABLE member_keys ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';
