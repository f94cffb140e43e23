-- Sign-in throttling without lock-out (P2): one row per account and address (ip = the
-- address's hash) counts the failed sign-ins of that address in its window and remembers
-- that the address once signed in; one row per account (ip = '') counts the account's
-- failures from anywhere, which set the growing delay before its next attempt is
-- evaluated. The account is named by the hash of its e-mail: no address is stored. Times
-- are Unix milliseconds, compared in guarded updates.
CREATE TABLE login_throttles (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account      TEXT NOT NULL,
    ip           TEXT NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    window_start BIGINT NOT NULL DEFAULT 0,
    last_failure BIGINT NOT NULL DEFAULT 0,
    succeeded    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, account, ip)
);
--bun:split
ALTER TABLE login_throttles ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE login_throttles FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON login_throttles USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
