-- The symptom assistant's idempotency key: the id the browser gives each message it sends.
-- Sending the same message twice (a double tap, a retry after a dropped connection) finds
-- the message already stored instead of storing it again. NULL for assistant messages; both
-- engines let a unique index hold many NULLs.
ALTER TABLE conversation_messages ADD COLUMN client_message_id TEXT;
CREATE UNIQUE INDEX conversation_messages_client_id
    ON conversation_messages (client_message_id);
