-- Signed checkpoints of each tenant's audit chain: the head (sequence, last record, hash)
-- signed with a key kept outside the database.
CREATE TABLE audit_checkpoints (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    record_id   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    at          TIMESTAMP NOT NULL,
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
