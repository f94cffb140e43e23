-- E5, E14.d: payments through a gateway, the payment events applied (each once: its id is
-- the key), and the invoices with their numbers without gaps per tenant and year.
CREATE TABLE eshop_payments (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    ref_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    locale       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'pending',
    gateway      TEXT NOT NULL,
    gateway_ref  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    paid_at      TIMESTAMPTZ NULL,
    fulfil_lease TIMESTAMPTZ NULL,
    fulfilled_at TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, gateway, gateway_ref),
    CHECK (purpose IN ('order', 'voucher')),
    CHECK (status IN ('pending', 'paid', 'failed')),
    CHECK (amount_minor > 0)
);
CREATE INDEX eshop_payments_ref ON eshop_payments (tenant_id, purpose, ref_id);
CREATE INDEX eshop_payments_unfulfilled ON eshop_payments (tenant_id, status, fulfilled_at);

CREATE TABLE eshop_payment_events (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    payment_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE eshop_invoice_counters (
    tenant_id TEXT NOT NULL,
    year      INTEGER NOT NULL,
    last      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, year),
    CHECK (last >= 0)
);

CREATE TABLE eshop_invoices (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    number      TEXT NOT NULL,
    year        INTEGER NOT NULL,
    seq         BIGINT NOT NULL,
    purpose     TEXT NOT NULL,
    ref_id      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    locale      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    pdf         BYTEA NOT NULL,
    issued_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, year, seq),
    UNIQUE (tenant_id, purpose, ref_id)
);
CREATE INDEX eshop_invoices_user ON eshop_invoices (tenant_id, user_id);
