-- B5: billing runs. A run invoices, for one day, every subscription whose period starting on
-- or before that day has no invoice yet (catch-up after downtime). Its items are the
-- subscriptions it covers; a worker claims a batch of them by a guarded update in the
-- transaction that invoices them, so that two workers (or two instances) never take the same
-- subscription, and a worker that dies gives its batch back with its rolled-back transaction.
-- The batches are cut when the run starts (billing.run_batch_size subscriptions each).
CREATE TABLE billing_runs (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    run_on       TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'running',
    total        INTEGER NOT NULL DEFAULT 0,
    done         INTEGER NOT NULL DEFAULT 0,
    invoiced     INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    started_by   TEXT NOT NULL DEFAULT '',
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (state IN ('running', 'stopped', 'done')),
    CHECK (done >= 0 AND done <= total)
);
CREATE INDEX billing_runs_started ON billing_runs (tenant_id, started_at);

CREATE TABLE billing_run_items (
    tenant_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    batch           INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, run_id, subscription_id)
);
CREATE INDEX billing_run_items_batch ON billing_run_items (tenant_id, run_id, batch);

-- the run's batches, each claimed once (done: a worker took it)
CREATE TABLE billing_run_batches (
    tenant_id TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    batch     INTEGER NOT NULL,
    done      BOOLEAN NOT NULL DEFAULT FALSE,
    worker    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, run_id, batch)
);

