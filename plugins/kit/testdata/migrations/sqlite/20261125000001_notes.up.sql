CREATE TABLE kittest_events (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL DEFAULT '',
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
--bun:split
CREATE TABLE kittest_notes (
    tenant_id TEXT NOT NULL,
    id        TEXT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
