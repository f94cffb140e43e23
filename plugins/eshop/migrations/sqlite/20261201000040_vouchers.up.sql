-- E14: gift vouchers. Money in minor units of the tenant's currency.

-- E14.f: the value-voucher denominations the shop manager offers. A voucher sold keeps its
-- own value: changing or withdrawing a denomination never touches it.
CREATE TABLE eshop_voucher_denominations (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    value_minor INTEGER NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (value_minor > 0)
);
CREATE UNIQUE INDEX eshop_voucher_denominations_value ON eshop_voucher_denominations (tenant_id, value_minor);

-- E14.d: a purchase "as a gift voucher", paid through the gateway; its vouchers are issued
-- once, when the payment is confirmed (status pending -> paid, guarded).
CREATE TABLE eshop_voucher_purchases (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    item_id        TEXT NOT NULL DEFAULT '',
    item_name      TEXT NOT NULL DEFAULT '',
    quantity       INTEGER NOT NULL,
    face_minor     INTEGER NOT NULL,
    price_minor    INTEGER NOT NULL,
    vat_percent    INTEGER NOT NULL DEFAULT 0,
    fee_minor      INTEGER NOT NULL DEFAULT 0,
    fee_vat_percent INTEGER NOT NULL DEFAULT 0,
    amount_minor   INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL,
    buyer_name     TEXT NOT NULL DEFAULT '',
    locale         TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    paid_at        TIMESTAMP NULL,
    mailed_at      TIMESTAMP NULL,
    invoice_number TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    CHECK (kind IN ('test', 'value')),
    CHECK (status IN ('pending', 'paid')),
    CHECK (quantity BETWEEN 1 AND 100),
    CHECK (face_minor > 0 AND amount_minor > 0)
);
CREATE INDEX eshop_voucher_purchases_user ON eshop_voucher_purchases (tenant_id, user_id, created_at);

-- E14.a/b: a voucher. Only the code's keyed hash is kept (code_hash); code_tail is its last
-- four characters, for the purchaser to tell his vouchers apart. A value voucher's balance
-- never goes below zero nor above its value (the check); a test voucher is used once (status
-- active -> used, guarded), and becomes usable again when its order is cancelled unpaid.
CREATE TABLE eshop_vouchers (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    origin          TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    code_tail       TEXT NOT NULL,
    purchase_id     TEXT NOT NULL DEFAULT '',
    purchaser_id    TEXT NOT NULL DEFAULT '',
    item_id         TEXT NOT NULL DEFAULT '',
    item_name       TEXT NOT NULL DEFAULT '',
    value_minor     INTEGER NOT NULL,
    balance_minor   INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL,
    used_order_id   TEXT NOT NULL DEFAULT '',
    compensates_id  TEXT NOT NULL DEFAULT '',
    issued_at       TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (kind IN ('test', 'value')),
    CHECK (origin IN ('purchase', 'compensation')),
    CHECK (status IN ('active', 'used', 'expired', 'compensated')),
    CHECK (value_minor > 0),
    CHECK (balance_minor >= 0 AND balance_minor <= value_minor),
    CHECK (kind = 'value' OR balance_minor = 0)
);
CREATE UNIQUE INDEX eshop_vouchers_code ON eshop_vouchers (tenant_id, code_hash);
CREATE INDEX eshop_vouchers_purchaser ON eshop_vouchers (tenant_id, purchaser_id);
CREATE INDEX eshop_vouchers_expiry ON eshop_vouchers (tenant_id, status, expires_at);

-- E14: each voucher's append-only ledger: issue, spend, give_back, expiry, compensation.
-- amount_minor is the signed change of the voucher's value (for a value voucher the entries
-- add up to its balance). Rows are never changed nor deleted (the triggers); an order's
-- spending is given back once, and a value expires once (the partial unique indexes; an
-- amount given back to a voucher already expired expires with the order's id).
CREATE TABLE eshop_voucher_ledger (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    voucher_id    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL,
    order_id      TEXT NOT NULL DEFAULT '',
    order_item_id TEXT NOT NULL DEFAULT '',
    at            TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (kind IN ('issue', 'spend', 'give_back', 'expiry', 'compensation'))
);
CREATE INDEX eshop_voucher_ledger_voucher ON eshop_voucher_ledger (tenant_id, voucher_id, at);
CREATE INDEX eshop_voucher_ledger_order ON eshop_voucher_ledger (tenant_id, order_id);
CREATE UNIQUE INDEX eshop_voucher_ledger_give_back ON eshop_voucher_ledger (tenant_id, voucher_id, order_id) WHERE kind = 'give_back';
CREATE UNIQUE INDEX eshop_voucher_ledger_expiry ON eshop_voucher_ledger (tenant_id, voucher_id, order_id) WHERE kind = 'expiry';
CREATE TRIGGER eshop_voucher_ledger_no_update BEFORE UPDATE ON eshop_voucher_ledger
BEGIN SELECT RAISE(ABORT, 'eshop_voucher_ledger is append-only'); END;
CREATE TRIGGER eshop_voucher_ledger_no_delete BEFORE DELETE ON eshop_voucher_ledger
BEGIN SELECT RAISE(ABORT, 'eshop_voucher_ledger is append-only'); END;

-- E14.d: the codes of a paid purchase until the purchaser saw them once on the confirmation
-- page and the e-mail went; then the row goes (a sweep removes any left after the rule's hours).
CREATE TABLE eshop_voucher_reveals (
    tenant_id   TEXT NOT NULL,
    voucher_id  TEXT NOT NULL,
    purchase_id TEXT NOT NULL,
    code        TEXT NOT NULL,
    shown       BOOLEAN NOT NULL DEFAULT FALSE,
    mailed      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, voucher_id)
);
CREATE INDEX eshop_voucher_reveals_purchase ON eshop_voucher_reveals (tenant_id, purchase_id);

-- E14: the tenant's pepper the codes are hashed with (HMAC-SHA-256), made on first use.
CREATE TABLE eshop_voucher_keys (
    tenant_id  TEXT NOT NULL,
    pepper     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- E14.e: tries of a code per account and per address in a window (a counting upsert).
CREATE TABLE eshop_voucher_tries (
    tenant_id    TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, bucket, window_start)
);
