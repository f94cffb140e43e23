-- B1–B8: the shared records of secretariat billing. Money is in minor units (cents) of the
-- tenant's currency, excluding VAT unless named otherwise; calendar dates are 'YYYY-MM-DD'
-- text in the tenant's time zone (an anniversary is a day, not an instant). Each part of the
-- module adds its own tables in its own migrations.

-- B1–B3: what the firm sells. A plan has a monthly fee and allowances; an option a monthly
-- fee. Prices live in tariffs (B4), each with the date it takes effect.
CREATE TABLE billing_products (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    kind           TEXT NOT NULL,
    code           TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    calls_included INTEGER NOT NULL DEFAULT 0,
    sms_included   INTEGER NOT NULL DEFAULT 0,
    position       INTEGER NOT NULL DEFAULT 0,
    withdrawn_at   TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    CHECK (kind IN ('plan', 'option')),
    CHECK (calls_included >= 0 AND sms_included >= 0)
);

CREATE TABLE billing_tariffs (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    effective_on   TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'draft',
    announced_at   TIMESTAMPTZ NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (state IN ('draft', 'announced', 'in_force'))
);
CREATE INDEX billing_tariffs_effective ON billing_tariffs (tenant_id, state, effective_on);

CREATE TABLE billing_prices (
    tenant_id         TEXT NOT NULL,
    tariff_id         TEXT NOT NULL,
    product_id        TEXT NOT NULL,
    monthly_fee_minor BIGINT NOT NULL DEFAULT 0,
    call_minor        BIGINT NOT NULL DEFAULT 0,
    sms_minor         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, tariff_id, product_id),
    CHECK (monthly_fee_minor >= 0 AND call_minor >= 0 AND sms_minor >= 0)
);

-- B1, B2: a client's subscription. The client is a business (a doctor or a practice): the
-- invoice names it. phone_number is the dedicated number telephony events are matched by.
CREATE TABLE billing_subscriptions (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    reference         TEXT NOT NULL,
    user_id           TEXT NOT NULL DEFAULT '',
    state             TEXT NOT NULL DEFAULT 'pending',
    client_name       TEXT NOT NULL,
    contact_name      TEXT NOT NULL DEFAULT '',
    email             TEXT NOT NULL,
    locale            TEXT NOT NULL DEFAULT '',
    legal_id          TEXT NOT NULL DEFAULT '',
    vat_id            TEXT NOT NULL DEFAULT '',
    street            TEXT NOT NULL DEFAULT '',
    postcode          TEXT NOT NULL DEFAULT '',
    city              TEXT NOT NULL DEFAULT '',
    country           TEXT NOT NULL DEFAULT '',
    phone_number      TEXT NOT NULL,
    plan_id           TEXT NOT NULL,
    hours             TEXT NOT NULL DEFAULT '',
    special_conditions TEXT NOT NULL DEFAULT '',
    set_off_agreed    BOOLEAN NOT NULL DEFAULT FALSE,
    order_form_ref    TEXT NOT NULL DEFAULT '',
    payment_method    TEXT NOT NULL DEFAULT 'transfer',
    mandate_ref       TEXT NOT NULL DEFAULT '',
    starts_on         TEXT NOT NULL DEFAULT '',
    ends_on           TEXT NOT NULL DEFAULT '',
    terms_version     TEXT NOT NULL DEFAULT '',
    terms_accepted_at TIMESTAMPTZ NULL,
    signed_at         TIMESTAMPTZ NULL,
    suspended_at      TIMESTAMPTZ NULL,
    created_by        TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, reference),
    CHECK (state IN ('pending', 'active', 'suspended', 'terminated')),
    CHECK (payment_method IN ('debit', 'cheque', 'transfer')),
    CHECK (payment_method <> 'debit' OR mandate_ref <> '')
);
-- one live subscription per dedicated number (B3: usage is matched by it)
CREATE UNIQUE INDEX billing_subscriptions_phone ON billing_subscriptions (tenant_id, phone_number) WHERE state <> 'terminated';
CREATE INDEX billing_subscriptions_user ON billing_subscriptions (tenant_id, user_id);
CREATE INDEX billing_subscriptions_state ON billing_subscriptions (tenant_id, state, starts_on);

