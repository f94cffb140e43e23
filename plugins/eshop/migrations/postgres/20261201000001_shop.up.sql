-- The shop's shared tables (E1, E3, E4): the catalog, the collection points, the places of
-- each slot, the holds on them, the cart, the orders and their items. Money is in minor units
-- (cents) of the tenant's currency.

-- E1: a laboratory test or a package of tests. price_minor is the price the catalog shows;
-- vat_included marks the prices that include VAT at the tenant's rate (the others are
-- exempt). suitable_from_6: the test may be done from the rule's lower age, else from the
-- default one. voucher_sellable: it can be bought as a test voucher (E14.f).
CREATE TABLE eshop_categories (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE eshop_items (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    kind             TEXT NOT NULL,
    code             TEXT NOT NULL DEFAULT '',
    category_id      TEXT NOT NULL DEFAULT '',
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    preparation      TEXT NOT NULL DEFAULT '',
    info             TEXT NOT NULL DEFAULT '',
    consent_text     TEXT NOT NULL DEFAULT '',
    price_minor      BIGINT NOT NULL,
    vat_included     BOOLEAN NOT NULL DEFAULT FALSE,
    tat_days         INTEGER NOT NULL,
    suitable_from_6  BOOLEAN NOT NULL DEFAULT FALSE,
    voucher_sellable BOOLEAN NOT NULL DEFAULT FALSE,
    search_key       TEXT NOT NULL DEFAULT '',
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    withdrawn_at     TIMESTAMPTZ NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (kind IN ('test', 'package')),
    CHECK (price_minor >= 0),
    CHECK (tat_days >= 0)
);
CREATE INDEX eshop_items_category ON eshop_items (tenant_id, category_id, name);
CREATE TABLE eshop_package_tests (
    tenant_id  TEXT NOT NULL,
    package_id TEXT NOT NULL,
    test_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, package_id, test_id)
);

-- E3: a collection point, its weekly hours and the days that differ (exceptions).
CREATE TABLE eshop_points (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    street        TEXT NOT NULL DEFAULT '',
    town          TEXT NOT NULL DEFAULT '',
    postcode      TEXT NOT NULL DEFAULT '',
    building      TEXT NOT NULL DEFAULT '',
    floor         TEXT NOT NULL DEFAULT '',
    room          TEXT NOT NULL DEFAULT '',
    latitude      DOUBLE PRECISION NULL,
    longitude     DOUBLE PRECISION NULL,
    phone         TEXT NOT NULL DEFAULT '',
    directions    TEXT NOT NULL DEFAULT '',
    site_plan     TEXT NOT NULL DEFAULT '',
    slot_minutes  INTEGER NOT NULL,
    capacity      INTEGER NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (slot_minutes BETWEEN 5 AND 240),
    CHECK (capacity BETWEEN 1 AND 1000)
);
CREATE TABLE eshop_point_hours (
    tenant_id TEXT NOT NULL,
    point_id  TEXT NOT NULL,
    weekday   INTEGER NOT NULL,
    opens     TEXT NOT NULL,
    closes    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, point_id, weekday, opens),
    CHECK (weekday BETWEEN 0 AND 6),
    CHECK (opens < closes)
);
CREATE TABLE eshop_point_exceptions (
    tenant_id TEXT NOT NULL,
    point_id  TEXT NOT NULL,
    day       TEXT NOT NULL,
    closed    BOOLEAN NOT NULL DEFAULT TRUE,
    opens     TEXT NOT NULL DEFAULT '',
    closes    TEXT NOT NULL DEFAULT '',
    note      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, point_id, day)
);

-- E4: the places of one slot of a point. taken counts the live holds; the check keeps it
-- within the capacity the slot was opened with, so a guarded increment can never overfill it
-- whatever the concurrency.
CREATE TABLE eshop_slot_load (
    tenant_id TEXT NOT NULL,
    point_id  TEXT NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL,
    capacity  INTEGER NOT NULL,
    taken     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, point_id, starts_at),
    CHECK (taken >= 0 AND taken <= capacity)
);
-- A hold on one place of a slot: a cart item's (until expires_at), an order's, or a
-- rescheduling offer's. Releasing it deletes the row and gives the place back in the same
-- transaction.
CREATE TABLE eshop_holds (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    point_id   TEXT NOT NULL,
    starts_at  TIMESTAMPTZ NOT NULL,
    purpose    TEXT NOT NULL,
    ref_id     TEXT NOT NULL DEFAULT '',
    user_id    TEXT NOT NULL DEFAULT '',
    expires_at TIMESTAMPTZ NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (purpose IN ('cart', 'order', 'offer'))
);
CREATE INDEX eshop_holds_expiry ON eshop_holds (tenant_id, expires_at);
CREATE INDEX eshop_holds_ref ON eshop_holds (tenant_id, ref_id);

