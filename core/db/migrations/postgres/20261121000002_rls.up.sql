-- Row-level security: every tenant-owned table only shows and accepts the rows of the
-- tenant named by app.tenant_id, which the core sets with set_config(..., true) (SET LOCAL)
-- at the start of each transaction. FORCE makes the rule hold for the owner too.
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_modules','users','sessions','user_tokens','account_deletions','outbox','rate_limits'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
    END LOOP;
END $$;
--bun:split
-- Casbin rules: a tenant reads its own rules and the platform-wide ones (domain '*'),
-- but writes only its own; platform-wide rules are written in the '*' scope.
ALTER TABLE casbin_rule ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE casbin_rule FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY casbin_read ON casbin_rule FOR SELECT
    USING (tenant_id = current_setting('app.tenant_id', true) OR tenant_id = '*');
--bun:split
CREATE POLICY casbin_insert ON casbin_rule FOR INSERT
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
--bun:split
CREATE POLICY casbin_update ON casbin_rule FOR UPDATE
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
--bun:split
CREATE POLICY casbin_delete ON casbin_rule FOR DELETE
    USING (tenant_id = current_setting('app.tenant_id', true));
