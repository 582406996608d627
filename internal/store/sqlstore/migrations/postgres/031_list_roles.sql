-- Several people per list: besides the list's owner address (lists.owner),
-- further owners (they manage everything of the list) and moderators
-- (they decide on held messages only), by the address of their account.
CREATE TABLE list_roles (
    list_id  BIGINT NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    email    TEXT   NOT NULL,
    role     TEXT   NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (list_id, email)
);
CREATE INDEX list_roles_email ON list_roles (email);
