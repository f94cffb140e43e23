-- E4, E14.e: the discount codes a customer typed in his cart, applied when he submits it.
CREATE TABLE eshop_cart_codes (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    code      TEXT NOT NULL,
    added_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, user_id, code)
);

-- E4: the order numbers, per tenant and year: the last sequence given, raised by a guarded
-- update in the submitting transaction (the unique index on eshop_orders.number holds it too).
CREATE TABLE eshop_order_counters (
    tenant_id TEXT NOT NULL,
    year      INTEGER NOT NULL,
    last      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, year),
    CHECK (last >= 0)
);

CREATE INDEX eshop_cart_items_expiry ON eshop_cart_items (tenant_id, expires_at);
CREATE INDEX eshop_orders_invite ON eshop_orders (tenant_id, status, invite_deadline);
