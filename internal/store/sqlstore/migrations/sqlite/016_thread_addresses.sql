-- The addresses a gateway's conversation may be answered to (DESIGN
-- §4.3): those its signed or encrypted mail binds (the verified signer,
-- the protected From, Reply-To, To and Cc), and the recipients of the
-- helpdesk's replies before the conversation was encrypted. In an
-- encrypted, guarded conversation a reply to another address is refused:
-- a captured ciphertext resent under someone else's address must not be
-- answered to them. threads.guarded is set by the first message that
-- arrives after this version: conversations from before are not
-- restricted until their next message.
ALTER TABLE threads ADD COLUMN guarded INTEGER NOT NULL DEFAULT 0;

CREATE TABLE thread_addresses (
    list_id INTEGER NOT NULL,
    thread  TEXT    NOT NULL,
    address TEXT    NOT NULL,
    PRIMARY KEY (list_id, thread, address),
    FOREIGN KEY (list_id, thread) REFERENCES threads (list_id, thread) ON DELETE CASCADE
) WITHOUT ROWID;
