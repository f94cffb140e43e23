-- The collection point's work (E7, E8, E9, E13).

-- E7: a customer's request to move one appointment of his order (the items of the order at
-- one point and time). One per order, whatever its outcome: the unique key holds it.
-- status: requested → refused | offered → accepted | lapsed. The three offered times are
-- held as holds of purpose 'offer' whose ref_id is the request's id until picked or lapsed.
CREATE TABLE eshop_reschedules (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    order_id         TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    point_id         TEXT NOT NULL,
    original_at      TIMESTAMPTZ NOT NULL,
    reasons          TEXT NOT NULL,
    preferences      TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    requested_at     TIMESTAMPTZ NOT NULL,
    answer_by        TIMESTAMPTZ NOT NULL,
    decided_by       TEXT NOT NULL DEFAULT '',
    decided_at       TIMESTAMPTZ NULL,
    refusal          TEXT NOT NULL DEFAULT '',
    offer_1          TIMESTAMPTZ NULL,
    offer_2          TIMESTAMPTZ NULL,
    offer_3          TIMESTAMPTZ NULL,
    pick_by          TIMESTAMPTZ NULL,
    picked_at        TIMESTAMPTZ NULL,
    new_at           TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (status IN ('requested', 'refused', 'offered', 'accepted', 'lapsed'))
);
CREATE UNIQUE INDEX eshop_reschedules_order ON eshop_reschedules (tenant_id, order_id);
CREATE INDEX eshop_reschedules_status ON eshop_reschedules (tenant_id, status, pick_by);

-- E8, E9: what the staff recorded of one order item at the collection point: the checks
-- before sampling (who, when), the arrival, and the outcome (sampled, no-show, refused, late
-- refused) with its reason.
CREATE TABLE eshop_attendance (
    tenant_id              TEXT NOT NULL,
    item_id                TEXT NOT NULL,
    order_id               TEXT NOT NULL,
    arrived_at             TIMESTAMPTZ NULL,
    on_time                BOOLEAN NOT NULL DEFAULT FALSE,
    identity_checked       BOOLEAN NOT NULL DEFAULT FALSE,
    representative_checked BOOLEAN NOT NULL DEFAULT FALSE,
    representative_right   BOOLEAN NOT NULL DEFAULT FALSE,
    instructions_given     BOOLEAN NOT NULL DEFAULT FALSE,
    consent_signed         BOOLEAN NOT NULL DEFAULT FALSE,
    checked_in_by          TEXT NOT NULL DEFAULT '',
    checked_in_at          TIMESTAMPTZ NULL,
    outcome                TEXT NOT NULL DEFAULT '',
    reason                 TEXT NOT NULL DEFAULT '',
    note                   TEXT NOT NULL DEFAULT '',
    forfeited              BOOLEAN NOT NULL DEFAULT FALSE,
    outcome_by             TEXT NOT NULL DEFAULT '',
    outcome_at             TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, item_id)
);

-- E8: the lab's cancellation of an item's slot, with the alternative it held.
CREATE TABLE eshop_lab_cancellations (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    original_at  TIMESTAMPTZ NOT NULL,
    new_at       TIMESTAMPTZ NOT NULL,
    within_tolerance BOOLEAN NOT NULL DEFAULT FALSE,
    reason       TEXT NOT NULL,
    decided_by   TEXT NOT NULL,
    decided_at   TIMESTAMPTZ NOT NULL,
    notified_at  TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX eshop_lab_cancellations_item ON eshop_lab_cancellations (tenant_id, item_id);

-- E9, E13: the lab's withdrawal from an order, once: effective when its notice went to the
-- customer's login e-mail (notice_sent_at); forfeited when for the customer's reasons.
CREATE TABLE eshop_withdrawals (
    tenant_id      TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    customer_fault BOOLEAN NOT NULL,
    forfeit_minor  BIGINT NOT NULL DEFAULT 0,
    refund_minor   BIGINT NOT NULL DEFAULT 0,
    decided_by     TEXT NOT NULL,
    decided_at     TIMESTAMPTZ NOT NULL,
    notice_sent_at TIMESTAMPTZ NULL,
    message_id     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, order_id),
    CHECK (forfeit_minor >= 0 AND refund_minor >= 0)
);

-- E13: a period of force majeure the lab recorded; its customers are told within the rule's
-- working days (notified_at once every notice went), every deadline extended by its length.
CREATE TABLE eshop_force_majeure (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    description TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    notify_by   TIMESTAMPTZ NOT NULL,
    notified_at TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (starts_at < ends_at)
);
-- One notice per period and order: whoever inserts it sends.
CREATE TABLE eshop_force_majeure_notices (
    tenant_id TEXT NOT NULL,
    period_id TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    sent_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, period_id, order_id)
);
