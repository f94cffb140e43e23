-- B3, B5: each subscription's calls and SMS per billing period (period_start: the period's
-- first day), kept by the ingestion in the transaction that stores the events, so that a
-- billing run reads a row per subscription and kind instead of the period's events.
CREATE TABLE billing_usage_counts (
    tenant_id       TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    period_start    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id, period_start, kind),
    CHECK (kind IN ('call', 'sms')),
    CHECK (n >= 0)
);

-- An event stored before the counters existed is in none of them (counted false): it is
-- still counted from the events themselves, through an index that holds those alone.
ALTER TABLE billing_usage ADD COLUMN counted BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX billing_usage_uncounted ON billing_usage (tenant_id, subscription_id, occurred_at, kind) WHERE NOT counted;
