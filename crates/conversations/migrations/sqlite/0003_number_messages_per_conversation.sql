-- A message's `seq` was the table's row id: one counter across every workspace, so a customer
-- could read the whole installation's traffic off the numbers in their own transcript. Number
-- messages within their conversation instead (1, 2, 3 …); the row id stays the internal order.
-- Feedback named its message by row id: it now names it by that number too.
ALTER TABLE messages ADD COLUMN conversation_seq INTEGER;
UPDATE messages SET conversation_seq = (
    SELECT COUNT(*) FROM messages AS earlier
    WHERE earlier.conversation_id = messages.conversation_id AND earlier.seq <= messages.seq
);
CREATE UNIQUE INDEX messages_by_conversation_seq ON messages (conversation_id, conversation_seq);
UPDATE feedback SET message_seq = (
    SELECT conversation_seq FROM messages WHERE messages.seq = feedback.message_seq
) WHERE message_seq IS NOT NULL;
