-- Retention (DESIGN §5): a delivered copy's message is removed after
-- [queue] keep_days and its row kept as a small record until
-- [queue] record_days. purged_at is when the message was removed (data is
-- then empty); 0 while it is kept.
ALTER TABLE deliveries ADD COLUMN purged_at BIGINT NOT NULL DEFAULT 0;
-- The daily purge finds finished deliveries by state and age.
CREATE INDEX deliveries_done ON deliveries (state, purged_at, updated_at);

-- Conversations untouched for [gateway] conversation_days are forgotten
-- (the daily purge scans the conversations: an index on updated_at would
-- cost every message of a gateway a page); deleting one deletes its
-- message-ids (ON DELETE CASCADE), which needs them indexed by
-- conversation.
CREATE INDEX thread_messages_thread ON thread_messages (list_id, thread);

-- Audit entries older than [audit] keep_days are deleted.
CREATE INDEX audit_at ON audit (at);
