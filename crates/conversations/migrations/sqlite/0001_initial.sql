-- The first versioned schema: the tables as they were before versions were recorded, so a store
-- created then adopts this version as it is (every statement is IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    customer TEXT NOT NULL,
    handoff_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_workspace
    ON conversations (workspace, created_at);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    role TEXT NOT NULL,
    author TEXT,
    text TEXT NOT NULL,
    decision TEXT,
    reason TEXT,
    confidence REAL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, seq);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    message_seq INTEGER,
    rating TEXT,
    comment TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_by_conversation ON feedback (conversation_id);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_by_workspace ON outbox (workspace, created_at);
CREATE INDEX IF NOT EXISTS outbox_by_conversation ON outbox (conversation_id, status);
CREATE TABLE IF NOT EXISTS inbound_deliveries (
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
CREATE TABLE IF NOT EXISTS external_conversations (
    workspace TEXT NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    PRIMARY KEY (workspace, source, external_id)
);
CREATE INDEX IF NOT EXISTS external_by_conversation ON external_conversations (conversation_id);
CREATE TABLE IF NOT EXISTS disabled_endpoints (
    workspace TEXT NOT NULL,
    url TEXT NOT NULL,
    reason TEXT NOT NULL,
    disabled_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, url)
);
