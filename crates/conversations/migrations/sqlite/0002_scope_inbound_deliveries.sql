-- Inbound webhook delivery ids were deduplicated on (source, delivery_id) alone, so one
-- workspace's id silenced another workspace's delivery with the same id. Key them on the
-- workspace too. Rows from before cannot be attributed to a workspace: they keep the empty
-- workspace, which the store reads as any workspace's until pruning removes them, so a sender's
-- retry of a delivery received before the upgrade still has no effect.
ALTER TABLE inbound_deliveries RENAME TO inbound_deliveries_unscoped;
CREATE TABLE inbound_deliveries (
    workspace TEXT NOT NULL,
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, source, delivery_id)
);
INSERT INTO inbound_deliveries (workspace, source, delivery_id, received_at)
    SELECT '', source, delivery_id, received_at FROM inbound_deliveries_unscoped;
DROP TABLE inbound_deliveries_unscoped;
