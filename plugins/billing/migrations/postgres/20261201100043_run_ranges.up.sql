-- B5: a run's batch is a range of subscription ids (first_id to last_id, both included, in
-- the database's order) with the number of subscriptions it held when the run started,
-- instead of one row per subscription: a run starts in one statement whatever the number of
-- subscriptions, and a batch reads its subscriptions by a range of the primary key. A batch
-- cut before this keeps its subscriptions: its range runs from its first to its last.
ALTER TABLE billing_run_batches ADD COLUMN first_id TEXT NOT NULL DEFAULT '';
ALTER TABLE billing_run_batches ADD COLUMN last_id TEXT NOT NULL DEFAULT '';
ALTER TABLE billing_run_batches ADD COLUMN subs INTEGER NOT NULL DEFAULT 0;
UPDATE billing_run_batches SET
    first_id = COALESCE((SELECT MIN(ri.subscription_id) FROM billing_run_items ri
        WHERE ri.tenant_id = billing_run_batches.tenant_id AND ri.run_id = billing_run_batches.run_id AND ri.batch = billing_run_batches.batch), ''),
    last_id = COALESCE((SELECT MAX(ri.subscription_id) FROM billing_run_items ri
        WHERE ri.tenant_id = billing_run_batches.tenant_id AND ri.run_id = billing_run_batches.run_id AND ri.batch = billing_run_batches.batch), ''),
    subs = (SELECT COUNT(*) FROM billing_run_items ri
        WHERE ri.tenant_id = billing_run_batches.tenant_id AND ri.run_id = billing_run_batches.run_id AND ri.batch = billing_run_batches.batch);
DROP TABLE billing_run_items;

-- B5: a batch finds each subscription's last invoiced period (final invoices aside) from
-- this index alone.
CREATE INDEX billing_invoices_last ON billing_invoices (tenant_id, subscription_id, period_start) WHERE kind = 'invoice' AND NOT final;
