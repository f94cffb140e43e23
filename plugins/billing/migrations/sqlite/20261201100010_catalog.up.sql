-- B4 (catalog part): a tenant's first tariff may be put in force at once, without notice,
-- since no client had any price before it. This row, one per tenant, is the guard: of two
-- clerks putting two drafts in force at the same moment, only one insert succeeds.
CREATE TABLE billing_first_tariff (
    tenant_id  TEXT NOT NULL,
    tariff_id  TEXT NOT NULL,
    put_by     TEXT NOT NULL DEFAULT '',
    put_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id)
);
