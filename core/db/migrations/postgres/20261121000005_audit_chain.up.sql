ALTER TABLE audit_log ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
--bun:split
CREATE UNIQUE INDEX audit_log_seq ON audit_log (tenant_id, seq);
--bun:split
CREATE TABLE audit_heads (
    tenant_id   TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL
);
--bun:split
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON audit_heads USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
