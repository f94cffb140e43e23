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
    received_at      TIMESTAMPTZ NOT NULL,
    due_at           TIMESTAMPTZ NOT NULL,
    extended_days    INTEGER NOT NULL DEFAULT 0,
    extension_reason TEXT NOT NULL DEFAULT '',
    answered_at      TIMESTAMPTZ,
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
    data          BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, complaint_id) REFERENCES complaints (tenant_id, id) ON DELETE CASCADE
);
--bun:split
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['complaints','complaint_files'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
    END LOOP;
END $$;
