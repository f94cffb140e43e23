CREATE TABLE message_templates (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    template    TEXT NOT NULL,
    locale      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, template, locale)
);
--bun:split
ALTER TABLE message_templates ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE message_templates FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON message_templates USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
