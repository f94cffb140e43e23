-- R3a: API keys a tenant admin creates for machines. Only the SHA-256 of the secret is
-- stored; permissions is the JSON list of module permissions the key may use.
CREATE TABLE api_keys (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    permissions   JSONB NOT NULL DEFAULT '[]',
    created_by    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
--bun:split
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON api_keys USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
