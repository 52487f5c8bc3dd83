-- A message's `seq` was the table's identity: one counter across every workspace, so a customer
-- could read the whole installation's traffic off the numbers in their own transcript. Number
-- messages within their conversation instead (1, 2, 3 …); the identity stays the internal order.
-- Feedback named its message by identity: it now names it by that number too.
ALTER TABLE messages ADD COLUMN conversation_seq BIGINT;
UPDATE messages SET conversation_seq = numbered.n
FROM (
    SELECT seq, ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY seq) AS n FROM messages
) AS numbered
WHERE messages.seq = numbered.seq;
ALTER TABLE messages ALTER COLUMN conversation_seq SET NOT NULL;
CREATE UNIQUE INDEX messages_by_conversation_seq ON messages (conversation_id, conversation_seq);
UPDATE feedback SET message_seq = messages.conversation_seq
FROM messages
WHERE feedback.message_seq IS NOT NULL AND messages.seq = feedback.message_seq;