CREATE TABLE billing_subscription_options (
    tenant_id       TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    product_id      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id, product_id)
);

-- B1: the specification (cahier des charges) and its amendments, versioned; never edited.
CREATE TABLE billing_specifications (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    version         INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    effective_on    TEXT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, subscription_id, version),
    CHECK (kind IN ('specification', 'amendment'))
);

-- B3: call and SMS events from the telephony platform; the platform's event id is the key,
-- so the same event counts once.
CREATE TABLE billing_usage (
    tenant_id       TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    duration_s      INTEGER NOT NULL DEFAULT 0,
    recording_ref   TEXT NOT NULL DEFAULT '',
    received_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, event_id),
    CHECK (kind IN ('call', 'sms')),
    CHECK (duration_s >= 0)
);
-- covering: a period's calls and SMS are counted from the index alone (B5, runs)
CREATE INDEX billing_usage_period ON billing_usage (tenant_id, subscription_id, occurred_at, kind);

-- B5: invoices and credit notes. number is given at issue (drafts have none), without gaps
-- per tenant and year; an invoice for a subscription's period exists once.
CREATE TABLE billing_invoice_counters (
    tenant_id TEXT NOT NULL,
    year      INTEGER NOT NULL,
    last      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, year),
    CHECK (last >= 0)
);

CREATE TABLE billing_invoices (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    kind              TEXT NOT NULL DEFAULT 'invoice',
    subscription_id   TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'draft',
    number            TEXT NULL,
    year              INTEGER NULL,
    seq               INTEGER NULL,
    period_start      TEXT NOT NULL,
    period_end        TEXT NOT NULL,
    issued_on         TEXT NOT NULL DEFAULT '',
    due_on            TEXT NOT NULL DEFAULT '',
    credits_id        TEXT NOT NULL DEFAULT '',
    tariff_id         TEXT NOT NULL DEFAULT '',
    final             BOOLEAN NOT NULL DEFAULT FALSE,
    currency          TEXT NOT NULL,
    locale            TEXT NOT NULL,
    net_minor         BIGINT NOT NULL DEFAULT 0,
    vat_minor         BIGINT NOT NULL DEFAULT 0,
    total_minor       BIGINT NOT NULL DEFAULT 0,
    paid_minor        BIGINT NOT NULL DEFAULT 0,
    paid_on           TEXT NOT NULL DEFAULT '',
    parties           TEXT NOT NULL DEFAULT '',
    pdf_blob          TEXT NOT NULL DEFAULT '',
    run_id            TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    issued_at         TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, year, seq),
    CHECK (kind IN ('invoice', 'credit_note')),
    CHECK (state IN ('draft', 'issued', 'paid', 'credited')),
    CHECK ((state = 'draft') = (number IS NULL)),
    CHECK (paid_minor >= 0)
);
-- one invoice per subscription and period (a second billing instance cannot add another)
CREATE UNIQUE INDEX billing_invoices_period ON billing_invoices (tenant_id, subscription_id, period_start) WHERE kind = 'invoice';
CREATE INDEX billing_invoices_sub ON billing_invoices (tenant_id, subscription_id, state);
CREATE INDEX billing_invoices_due ON billing_invoices (tenant_id, state, due_on);

CREATE TABLE billing_invoice_lines (
    tenant_id    TEXT NOT NULL,
    invoice_id   TEXT NOT NULL,
    position     INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    description  TEXT NOT NULL,
    quantity     INTEGER NOT NULL,
    unit_minor   BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    vat_percent  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id, position)
);

-- B5, B6: payments received (direct debit with its mandate, cheque, transfer), each against
-- one invoice; no set-off by the client.
CREATE TABLE billing_payments (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    invoice_id   TEXT NOT NULL,
    method       TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    received_on  TEXT NOT NULL,
    reference    TEXT NOT NULL DEFAULT '',
    source_key   TEXT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, source_key),
    CHECK (method IN ('debit', 'cheque', 'transfer')),
    CHECK (amount_minor > 0)
);
CREATE INDEX billing_payments_invoice ON billing_payments (tenant_id, invoice_id);
