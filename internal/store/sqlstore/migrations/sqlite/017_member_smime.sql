-- How a member's S/MIME copies are encrypted, when the list owner says
-- so (`member set ... smime_cipher=`, `smime_keytransport=`): a content
-- encryption ('aes256-cbc', 'aes256-gcm', ...) and an RSA key transport
-- ('rsa-pkcs1v15', 'rsa-oaep-sha256', ...); '' follows what the member's
-- client announced, then the list's defaults. They are kept apart from
-- member_keys.capabilities, which the member's next signed post rewrites.
ALTER TABLE members ADD COLUMN smime_cipher TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN smime_keytransport TEXT NOT NULL DEFAULT '';
