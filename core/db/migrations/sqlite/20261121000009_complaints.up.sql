CREATE TABLE complaints (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    reference        TEXT NOT NULL,
    module           TEXT NOT NULL,
    category         TEXT NOT NULL,
    body             TEXT NOT NULL,
    reply_to         TEXT NOT NULL,
    client_ref       TEXT NOT NULL DEFAULT '',
    user_id          TEXT NOT NULL DEFAULT '',
    locale           TEXT NOT NULL,
    status           TEXT NOT NULL,
    received_at      TIMESTAMP NOT NULL,
    due_at           TIMESTAMP NOT NULL,
    extended_days    INTEGER NOT NULL DEFAULT 0,
    extension_reason TEXT NOT NULL DEFAULT '',
    answered_at      TIMESTAMP,
    answer           TEXT NOT NULL DEFAULT '',
    answered_by      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, reference)
);
--bun:split
CREATE TABLE complaint_files (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    complaint_id  TEXT NOT NULL,
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, complaint_id) REFERENCES complaints (tenant_id, id) ON DELETE CASCADE
);
