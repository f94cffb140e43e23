-- E4: the cart lines removed because their hold ran out, until the customer's next cart view
-- tells him which (then they are deleted).
CREATE TABLE eshop_cart_lapsed (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    dependant_id TEXT NOT NULL DEFAULT '',
    starts_at    TIMESTAMP NOT NULL,
    lapsed_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX eshop_cart_lapsed_user ON eshop_cart_lapsed (tenant_id, user_id);