-- E4: a cart line: an item for a person at a point and slot, its place held until expires_at.
CREATE TABLE eshop_cart_items (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    dependant_id TEXT NOT NULL DEFAULT '',
    point_id     TEXT NOT NULL,
    starts_at    TIMESTAMPTZ NOT NULL,
    hold_id      TEXT NOT NULL DEFAULT '',
    added_at     TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX eshop_cart_items_user ON eshop_cart_items (tenant_id, user_id);

-- E4–E6: an order, binding once submitted, with what the customer gave and accepted. Its
-- items keep the prices and texts of the catalog at submission (E6).
CREATE TABLE eshop_orders (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    number           TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    status           TEXT NOT NULL,
    locale           TEXT NOT NULL DEFAULT '',
    buyer_name       TEXT NOT NULL,
    email            TEXT NOT NULL,
    mobile           TEXT NOT NULL DEFAULT '',
    address          TEXT NOT NULL DEFAULT '',
    billing_name     TEXT NOT NULL DEFAULT '',
    billing_address  TEXT NOT NULL DEFAULT '',
    terms_version    TEXT NOT NULL DEFAULT '',
    consents         TEXT NOT NULL DEFAULT '',
    declarations     TEXT NOT NULL DEFAULT '',
    currency         TEXT NOT NULL,
    total_minor      BIGINT NOT NULL,
    voucher_minor    BIGINT NOT NULL DEFAULT 0,
    due_minor        BIGINT NOT NULL,
    submitted_at     TIMESTAMPTZ NOT NULL,
    pay_by           TIMESTAMPTZ NOT NULL,
    overdue_at       TIMESTAMPTZ NULL,
    invite_deadline  TIMESTAMPTZ NULL,
    paid_at          TIMESTAMPTZ NULL,
    cancelled_at     TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (status IN ('submitted', 'overdue', 'paid', 'cancelled', 'withdrawn', 'completed')),
    CHECK (voucher_minor >= 0 AND due_minor >= 0 AND total_minor = voucher_minor + due_minor)
);
CREATE UNIQUE INDEX eshop_orders_number ON eshop_orders (tenant_id, number);
CREATE INDEX eshop_orders_user ON eshop_orders (tenant_id, user_id, submitted_at);
CREATE INDEX eshop_orders_status ON eshop_orders (tenant_id, status, pay_by);

CREATE TABLE eshop_order_items (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    order_id           TEXT NOT NULL,
    item_id            TEXT NOT NULL,
    kind               TEXT NOT NULL,
    name               TEXT NOT NULL,
    preparation        TEXT NOT NULL DEFAULT '',
    consent_text       TEXT NOT NULL DEFAULT '',
    price_minor        BIGINT NOT NULL,
    vat_percent        INTEGER NOT NULL DEFAULT 0,
    fee_minor          BIGINT NOT NULL,
    fee_vat_percent    INTEGER NOT NULL DEFAULT 0,
    voucher_minor      BIGINT NOT NULL DEFAULT 0,
    tat_days           INTEGER NOT NULL,
    dependant_id       TEXT NOT NULL DEFAULT '',
    person_name        TEXT NOT NULL,
    person_birth_date  TEXT NOT NULL DEFAULT '',
    person_national_id TEXT NOT NULL DEFAULT '',
    relationship       TEXT NOT NULL DEFAULT '',
    point_id           TEXT NOT NULL,
    starts_at          TIMESTAMPTZ NOT NULL,
    hold_id            TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL DEFAULT 'booked',
    rescheduled        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX eshop_order_items_order ON eshop_order_items (tenant_id, order_id);
CREATE INDEX eshop_order_items_slot ON eshop_order_items (tenant_id, point_id, starts_at);
