-- Signed checkpoints of each tenant's audit chain: the head (sequence, last record, hash)
-- signed with a key kept outside the database. Append-only for the running platform.
CREATE TABLE audit_checkpoints (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    record_id   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
--bun:split
ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON audit_checkpoints USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
--bun:split
REVOKE UPDATE, DELETE ON audit_checkpoints FROM PUBLIC;
