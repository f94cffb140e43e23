-- People an account holder represents (P2, issue 12.9): minors, and adults deprived of or
-- restricted in legal capacity, as sub-accounts of his account, with the relationship and his
-- consent as their representative. They go with the account (ON DELETE CASCADE).
-- legal_status: "minor" (represented until the tenant's age of majority), "deprived" or
-- "restricted" (an adult under a court's protection measure).
CREATE TABLE dependants (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    birth_name    TEXT NOT NULL DEFAULT '',
    birth_date    TEXT NOT NULL,
    national_id   TEXT NOT NULL DEFAULT '',
    sex           TEXT NOT NULL DEFAULT '',
    nationality   TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    relationship  TEXT NOT NULL,
    legal_status  TEXT NOT NULL,
    consent_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX dependants_user ON dependants (tenant_id, user_id);
--bun:split
ALTER TABLE dependants ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE dependants FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON dependants USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
