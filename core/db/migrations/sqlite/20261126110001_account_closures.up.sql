-- What is kept of an account the operator closed (P2: inactivity) so that the person may
-- appeal (R6): his address, name, language and portal, for the tenant's appeal period and
-- while an appeal lodged in time waits for its decision; then the row is erased.
CREATE TABLE account_closures (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    email        TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    locale       TEXT NOT NULL DEFAULT '',
    portal       TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL,
    closed_at    TIMESTAMP NOT NULL,
    appeal_until TIMESTAMP NOT NULL,
    complaint_id TEXT NOT NULL DEFAULT '',
    decision     TEXT NOT NULL DEFAULT '',
    decided_at   TIMESTAMP,
    decided_by   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
);
--bun:split
CREATE INDEX account_closures_email ON account_closures (tenant_id, email);
