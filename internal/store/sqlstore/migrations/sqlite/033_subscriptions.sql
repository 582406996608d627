-- Requests to join or leave a list (subscribe = confirm or moderate):
-- each waits for the answer to the challenge sent to its address and,
-- for a moderated list, for an owner. The offered key stays here, out of
-- the keyring, until the person is a member.
CREATE TABLE subscriptions (
    list_id     INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    email       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    key_data    BLOB   NOT NULL,
    engine      TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    token_hash  BLOB   NOT NULL,
    via         TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    answered_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (list_id, email, action)
);
CREATE UNIQUE INDEX subscriptions_token ON subscriptions (token_hash);
