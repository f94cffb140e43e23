CREATE TABLE billing_events (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL DEFAULT '',
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
