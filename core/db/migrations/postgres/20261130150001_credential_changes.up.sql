-- Credential changes the operator makes for technical reasons (P2, B10 [001 art. 3]): a new
-- login address and/or a password reset, announced to the holder at once and applied on the
-- effective day, after the tenant's notice in business days; cancellable until then. One
-- change waits per account at a time: the partial unique index decides between two admins.
CREATE TABLE credential_changes (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    new_email      TEXT NOT NULL DEFAULT '',
    reset_password BOOLEAN NOT NULL DEFAULT FALSE,
    reason         TEXT NOT NULL,
    status         TEXT NOT NULL,
    noticed_at     TIMESTAMPTZ NOT NULL,
    effective_at   TIMESTAMPTZ NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    done_at        TIMESTAMPTZ,
    done_by        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
CREATE UNIQUE INDEX credential_changes_waiting ON credential_changes (tenant_id, user_id) WHERE status = 'scheduled';
--bun:split
CREATE INDEX credential_changes_due ON credential_changes (tenant_id, effective_at) WHERE status = 'scheduled';
--bun:split
ALTER TABLE credential_changes ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE credential_changes FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON credential_changes USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
