-- B6: the French legal interest rate for creditors who are not private persons, per
-- half-year (from 1 January or 1 July), in hundredths of a percent (2,62 % = 262).
CREATE TABLE billing_legal_rates (
    tenant_id   TEXT NOT NULL,
    starts_on   TEXT NOT NULL,
    rate_bp     INTEGER NOT NULL,
    updated_by  TEXT NOT NULL DEFAULT '',
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, starts_on),
    CHECK (rate_bp >= 0)
);

-- B5: a credit line of an imported bank statement no invoice was found for, kept for the
-- clerk to assign by hand or ignore; source_key (a hash of the line) makes it count once.
CREATE TABLE billing_bank_lines (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    booked_on    TEXT NOT NULL,
    label        TEXT NOT NULL,
    reference    TEXT NOT NULL DEFAULT '',
    amount_minor INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'open',
    payment_id   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, source_key),
    CHECK (state IN ('open', 'assigned', 'ignored'))
);

-- B6: a formal notice to pay (mise en demeure) sent for a subscription's late invoices: the
-- letter as sent (a blob), when; the decision taken after it (suspended, terminated).
CREATE TABLE billing_notices (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    invoice_ids     TEXT NOT NULL,
    unpaid_minor    INTEGER NOT NULL,
    sent_at         TIMESTAMP NOT NULL,
    sent_on         TEXT NOT NULL,
    blob_id         TEXT NOT NULL DEFAULT '',
    sent_by         TEXT NOT NULL DEFAULT '',
    outcome         TEXT NOT NULL DEFAULT '',
    decided_at      TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX billing_notices_sub ON billing_notices (tenant_id, subscription_id, sent_at);

-- B6: a credit note set against an invoice — only for a subscription whose special
-- conditions agree to set-off in writing (set_off_agreed); no set-off by the client otherwise.
CREATE TABLE billing_setoffs (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    credit_note_id TEXT NOT NULL,
    invoice_id     TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL,
    set_on         TEXT NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (amount_minor > 0)
);
CREATE INDEX billing_setoffs_credit ON billing_setoffs (tenant_id, credit_note_id);
