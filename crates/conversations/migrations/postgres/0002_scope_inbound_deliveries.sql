-- Inbound webhook delivery ids were deduplicated on (source, delivery_id) alone, so one
-- workspace's id silenced another workspace's delivery with the same id. Key them on the
-- workspace too. Rows from before keep the empty workspace, which the store reads as any
-- workspace's until pruning removes them.
ALTER TABLE inbound_deliveries ADD COLUMN workspace TEXT NOT NULL DEFAULT '';
ALTER TABLE inbound_deliveries ALTER COLUMN workspace DROP DEFAULT;
ALTER TABLE inbound_deliveries DROP CONSTRAINT inbound_deliveries_pkey;
ALTER TABLE inbound_deliveries ADD PRIMARY KEY (workspace, source, delivery_id);
