CREATE TABLE maintenance_windows (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    announced   BOOLEAN NOT NULL DEFAULT FALSE,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
--bun:split
ALTER TABLE maintenance_windows ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE maintenance_windows FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON maintenance_windows USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
